package policy

import (
	"fmt"

	"github.com/tollgate/tollgate/scanners"
)

// Inline decides what the inline comments the engines found do: a
// gitleaks:allow on a secret's line, a trivy:ignore above a resource. They
// suppress, except when Review is set (a pull-request build whose policy
// comes from the target branch) and the comment is on a line the pull
// request adds: such a comment is the pull request exempting itself, so it
// is under review and the finding still counts.
type Inline struct {
	// Review is set in a pull-request build whose policy is not the checkout's.
	Review bool
	// Added reports whether a line of a file is one the pull request adds;
	// nil with Review means it cannot be known (the target branch is not in
	// the clone), and then every inline comment is under review.
	Added func(path string, line int) bool
	// Target names where policy comes from, for the justification.
	Target string
}

// Name implements Step.
func (Inline) Name() string { return "inline" }

// Process implements Step.
func (in Inline) Process(results []scanners.Result) error {
	for ri := range results {
		for fi := range results[ri].Findings {
			f := &results[ri].Findings[fi]
			kind, lines := inlineComment(f)
			if kind == "" {
				continue
			}
			source := kind
			if f.Misconfig != nil {
				source += ":" + f.RuleID
			}
			s := scanners.Suppression{Kind: scanners.SuppressionInSource, Source: source,
				Justification: fmt.Sprintf("%s comment in %s", kind, f.Location.Path)}
			if in.Review && in.addedAny(f.Location.Path, lines) {
				s.Status = scanners.SuppressionUnderReview
				s.Justification = fmt.Sprintf("%s on a line this pull request adds (%s:%d); policy comes from %s, so a pull request cannot exempt its own findings and this one still counts",
					kind, f.Location.Path, lines[0], in.Target)
			}
			suppress(f, s)
		}
	}
	return nil
}

func (in Inline) addedAny(path string, lines []int) bool {
	if in.Added == nil {
		return true
	}
	for _, l := range lines {
		if l <= 0 || in.Added(path, l) {
			return true
		}
	}
	return false
}

// inlineComment names the inline comment a finding carries and the lines it
// may sit on: the secret's own lines for gitleaks:allow; the comment's line
// for trivy:ignore (0 when the engine could not place it).
func inlineComment(f *scanners.Finding) (string, []int) {
	switch {
	case f.Secret != nil && f.Secret.InlineAllowed:
		var lines []int
		for l := f.Location.StartLine; l <= max(f.Location.EndLine, f.Location.StartLine); l++ {
			lines = append(lines, l)
		}
		return "gitleaks:allow", lines
	case f.Misconfig != nil && f.Misconfig.InlineIgnored:
		return "trivy:ignore", []int{f.Misconfig.InlineIgnoreLine}
	}
	return "", nil
}
