package task

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners"
)

// topFindings bounds the summary's table.
const topFindings = 20

var severities = []scanners.Severity{scanners.SeverityCritical, scanners.SeverityHigh, scanners.SeverityMedium, scanners.SeverityLow, scanners.SeverityUnknown}

// WriteSummary writes the markdown summary shown on the run's page.
func WriteSummary(w io.Writer, out *scan.Outcome, sarifName string, st Settings) error {
	v := out.Verdict
	status := "✅ Passed"
	switch {
	case len(v.FailedEngines) > 0:
		status = "⚠️ Incomplete: engine(s) failed: " + strings.Join(v.FailedEngines, ", ")
	case !v.Pass:
		status = "❌ Failed"
	}
	fmt.Fprintf(w, "## Tollgate security gate: %s\n\n", status)
	fmt.Fprintf(w, "%d finding(s), %d at or above the threshold (`%s`)", v.Total, v.Failing, report.Markdown(v.Thresholds))
	if v.NewOnly {
		fmt.Fprintf(w, "; only new findings count")
	}
	fmt.Fprintf(w, ". Suppressed: %d.", v.Suppressed)
	if v.New > 0 || v.Absent > 0 || v.NewOnly {
		fmt.Fprintf(w, " Against the baseline: %d new, %d fixed (absent).", v.New, v.Absent)
	}
	fmt.Fprint(w, "\n\n| Engine | State | CRITICAL | HIGH | MEDIUM | LOW | UNKNOWN |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range out.Results {
		fmt.Fprintf(w, "| %s | %s |", r.Scanner, r.Status.State)
		for _, s := range severities {
			fmt.Fprintf(w, " %d |", v.Counts[r.Scanner][s.String()])
		}
		fmt.Fprintln(w)
	}
	var cached []string
	for _, r := range out.Results {
		if r.Cache != nil {
			cached = append(cached, r.Scanner+": "+report.CacheLine(r.Cache))
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
	sort.SliceStable(failing, func(i, j int) bool { return failing[i].Severity > failing[j].Severity })
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
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", f.Severity, f.Scanner, report.Markdown(f.RuleID), report.Markdown(loc), report.Markdown(f.Title))
		}
	}
	var notes []string
	for _, n := range out.Warnings {
		notes = append(notes, fmt.Sprintf("- **%s** (configuration): %s", n.Level, report.Markdown(n.Message)))
	}
	for _, r := range out.Results {
		for _, n := range append(r.Status.Notifications, r.Status.Config...) {
			if n.Level != scanners.LevelNote {
				notes = append(notes, fmt.Sprintf("- **%s** (%s): %s", n.Level, r.Scanner, report.Markdown(n.Message)))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n### What could not be scanned (%d)\n\n", len(notes))
		for i, n := range notes {
			if i == topFindings {
				fmt.Fprintf(w, "- ... and %d more, in the SARIF log\n", len(notes)-topFindings)
				break
			}
			fmt.Fprintln(w, n)
		}
	}
	writePolicyChanges(w, out)
	where := "the SARIF log `" + report.Markdown(sarifName) + "`"
	if st.Publish {
		where += " in the `" + report.Markdown(st.ArtifactName) + "` artifact"
	}
	_, err := fmt.Fprintf(w, "\nFull results: %s.\n", where)
	return err
}

// writePolicyChanges lists, in a pull-request build whose policy comes from
// the target branch, the policy files the pull request changes and the
// findings its own policy would hide (they still count).
func writePolicyChanges(w io.Writer, out *scan.Outcome) {
	p := out.Policy
	var review []*scanners.Finding
	for ri := range out.Results {
		for fi := range out.Results[ri].Findings {
			if f := &out.Results[ri].Findings[fi]; f.UnderReview() && !f.Suppressed() {
				review = append(review, f)
			}
		}
	}
	if !p.PullRequest || (len(p.Changes) == 0 && len(review) == 0) {
		return
	}
	fmt.Fprintf(w, "\n### Policy changes in this pull request\n\nPolicy comes from %s: what this pull request changes in it is shown here, not applied.\n\n", report.Markdown(p.Origin))
	for _, c := range p.Changes {
		fmt.Fprintf(w, "- %s (%s)\n", report.Markdown(c.Path), report.Markdown(c.Change))
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
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.Severity, report.Markdown(f.RuleID), report.Markdown(fmt.Sprintf("%s:%d", f.Location.Path, f.Location.StartLine)), report.Markdown(by))
	}
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes one test case per finding: failing ones fail, suppressed
// ones are skipped, the rest pass.
func WriteJUnit(w io.Writer, out *scan.Outcome) error {
	doc := junitSuites{Name: "Tollgate"}
	for _, r := range out.Results {
		s := junitSuite{Name: "tollgate." + r.Scanner}
		for i := range r.Findings {
			f := &r.Findings[i]
			if f.BaselineState == scanners.BaselineAbsent {
				continue
			}
			loc := f.Location.Path
			if f.Location.Image != "" {
				loc = strings.TrimSpace(f.Location.Image + " " + loc)
			}
			c := junitCase{Name: fmt.Sprintf("%s %s:%d", f.RuleID, loc, f.Location.StartLine), Classname: "tollgate." + r.Scanner + "." + f.RuleID}
			switch {
			case f.Suppressed():
				c.Skipped = &junitSkipped{Message: acceptedJustification(f)}
				s.Skipped++
			case out.Gate.Fails(f):
				c.Failure = &junitFailure{Message: f.Title, Type: f.Severity.String(), Text: f.Message}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func acceptedJustification(f *scanners.Finding) string {
	for _, s := range f.Suppressions {
		if s.Status == scanners.SuppressionAccepted {
			return s.Justification
		}
	}
	return ""
}
