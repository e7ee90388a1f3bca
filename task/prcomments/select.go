package prcomments

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
)

// severityRank orders severities, most severe first; a name Tollgate does
// not know sorts last.
func severityRank(s string) int {
	sev, err := scanners.ParseSeverity(s)
	if err != nil {
		return int(scanners.SeverityCritical) + 1
	}
	return int(scanners.SeverityCritical - sev)
}

// Split orders the failing findings most important first and splits them
// into those that touch a line the pull request changed, which get threads
// (the first ones, up to the cap), and the rest, which the summary counts.
// The order: the findings the pull request introduces before those that
// were there already (PreExisting), then severity, then path, line, rule
// and fingerprint, so that runs agree; so no number of findings in files
// that sort first, nor of older findings on lines the pull request touches,
// keeps a more severe finding it introduces from its thread. changed
// reports whether line of path (repository-relative) is a changed line;
// line 0 asks whether the pull request adds the whole file.
func Split(fs []Finding, changed func(path string, line int) bool) (onChanged, elsewhere []Finding) {
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			compareBool(a.PreExisting, b.PreExisting),
			cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
			strings.Compare(a.Path, b.Path),
			cmp.Compare(a.StartLine, b.StartLine),
			strings.Compare(a.RuleID, b.RuleID),
			strings.Compare(a.Fingerprint, b.Fingerprint))
	})
	for _, f := range fs {
		if touches(f, changed) {
			onChanged = append(onChanged, f)
		} else {
			elsewhere = append(elsewhere, f)
		}
	}
	return onChanged, elsewhere
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// touches reports whether f sits on a changed line; a finding about a
// whole file (no line) asks changed for line 0, which is true of a file the
// pull request adds. An image's package has no path and never touches.
func touches(f Finding, changed func(string, int) bool) bool {
	if f.Path == "" {
		return false
	}
	if f.StartLine <= 0 {
		return changed(f.Path, 0)
	}
	end := max(f.EndLine, f.StartLine)
	for line := f.StartLine; line <= end; line++ {
		if changed(f.Path, line) {
			return true
		}
	}
	return false
}

// Summary is what the pull request's one summary comment says.
type Summary struct {
	Passed bool
	// Failing counts the findings that fail the gate by severity.
	Failing map[string]int
	// Threaded findings have a thread; Overflow found no place under the
	// cap; Elsewhere are not on a changed line; Suppressed do not count.
	Threaded, Overflow, Elsewhere, Suppressed int
	BuildURL                                  string
}

// SummaryBody renders the summary comment.
func SummaryBody(s Summary) string {
	var b strings.Builder
	verdict := "passed"
	if !s.Passed {
		verdict = "failed"
	}
	fmt.Fprintf(&b, "**Tollgate: the security gate %s.**\n\n", verdict)
	sevs := make([]string, 0, len(s.Failing))
	for sev, n := range s.Failing {
		if n > 0 {
			sevs = append(sevs, sev)
		}
	}
	slices.SortFunc(sevs, func(a, b string) int { return cmp.Compare(severityRank(a), severityRank(b)) })
	if len(sevs) == 0 {
		b.WriteString("No finding fails the gate.\n\n")
	} else {
		b.WriteString("| Severity | Failing findings |\n|---|---:|\n")
		for _, sev := range sevs {
			fmt.Fprintf(&b, "| %s | %d |\n", report.Markdown(strings.ToUpper(sev)), s.Failing[sev])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "- %d on lines this pull request changes, with a comment each\n", s.Threaded)
	if s.Overflow > 0 {
		fmt.Fprintf(&b, "- %d more on changed lines, over the comment limit (see the build's SARIF log)\n", s.Overflow)
	}
	fmt.Fprintf(&b, "- %d elsewhere in the repository\n", s.Elsewhere)
	if s.Suppressed > 0 {
		fmt.Fprintf(&b, "- %d suppressed (not counted)\n", s.Suppressed)
	}
	if s.BuildURL != "" {
		b.WriteString("\n" + Link("The build, its summary and the SARIF log", s.BuildURL) + "\n")
	}
	return b.String()
}
