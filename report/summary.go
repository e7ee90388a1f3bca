package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/tollgate/tollgate/scanners"
)

// topFindings bounds the summary's table.
const topFindings = 20

var summarySeverities = []scanners.Severity{scanners.SeverityCritical, scanners.SeverityHigh, scanners.SeverityMedium, scanners.SeverityLow, scanners.SeverityUnknown}

// WriteSummary writes the markdown summary (the pipeline run's summary
// page, --format markdown): the verdict, the counts per engine, the most
// severe failing findings, what could not be scanned, a pull request's
// policy changes, and where the SARIF log is (o.SARIFName, when set).
func WriteSummary(w io.Writer, out Scan, o FormatOptions) error {
	v := out.Verdict
	status := "✅ Passed"
	switch {
	case len(v.FailedEngines) > 0:
		status = "⚠️ Incomplete: engine(s) failed: " + strings.Join(v.FailedEngines, ", ")
	case !v.Pass:
		status = "❌ Failed"
	}
	fmt.Fprintf(w, "## Tollgate security gate: %s\n\n", status)
	fmt.Fprintf(w, "%d finding(s), %d at or above the threshold (`%s`)", v.Total, v.Failing, Markdown(v.Thresholds))
	if v.NewOnly {
		fmt.Fprintf(w, "; only new findings count")
	}
	fmt.Fprintf(w, ". Suppressed: %d.", v.Suppressed)
	if v.PreExisting > 0 {
		fmt.Fprintf(w, " Pre-existing dependency vulnerabilities (pinned on the target branch already; not counted for this pull request): %d.", v.PreExisting)
	}
	if v.New > 0 || v.Absent > 0 || v.NewOnly {
		fmt.Fprintf(w, " Against the baseline: %d new, %d fixed (absent).", v.New, v.Absent)
	}
	fmt.Fprint(w, "\n\n| Engine | State | CRITICAL | HIGH | MEDIUM | LOW | UNKNOWN |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range out.Results {
		fmt.Fprintf(w, "| %s | %s |", r.Engine, r.Status.State)
		for _, s := range summarySeverities {
			fmt.Fprintf(w, " %d |", v.Counts[r.Engine][s.String()])
		}
		fmt.Fprintln(w)
	}
	var cached []string
	for _, r := range out.Results {
		if r.Cache != nil {
			cached = append(cached, r.Engine+": "+CacheLine(r.Cache))
		}
	}
	if len(cached) > 0 {
		fmt.Fprintf(w, "\nResult cache: %s.\n", strings.Join(cached, "; "))
	}

	var failing []*scanners.Finding
	for ri := range out.Results {
		for fi := range out.Results[ri].Findings {
			if f := &out.Results[ri].Findings[fi]; out.Gate.Fails(f) {
				failing = append(failing, f)
			}
		}
	}
	// The findings the change introduces first, then the most severe: no
	// number of older findings keeps a new one out of the top rows.
	sort.SliceStable(failing, func(i, j int) bool {
		if a, b := failing[i].WasThere(), failing[j].WasThere(); a != b {
			return b
		}
		return failing[i].Severity > failing[j].Severity
	})
	if len(failing) > 0 {
		fmt.Fprintf(w, "\n### Failing findings (%d", len(failing))
		if len(failing) > topFindings {
			fmt.Fprintf(w, ", the %d most severe", topFindings)
		}
		fmt.Fprint(w, ")\n\n| Severity | Engine | Rule | Location | Title |\n|---|---|---|---|---|\n")
		for i, f := range failing {
			if i == topFindings {
				break
			}
			loc := f.Location.Path
			if f.Location.StartLine > 0 {
				loc = fmt.Sprintf("%s:%d", loc, f.Location.StartLine)
			}
			if f.Location.Image != "" {
				loc = strings.TrimSpace(f.Location.Image + " " + loc)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", f.Severity, f.Engine, Markdown(f.RuleID), Markdown(loc), Markdown(f.Title))
		}
	}
	var config, notes, policyNotes []string
	for _, n := range out.Warnings {
		line := fmt.Sprintf("- **%s**: %s", n.Level, Markdown(n.Message))
		switch {
		case n.Code != "policy-changed":
			config = append(config, line)
		case !slices.ContainsFunc(out.Policy.Changes, func(c PolicyChange) bool { return c.Path == n.Path }):
			// A file the pipeline names that the pull request changes
			// (the policy files themselves are listed with their change).
			policyNotes = append(policyNotes, "- "+Markdown(n.Message))
		}
	}
	for _, r := range out.Results {
		for _, n := range r.Status.Config {
			if n.Level != scanners.LevelNote {
				config = append(config, fmt.Sprintf("- **%s** (%s): %s", n.Level, r.Engine, Markdown(n.Message)))
			}
		}
		for _, n := range r.Status.Notifications {
			if n.Level != scanners.LevelNote {
				notes = append(notes, fmt.Sprintf("- **%s** (%s): %s", n.Level, r.Engine, Markdown(n.Message)))
			}
		}
	}
	writeList(w, "What could not be scanned", notes)
	writeList(w, "Configuration warnings", config)
	writePolicyChanges(w, out, policyNotes)
	if o.SARIFName == "" {
		return nil
	}
	// Bold, not a code span: the names are escaped, and a code span would
	// show the escapes.
	where := "the SARIF log **" + Markdown(o.SARIFName) + "**"
	if o.Artifact != "" {
		where += " in the **" + Markdown(o.Artifact) + "** artifact"
	}
	_, err := fmt.Fprintf(w, "\nFull results: %s.\n", where)
	return err
}

// writeList writes a section of list items, the first topFindings of them.
func writeList(w io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### %s (%d)\n\n", title, len(items))
	for i, n := range items {
		if i == topFindings {
			fmt.Fprintf(w, "- ... and %d more, in the SARIF log\n", len(items)-topFindings)
			break
		}
		fmt.Fprintln(w, n)
	}
}

// writePolicyChanges lists, in a pull-request build whose policy comes from
// the target branch, the policy files the pull request changes, the other
// files the pipeline names that it changes (notes), and the findings its
// own policy would hide (they still count).
func writePolicyChanges(w io.Writer, out Scan, notes []string) {
	p := out.Policy
	var review []*scanners.Finding
	for ri := range out.Results {
		for fi := range out.Results[ri].Findings {
			if f := &out.Results[ri].Findings[fi]; f.UnderReview() && !f.Suppressed() {
				review = append(review, f)
			}
		}
	}
	if !p.PullRequest || (len(p.Changes) == 0 && len(review) == 0 && len(notes) == 0) {
		return
	}
	fmt.Fprintf(w, "\n### Policy changes in this pull request\n\nPolicy comes from %s: what this pull request changes in it is shown here, not applied.\n\n", Markdown(p.Origin))
	for _, c := range p.Changes {
		fmt.Fprintf(w, "- %s (%s)\n", Markdown(c.Path), Markdown(c.Change))
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	if len(review) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d finding(s) the pull request's own policy would hide, still counted:\n\n| Severity | Rule | Location | Would be hidden by |\n|---|---|---|---|\n", len(review))
	for i, f := range review {
		if i == topFindings {
			fmt.Fprintf(w, "\n... and %d more, in the SARIF log (suppressions with status underReview).\n", len(review)-topFindings)
			break
		}
		by := ""
		for _, sp := range f.Suppressions {
			if sp.Status == scanners.SuppressionUnderReview {
				by = sp.Source
				break
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.Severity, Markdown(f.RuleID), Markdown(fmt.Sprintf("%s:%d", f.Location.Path, f.Location.StartLine)), Markdown(by))
	}
}
