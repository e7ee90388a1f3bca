package policy

import (
	"github.com/tollgate/tollgate/scanners"
)

// Gate is the build-breaking rule: thresholds, and whether only findings
// that are new against a baseline count.
type Gate struct {
	Thresholds Thresholds
	NewOnly    bool
}

// Fails reports whether one finding breaks the build.
func (g Gate) Fails(f *scanners.Finding) bool {
	if f.Suppressed() || f.BaselineState == scanners.BaselineAbsent || f.PreExisting {
		return false
	}
	if g.NewOnly && f.BaselineState != scanners.BaselineNone && f.BaselineState != scanners.BaselineNew {
		return false
	}
	return g.Thresholds.For(f.Engine).Fails(f.Severity)
}

// Verdict is the outcome of a scan for the build.
type Verdict struct {
	// Pass is false when any finding crosses its threshold.
	Pass bool `json:"pass"`
	// Failing counts findings that break the build.
	Failing int `json:"failing"`
	// Counts are unsuppressed, present findings by engine and severity.
	Counts map[string]map[string]int `json:"counts"`
	// Total is every unsuppressed, present finding.
	Total      int `json:"total"`
	Suppressed int `json:"suppressed"`
	// New and Absent count baseline states when a baseline was given.
	New    int `json:"new"`
	Absent int `json:"absent"`
	// PreExisting counts dependency vulnerabilities a pull request did not
	// introduce (deps.fail-on: introduced): reported, not counted.
	PreExisting int `json:"preExisting,omitempty"`
	// FailedEngines lists engines that could not complete.
	FailedEngines []string `json:"failedEngines,omitempty"`
	// PartialEngines lists engines that skipped some input.
	PartialEngines []string `json:"partialEngines,omitempty"`
	Thresholds     string   `json:"thresholds"`
	NewOnly        bool     `json:"newOnly,omitempty"`
	// Shard is the part of the scan given by --shard ("K/N"), zero for the
	// whole scan. When Shard.Split(), its findings are counted and the gate
	// is applied when the parts are merged.
	Shard scanners.Shard `json:"shard,omitzero"`
}

// Decide computes the verdict over every engine's findings.
func (g Gate) Decide(results []scanners.Result) Verdict {
	v := Verdict{Pass: true, Counts: map[string]map[string]int{}, Thresholds: g.Thresholds.String(), NewOnly: g.NewOnly}
	for _, r := range results {
		switch r.Status.State {
		case scanners.Failed, scanners.StateUnspecified:
			// An engine that never said how it ended is not a pass.
			v.FailedEngines = append(v.FailedEngines, r.Engine)
		case scanners.Partial:
			v.PartialEngines = append(v.PartialEngines, r.Engine)
		}
		for i := range r.Findings {
			f := &r.Findings[i]
			switch {
			case f.BaselineState == scanners.BaselineAbsent:
				v.Absent++
				continue
			case f.Suppressed():
				v.Suppressed++
				continue
			}
			if f.BaselineState == scanners.BaselineNew {
				v.New++
			}
			if f.PreExisting {
				v.PreExisting++
			}
			v.Total++
			if v.Counts[f.Engine] == nil {
				v.Counts[f.Engine] = map[string]int{}
			}
			v.Counts[f.Engine][f.Severity.String()]++
			if g.Fails(f) {
				v.Failing++
				v.Pass = false
			}
		}
	}
	return v
}

// Exit codes, documented in the README and the CLI help.
const (
	ExitPass          = 0
	ExitPolicyFailure = 1
	ExitUsage         = 2
	ExitScannerFailed = 3
)

// ExitCode maps a verdict to the process exit code. An engine that could not
// run wins over a policy failure: the results are incomplete, and the build
// must say so.
func (v Verdict) ExitCode() int {
	switch {
	case len(v.FailedEngines) > 0:
		return ExitScannerFailed
	case !v.Pass && !v.Shard.Split():
		return ExitPolicyFailure
	default:
		return ExitPass
	}
}
