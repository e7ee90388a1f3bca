package secrets

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/secrets/hardcoded"
)

// The third class of secret rules, beside gitleaks' rules and Tollgate's
// extra rules: human-chosen credentials under keys that name them
// (scanners/secrets/hardcoded). Its findings go through the same
// conversion as gitleaks' (hashed and redacted values, gitleaks:allow,
// .gitleaksignore, the configuration's global allowlists), and lose to
// every gitleaks or extra rule that matches the same secret.

const (
	// HardcodedRulePrefix starts the ID of every rule of the class.
	HardcodedRulePrefix = "tollgate-hardcoded-"
	// hardcodedSeverity is the class's default severity: the value is a
	// guess from its key, not a token of a known shape.
	hardcodedSeverity = scanners.SeverityMedium
	// hardcodedTag marks the class's findings.
	hardcodedTag = "hardcoded-credential"
	// cweHardcoded is CWE-798, Use of Hard-coded Credentials.
	cweHardcoded = "https://cwe.mitre.org/data/definitions/798.html"
)

// IsHardcodedRule reports whether a rule ID belongs to the hardcoded class.
func IsHardcodedRule(id string) bool { return strings.HasPrefix(id, HardcodedRulePrefix) }

// detectors are the secret detectors that read one fragment: gitleaks'
// (with the extra rules merged into its config) and, unless turned off,
// the hardcoded class.
type detectors struct {
	gl *detect.Detector
	hc *hardcoded.Detector
	// titles are the hardcoded rules' titles by ID.
	titles map[string]string
}

func newDetectors(gl *detect.Detector, withHardcoded bool) *detectors {
	d := &detectors{gl: gl}
	if withHardcoded {
		d.hc = hardcoded.New()
		d.titles = map[string]string{}
		for _, r := range hardcoded.Rules() {
			d.titles[r.ID] = r.Title
		}
	}
	return d
}

// find runs every detector over one fragment.
func (d *detectors) find(ctx context.Context, fr sources.Fragment) []report.Finding {
	out := d.gl.DetectContext(ctx, detect.Fragment(fr))
	for i := range out {
		exactColumns(&out[i], fr.StartLine)
	}
	if d.hc == nil || ctx.Err() != nil {
		return out
	}
	return append(out, d.hardcoded(fr)...)
}

// hardcoded converts the hardcoded class's matches in a fragment into
// gitleaks findings, lines and columns counted as gitleaks counts them
// (1-based, the end column inclusive), and drops those the configuration's
// global allowlists allow, as gitleaks would.
func (d *detectors) hardcoded(fr sources.Fragment) []report.Finding {
	raw := fr.Bytes
	if len(raw) != len(fr.Raw) {
		raw = []byte(fr.Raw)
	}
	matches := d.hc.Scan(fr.FilePath, raw)
	if len(matches) == 0 {
		return nil
	}
	lines := lineStarts(raw)
	start := fr.StartLine
	if start < 1 {
		start = 1
	}
	out := make([]report.Finding, 0, len(matches))
	for _, m := range matches {
		line := lineText(raw, lines, m.Line)
		gf := report.Finding{
			RuleID:      m.RuleID,
			Description: d.titles[m.RuleID],
			StartLine:   start + m.Line - 1,
			EndLine:     start + m.Line - 1,
			StartColumn: m.StartCol,
			EndColumn:   m.EndCol,
			Line:        line,
			Match:       m.Value,
			Secret:      m.Value,
			File:        fr.FilePath,
			SymlinkFile: fr.SymlinkFile,
			Commit:      fr.CommitSHA,
			Entropy:     shannon(m.Value),
			Tags:        []string{hardcodedTag},
		}
		if allowedBy(d.gl.Config.Allowlists, gf) != nil {
			continue
		}
		out = append(out, gf)
	}
	return out
}

// lineStarts returns the offset of every line's first byte.
func lineStarts(b []byte) []int {
	starts := []int{0}
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		starts = append(starts, i+1)
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return starts
}

// lineText is line n (1-based) without its line end.
func lineText(b []byte, starts []int, n int) string {
	if n < 1 || n > len(starts) {
		return ""
	}
	s, e := starts[n-1], len(b)
	if n < len(starts) {
		e = starts[n] - 1
	}
	return strings.TrimSuffix(string(b[s:e]), "\r")
}

// shannon is the Shannon entropy of s in bits per byte, as gitleaks
// computes it for its findings.
func shannon(s string) float32 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return float32(h)
}

// hardcodedRule returns the SARIF rule of a hardcoded-class rule ID.
func (s *Engine) hardcodedRule(id string) (scanners.Rule, bool) {
	for _, r := range hardcoded.Rules() {
		if r.ID != id {
			continue
		}
		return scanners.Rule{
			ID:    r.ID,
			Title: r.Title,
			Description: fmt.Sprintf("%s. %s A credential committed to a repository can be read by anyone with access to the code, "+
				"its forks and its history. This rule is one of Tollgate's hardcoded-credential rules: the value is judged a "+
				"credential by the key or the place it is written in, not by its shape, so it is reported at medium severity "+
				"by default (rule-severity tollgate-hardcoded-*: high to gate on it; --secrets-hardcoded=false turns the class off).",
				strings.TrimSuffix(r.Title, "."), r.Description),
			Resolution: "Change the password or revoke the credential where it is used first: removing it from the code does not " +
				"make it secret again. Then remove it from the file (and from git history if it was pushed), and load it at run " +
				"time from a secret store such as Azure Key Vault, a pipeline secret variable or an environment variable. If the " +
				"value is not a credential (a placeholder, a documented default), add `gitleaks:allow` in a comment on the line, " +
				"or an entry to .tollgate.yaml or .gitleaksignore.",
			HelpURI:  cweHardcoded,
			Severity: s.severity(id),
			Tags:     []string{"security", "secret", hardcodedTag, "external/cwe/cwe-798"},
		}, true
	}
	return scanners.Rule{}, false
}

// explainHardcoded is a hardcoded rule for `tollgate explain`: the rule,
// what it matches, the keys it reads and examples.
func explainHardcoded(id string) (scanners.Rule, bool) {
	rule, ok := New(Options{}, nil).hardcodedRule(id)
	if !ok {
		return rule, false
	}
	for _, r := range hardcoded.Rules() {
		if r.ID != id {
			continue
		}
		if r.Pattern != "" {
			rule.Description += "\n\nPattern: " + r.Pattern
		}
		if len(r.Keys) > 0 {
			rule.Description += "\nKeys: " + strings.Join(r.Keys, ", ")
		}
		if len(r.Examples) > 0 {
			rule.Description += "\nExamples (fake values):\n  " + strings.Join(r.Examples, "\n  ")
		}
	}
	return rule, true
}
