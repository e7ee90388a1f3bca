package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"

	"github.com/tollgate/tollgate/scanners"
)

// UncheckedRule is the rule of a finding that says a file the pull request
// adds or changes could not be checked.
const UncheckedRule = "tollgate-unchecked-file"

// uncheckedCodes are the notification codes that say a file's checks did
// not run (it did not parse, could not be read, a chart did not render,
// the file was too large or too deep, not a regular file, its unit ran
// past its budget or crashed its worker).
var uncheckedCodes = []string{"parse-error", "unreadable", "read-error", "helm-render", "scan-error",
	"file-too-large", "too-deep", "not-regular", "symlink-unresolvable", "symlink-outside-root", "over-budget", "unit-crashed", "not-checked"}

// Unchecked makes a file of the pull request that could not be checked a
// failing finding: a pull request could otherwise take any file it touches
// out of the gate by making it unparsable (an alias bomb appended to a
// manifest, a line its parser refuses), and the gate would pass on what was
// left. A file the pull request does not touch stays a notification, as
// outside pull-request builds. The finding is CRITICAL, so that every
// threshold but none fails on it; repository policy may turn it back into
// a notification (unchecked-files: warn), from the target branch.
type Unchecked struct {
	// Changed reports whether the pull request adds or changes the file p,
	// or a file under p when p is a directory.
	Changed func(p string) bool
}

// Name implements Step.
func (Unchecked) Name() string { return "unchecked-files" }

// Process implements Step.
func (u Unchecked) Process(results []scanners.Result) error {
	for i := range results {
		r := &results[i]
		added := false
		for _, n := range r.Status.Notifications {
			if n.Path == "" || !slices.Contains(uncheckedCodes, n.Code) {
				continue
			}
			where := n.Path
			if n.Code == "helm-render" {
				where = path.Dir(n.Path) // the chart: any of its files
			}
			if !u.Changed(where) {
				continue
			}
			line := max(n.Line, 1)
			sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s", r.Engine, n.Code, n.Path))
			r.Findings = append(r.Findings, scanners.Finding{
				Engine: r.Engine, RuleID: UncheckedRule, Title: "A file this pull request changes could not be checked",
				Severity: scanners.SeverityCritical,
				Message:  fmt.Sprintf("this pull request adds or changes %s, and its checks did not run: %s", where, n.Message),
				Location: scanners.Location{Path: n.Path, StartLine: line, EndLine: line}, Fingerprint: hex.EncodeToString(sum[:16]),
				Identity: n.Code,
			})
			added = true
		}
		if added && !slices.ContainsFunc(r.Rules, func(x scanners.Rule) bool { return x.ID == UncheckedRule }) {
			r.Rules = append(r.Rules, scanners.Rule{ID: UncheckedRule, Name: "UncheckedFile", Title: "A file this pull request changes could not be checked",
				Description: "The pull request adds or changes a file that Tollgate could not check (it does not parse, could not be read, a chart does not render, it is too large or too deep). A pull request could otherwise take its own files out of the gate by making them unparsable.",
				Resolution:  "Fix the file so that it parses (the notification names the cause), or, where the repository accepts unchecked files, set unchecked-files: warn in the target branch's .tollgate.yaml.",
				Severity:    scanners.SeverityCritical, Tags: []string{"tollgate", "coverage"}})
		}
	}
	return nil
}
