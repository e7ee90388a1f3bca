package policy

import (
	"strings"

	"github.com/tollgate/tollgate/scanners"
)

// MaxBaselineSize bounds the baseline file read into memory.
const MaxBaselineSize = 512 << 20

// BaselineResult is one result of a previous Tollgate SARIF log (read by
// report.ReadBaseline, which owns the format).
type BaselineResult struct {
	Engine      string
	RuleID      string
	Title       string
	Description string
	HelpURI     string
	Fingerprint string
	// FingerprintV2 is empty in a baseline written before tollgate/v2.
	FingerprintV2 string
	Severity      scanners.Severity
	Message       string
	Path          string
	Line          int
	// EndLine, StartColumn and EndColumn complete the region.
	EndLine, StartColumn, EndColumn int
	Image                           string
	Tags                            []string
	// Properties are the result's SARIF properties, kept for an absent
	// result so that it reads as it did.
	Properties map[string]any
}

// BaselineSet is a loaded baseline.
type BaselineSet struct {
	Source  string
	Results []BaselineResult
}

// LegacyOnly reports whether the baseline predates tollgate/v2
// fingerprints: its results then match through tollgate/v1, which an edit of
// a finding's lines (or a region Trivy draws differently) can change.
func (s *BaselineSet) LegacyOnly() bool {
	for _, r := range s.Results {
		if r.FingerprintV2 == "" {
			return true
		}
	}
	return false
}

// Baseline sets every finding's baseline state against a previous log, and
// adds the findings that disappeared as "absent". A finding whose severity
// or message changed (a CVE re-scored by a DB refresh) is "updated".
type Baseline struct {
	Set *BaselineSet
}

// Name implements Step.
func (Baseline) Name() string { return "baseline" }

// Process implements Step.
func (b Baseline) Process(results []scanners.Result) error {
	if b.Set == nil {
		return nil
	}
	// A baseline result matches by tollgate/v2 when it has one; one written
	// before v2 matches by tollgate/v1.
	type key struct{ engine, fp string }
	byV2, byV1 := map[key]int{}, map[key]int{}
	for i, r := range b.Set.Results {
		if r.FingerprintV2 != "" {
			byV2[key{r.Engine, r.FingerprintV2}] = i
		} else {
			byV1[key{r.Engine, r.Fingerprint}] = i
		}
	}
	match := func(f *scanners.Finding) (int, bool) {
		if i, ok := byV2[key{f.Engine, f.FingerprintV2}]; ok && f.FingerprintV2 != "" {
			return i, true
		}
		i, ok := byV1[key{f.Engine, f.Fingerprint}]
		return i, ok
	}
	seen := make([]bool, len(b.Set.Results))
	ran := map[string]int{}
	for ri := range results {
		r := &results[ri]
		if r.Status.State.Ran() {
			ran[r.Engine] = ri
		}
		for fi := range r.Findings {
			f := &r.Findings[fi]
			i, ok := match(f)
			switch {
			case !ok:
				f.BaselineState = scanners.BaselineNew
			case b.Set.Results[i].Severity != f.Severity || b.Set.Results[i].Message != f.Message:
				f.BaselineState = scanners.BaselineUpdated
				seen[i] = true
			default:
				f.BaselineState = scanners.BaselineUnchanged
				seen[i] = true
			}
		}
	}
	for i, br := range b.Set.Results {
		ri, ok := ran[br.Engine]
		if seen[i] || !ok {
			continue
		}
		r := &results[ri]
		path := br.Path
		if br.Image != "" && strings.HasPrefix(path, "container-images/") {
			path = ""
		}
		r.Findings = append(r.Findings, scanners.Finding{
			Engine:   br.Engine,
			RuleID:   br.RuleID,
			Title:    br.Title,
			Severity: br.Severity,
			Message:  br.Message,
			Location: scanners.Location{Path: path, StartLine: br.Line, EndLine: max(br.EndLine, br.Line),
				StartColumn: br.StartColumn, EndColumn: br.EndColumn, Image: br.Image},
			Fingerprint:        br.Fingerprint,
			FingerprintV2:      br.FingerprintV2,
			HelpURI:            br.HelpURI,
			Tags:               br.Tags,
			BaselineState:      scanners.BaselineAbsent,
			BaselineProperties: br.Properties,
		})
		if !hasRule(r.Rules, br.RuleID) {
			r.Rules = append(r.Rules, scanners.Rule{ID: br.RuleID, Title: br.Title, Description: br.Description, HelpURI: br.HelpURI, Severity: br.Severity})
		}
	}
	return nil
}

func hasRule(rules []scanners.Rule, id string) bool {
	for _, r := range rules {
		if r.ID == id {
			return true
		}
	}
	return false
}
