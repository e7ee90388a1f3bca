package task

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/task/prcomments"
	"github.com/tollgate/tollgate/task/prcomments/adofake"
)

// TestDecoratePRIntroducedFirst: under a cap of one thread, a MEDIUM the
// pull request introduces gets it before a HIGH that a baseline had
// already (baselineState unchanged) on a line the pull request rewrote
// (previous code: the thread went to the pre-existing HIGH).
func TestDecoratePRIntroducedFirst(t *testing.T) {
	s := adofake.New("job-token-3b9d", adofake.Change{Path: "/app.py", ChangeType: "add"}, adofake.Change{Path: "/b.py", ChangeType: "add"})
	defer s.Close()
	env := s.Env()
	fail := func(sev scanners.Severity, path, fp string, state scanners.BaselineState) scanners.Finding {
		return scanners.Finding{Engine: scanners.EngineSecrets, RuleID: "rule-" + fp, Title: fp, Severity: sev, Fingerprint: fp,
			Location: scanners.Location{Path: path, StartLine: 2, EndLine: 2}, BaselineState: state}
	}
	out := &scan.Outcome{Scan: report.Scan{
		Results: []scanners.Result{{Engine: scanners.EngineSecrets, Status: scanners.Status{State: scanners.Succeeded}, Findings: []scanners.Finding{
			fail(scanners.SeverityHigh, "app.py", "pre-existing-high", scanners.BaselineUnchanged),
			fail(scanners.SeverityMedium, "b.py", "introduced-medium", scanners.BaselineNew),
		}}},
		Gate: policy.Gate{Thresholds: policy.Thresholds{Default: policy.Threshold{Severity: scanners.SeverityMedium}}},
	}}
	out.Verdict = out.Gate.Decide(out.Results)
	var opts config.Options
	opts.PR.MaxComments = 1
	d := DecoratePR(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), out, opts, func(k string) string { return env[k] })
	if d.Err != nil || d.Skipped != "" {
		t.Fatalf("decoration: %+v", d)
	}
	var threaded []string
	for _, th := range s.Threads() {
		if fp := th.Properties[prcomments.PropFingerprint]; fp != "" {
			threaded = append(threaded, fp)
		}
	}
	if !slices.Equal(threaded, []string{"introduced-medium"}) {
		t.Errorf("threads for %v, want the introduced MEDIUM's alone", threaded)
	}
}
