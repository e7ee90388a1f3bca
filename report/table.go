package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/tollgate/tollgate/scanners"
)

// TableOptions tune the console report.
type TableOptions struct {
	// Quiet prints the verdict line only.
	Quiet bool
	// MaxTitle truncates long titles (0: 100 characters).
	MaxTitle int
}

// WriteTable writes the human report: findings grouped by severity, the
// engines' state and notifications, and a one-line verdict. Everything is
// escaped: no text from the scanned files can form a pipeline logging
// command. URLs are not redacted here: the notifications and warnings that
// carry URLs were redacted where the scan made them
// (Result.RedactNotifications), and a rule's title names a URL with
// credentials on purpose ("scheme://user:password@host").
func WriteTable(w io.Writer, s Scan, opt TableOptions) error {
	sw := NewEscapeWriter(w)
	if opt.MaxTitle <= 0 {
		opt.MaxTitle = 100
	}
	if !opt.Quiet {
		if err := writeFindings(sw, s, opt); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(sw, VerdictLine(s))
	return err
}

func writeFindings(w io.Writer, s Scan, opt TableOptions) error {
	bySev := map[scanners.Severity][]*scanners.Finding{}
	for ri := range s.Results {
		for fi := range s.Results[ri].Findings {
			f := &s.Results[ri].Findings[fi]
			if f.Suppressed() || f.BaselineState == scanners.BaselineAbsent {
				continue
			}
			bySev[f.Severity] = append(bySev[f.Severity], f)
		}
	}
	for sev := scanners.SeverityCritical; sev >= scanners.SeverityUnknown; sev-- {
		fs := bySev[sev]
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s (%d)\n", sev, len(fs))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range fs {
			mark := " "
			if s.Gate.Fails(f) {
				mark = "x"
			}
			state := ""
			if f.BaselineState != scanners.BaselineNone {
				state = " [" + string(f.BaselineState) + "]"
			}
			// Each cell is escaped before the tabwriter sees it: a tab, a
			// vertical tab, a form feed or a line break in a file name or a
			// rule ID of the checkout would otherwise start a new cell or a
			// new console line with the checkout's text (a forged verdict,
			// a runner command).
			fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s%s\n", mark, SafeText(f.Engine), SafeText(f.RuleID), SafeText(where(f)), truncate(SafeText(oneLine(f.Title)), opt.MaxTitle), state)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	for _, n := range s.Warnings {
		fmt.Fprintf(w, "config   %-7s %s\n", n.Level, oneLine(n.Message))
	}
	for _, r := range s.Results {
		fmt.Fprintf(w, "%-8s %s, %s", r.Engine, r.Status.State, resultCounts(r.Findings))
		if n := len(r.Status.Notifications); n > 0 {
			fmt.Fprintf(w, ", %d notification(s)", n)
		}
		if c := r.Cache; c != nil {
			fmt.Fprintf(w, ", %s", CacheLine(c))
		}
		fmt.Fprintln(w)
		for _, n := range append(r.Status.Notifications, r.Status.Config...) {
			fmt.Fprintf(w, "  %-7s %s\n", n.Level, oneLine(n.Message))
		}
	}
	if s.Verdict.Suppressed > 0 {
		fmt.Fprintf(w, "suppressed: %d finding(s) (kept in the SARIF log with their justification)\n", s.Verdict.Suppressed)
	}
	return nil
}

// CacheLine says how much of an engine's work came from the result cache.
func CacheLine(c *scanners.CacheStats) string {
	return fmt.Sprintf("%d of %d unit(s) from the result cache", c.FromCache, c.Units)
}

// VerdictLine is the one-line summary printed last.
func VerdictLine(s Scan) string {
	v := s.Verdict
	var b strings.Builder
	switch {
	case len(v.FailedEngines) > 0:
		fmt.Fprintf(&b, "ERROR: engine(s) failed: %s; results are incomplete", strings.Join(v.FailedEngines, ", "))
		if !v.Pass {
			fmt.Fprintf(&b, "; %d finding(s) also cross the threshold", v.Failing)
		}
	case v.Shard.Split():
		fmt.Fprintf(&b, "SHARD %s: %d finding(s), %d at or above the threshold (%s); the gate is applied when the shards are merged (tollgate merge)", v.Shard, v.Total, v.Failing, v.Thresholds)
	case !v.Pass:
		fmt.Fprintf(&b, "FAIL: %d of %d finding(s) at or above the threshold (%s)", v.Failing, v.Total, v.Thresholds)
	default:
		fmt.Fprintf(&b, "PASS: %d finding(s), none at or above the threshold (%s)", v.Total, v.Thresholds)
	}
	if v.NewOnly {
		fmt.Fprintf(&b, "; only new findings count (%d new)", v.New)
	}
	if v.Suppressed > 0 {
		fmt.Fprintf(&b, "; %d suppressed", v.Suppressed)
	}
	if v.PreExisting > 0 {
		fmt.Fprintf(&b, "; %d pre-existing dependency vulnerabilit%s not counted (on the target branch already)", v.PreExisting, plural(v.PreExisting, "y", "ies"))
	}
	fmt.Fprintf(&b, " -> exit %d", v.ExitCode())
	return b.String()
}

func where(f *scanners.Finding) string {
	var b strings.Builder
	if f.Location.Image != "" {
		b.WriteString(f.Location.Image)
		if f.Vuln != nil {
			fmt.Fprintf(&b, " %s@%s", f.Vuln.Package, f.Vuln.InstalledVersion)
		}
		if f.Location.Path != "" {
			b.WriteString(" (")
		}
	}
	if f.Location.Path != "" {
		b.WriteString(f.Location.Path)
		if f.Location.StartLine > 0 {
			fmt.Fprintf(&b, ":%d", f.Location.StartLine)
		}
		if f.Location.Image != "" {
			b.WriteString(")")
		}
	}
	if f.Location.Commit != "" {
		fmt.Fprintf(&b, " @%.12s", f.Location.Commit)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// JSONReport is the --format json document.
type JSONReport struct {
	Tool    string            `json:"tool"`
	Version string            `json:"version"`
	Root    string            `json:"root"`
	Verdict any               `json:"verdict"`
	Results []scanners.Result `json:"results"`
	Exit    int               `json:"exitCode"`
	Extra   map[string]any    `json:"properties,omitempty"`
}

// WriteJSON writes the machine-readable report.
func WriteJSON(w io.Writer, s Scan) error {
	results := s.Results
	if results == nil {
		results = []scanners.Result{}
	}
	for i := range results {
		if results[i].Findings == nil {
			results[i].Findings = []scanners.Finding{}
		}
		if results[i].Rules == nil {
			results[i].Rules = []scanners.Rule{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(JSONReport{
		Tool:    "tollgate",
		Version: s.ToolVersion,
		Root:    s.Root,
		Verdict: s.Verdict,
		Results: results,
		Exit:    s.Verdict.ExitCode(),
		Extra:   s.RunProperties,
	})
}

// WriteRuleHelp prints a rule's full help (for `tollgate explain`),
// escaped for the console; its URLs are the rule's own text (a pattern, an
// example), so they are not redacted.
func WriteRuleHelp(w io.Writer, engine string, r scanners.Rule) error {
	sw := NewEscapeWriter(w)
	fmt.Fprintf(sw, "%s (%s, %s)\n%s\n", r.ID, engine, r.Severity, oneLine(firstNonEmpty(r.Title, r.ID)))
	if r.CVSSScore > 0 {
		fmt.Fprintf(sw, "CVSS v3 score: %.1f\n", r.CVSSScore)
	}
	if len(r.Aliases) > 0 {
		fmt.Fprintf(sw, "Also known as: %s\n", strings.Join(r.Aliases, ", "))
	}
	for _, section := range []struct{ name, text string }{{"Description", r.Description}, {"Resolution", r.Resolution}} {
		if strings.TrimSpace(section.text) == "" {
			continue
		}
		fmt.Fprintf(sw, "\n%s:\n", section.name)
		for _, line := range strings.Split(strings.TrimSpace(section.text), "\n") {
			fmt.Fprintf(sw, "  %s\n", line)
		}
	}
	if len(r.References) > 0 {
		fmt.Fprintln(sw, "\nReferences:")
		for _, ref := range r.References {
			fmt.Fprintf(sw, "  - %s\n", ref)
		}
	}
	_, err := fmt.Fprintln(sw)
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// resultCounts says what an engine's results are: "18 result(s): 6 open,
// 10 suppressed, 2 absent", or "3 finding(s)" when all are open, so that
// the engine's line adds up with the verdict's count of open findings.
func resultCounts(fs []scanners.Finding) string {
	var suppressed, absent int
	for i := range fs {
		switch {
		case fs[i].BaselineState == scanners.BaselineAbsent:
			absent++
		case fs[i].Suppressed():
			suppressed++
		}
	}
	open := len(fs) - suppressed - absent
	if suppressed == 0 && absent == 0 {
		return fmt.Sprintf("%d finding(s)", open)
	}
	out := fmt.Sprintf("%d result(s): %d open", len(fs), open)
	if suppressed > 0 {
		out += fmt.Sprintf(", %d suppressed", suppressed)
	}
	if absent > 0 {
		out += fmt.Sprintf(", %d absent", absent)
	}
	return out
}
