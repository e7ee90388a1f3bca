package policy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/tollgate/tollgate/scanners"
)

// fingerprintKey is report.FingerprintKey (policy does not import report).
const fingerprintKey = "tollgate/v1"

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
	Severity    scanners.Severity
	Message     string
	Path        string
	Line        int
	Image       string
}

// BaselineSet is a loaded baseline.
type BaselineSet struct {
	Source  string
	Results []BaselineResult
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
						StartLine int `json:"startLine"`
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
			br := BaselineResult{Engine: engine, RuleID: r.RuleID, Fingerprint: fp, Message: r.Message.Text}
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
					br.Line = pl.Region.StartLine
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
	type key struct{ engine, fp string }
	prev := map[key]int{}
	for i, r := range b.Set.Results {
		prev[key{r.Engine, r.Fingerprint}] = i
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
			i, ok := prev[key{f.Scanner, f.Fingerprint}]
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
			Scanner:       br.Engine,
			RuleID:        br.RuleID,
			Title:         br.Title,
			Severity:      br.Severity,
			Message:       br.Message,
			Location:      scanners.Location{Path: path, StartLine: br.Line, EndLine: br.Line, Image: br.Image},
			Fingerprint:   br.Fingerprint,
			HelpURI:       br.HelpURI,
			BaselineState: "absent",
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
