package policy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/tollgate/tollgate/scanners"
)

// fingerprintKey and fingerprintKeyV2 are report's FingerprintKey and
// FingerprintKeyV2 (policy does not import report).
const (
	fingerprintKey   = "tollgate/v1"
	fingerprintKeyV2 = "tollgate/v2"
)

// MaxBaselineSize bounds the baseline file read into memory.
const MaxBaselineSize = 512 << 20

// driverEngines maps a run's tool name to its engine, for logs that predate
// the "tollgate/engine" run property.
var driverEngines = map[string]string{
	"gitleaks":     scanners.EngineSecrets,
	"trivy-config": scanners.EngineIaC,
	"trivy-image":  scanners.EngineImage,
}

// BaselineResult is one result of a previous Tollgate SARIF log.
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

// sarifLog is the part of a SARIF log a baseline needs.
type sarifLog struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string `json:"name"`
				Rules []struct {
					ID               string `json:"id"`
					ShortDescription *struct {
						Text string `json:"text"`
					} `json:"shortDescription"`
					FullDescription *struct {
						Text string `json:"text"`
					} `json:"fullDescription"`
					HelpURI string `json:"helpUri"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Properties map[string]any `json:"properties"`
		Results    []struct {
			RuleID  string `json:"ruleId"`
			Level   string `json:"level"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation *struct {
					ArtifactLocation *struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region *struct {
						StartLine   int `json:"startLine"`
						EndLine     int `json:"endLine"`
						StartColumn int `json:"startColumn"`
						EndColumn   int `json:"endColumn"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			BaselineState       string            `json:"baselineState"`
			Properties          map[string]any    `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

// ParseBaseline reads a Tollgate SARIF log's results.
func ParseBaseline(b []byte) (*BaselineSet, error) {
	var log sarifLog
	if err := json.Unmarshal(b, &log); err != nil {
		return nil, fmt.Errorf("not a SARIF log: %w", err)
	}
	if log.Version != "2.1.0" {
		return nil, fmt.Errorf("SARIF version %q; want 2.1.0", log.Version)
	}
	set := &BaselineSet{}
	for ri, run := range log.Runs {
		engine, _ := run.Properties["tollgate/engine"].(string)
		if engine == "" {
			engine = driverEngines[run.Tool.Driver.Name]
		}
		if engine == "" {
			return nil, fmt.Errorf("run %d (%q) is not from a Tollgate engine", ri, run.Tool.Driver.Name)
		}
		rules := map[string]int{}
		for i, r := range run.Tool.Driver.Rules {
			rules[r.ID] = i
		}
		for i, r := range run.Results {
			if r.BaselineState == "absent" {
				continue // gone already: not part of the new baseline
			}
			fp := r.PartialFingerprints[fingerprintKey]
			if fp == "" {
				return nil, fmt.Errorf("run %d result %d has no %q fingerprint: not a Tollgate log", ri, i, fingerprintKey)
			}
			br := BaselineResult{Engine: engine, RuleID: r.RuleID, Fingerprint: fp, FingerprintV2: r.PartialFingerprints[fingerprintKeyV2],
				Message: r.Message.Text, Properties: r.Properties}
			if tags, ok := r.Properties["tags"].([]any); ok {
				for _, t := range tags {
					if s, ok := t.(string); ok {
						br.Tags = append(br.Tags, s)
					}
				}
			}
			if s, ok := r.Properties["severity"].(string); ok {
				if sev, err := scanners.ParseSeverity(s); err == nil {
					br.Severity = sev
				}
			}
			if img, ok := r.Properties["image"].(string); ok {
				br.Image = img
			}
			if len(r.Locations) > 0 && r.Locations[0].PhysicalLocation != nil {
				pl := r.Locations[0].PhysicalLocation
				if pl.ArtifactLocation != nil {
					if p, err := url.PathUnescape(pl.ArtifactLocation.URI); err == nil {
						br.Path = p
					}
				}
				if pl.Region != nil {
					br.Line, br.EndLine = pl.Region.StartLine, pl.Region.EndLine
					br.StartColumn, br.EndColumn = pl.Region.StartColumn, pl.Region.EndColumn
				}
			}
			if idx, ok := rules[r.RuleID]; ok {
				rule := run.Tool.Driver.Rules[idx]
				if rule.ShortDescription != nil {
					br.Title = rule.ShortDescription.Text
				}
				if rule.FullDescription != nil {
					br.Description = rule.FullDescription.Text
				}
				br.HelpURI = rule.HelpURI
			}
			set.Results = append(set.Results, br)
		}
	}
	return set, nil
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
		if i, ok := byV2[key{f.Scanner, f.FingerprintV2}]; ok && f.FingerprintV2 != "" {
			return i, true
		}
		i, ok := byV1[key{f.Scanner, f.Fingerprint}]
		return i, ok
	}
	seen := make([]bool, len(b.Set.Results))
	ran := map[string]int{}
	for ri := range results {
		r := &results[ri]
		if r.Status.State != scanners.Failed {
			ran[r.Scanner] = ri
		}
		for fi := range r.Findings {
			f := &r.Findings[fi]
			i, ok := match(f)
			switch {
			case !ok:
				f.BaselineState = "new"
			case b.Set.Results[i].Severity != f.Severity || b.Set.Results[i].Message != f.Message:
				f.BaselineState = "updated"
				seen[i] = true
			default:
				f.BaselineState = "unchanged"
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
			Scanner:  br.Engine,
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
			BaselineState:      "absent",
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
