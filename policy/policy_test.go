package policy

import (
	"testing"

	"github.com/tollgate/tollgate/scanners"
)

var testEngines = scanners.Registry{
	{Name: "secrets", Aliases: []string{"secret"}}, {Name: "iac"}, {Name: "image", Aliases: []string{"images"}},
}

func TestThresholdsSet(t *testing.T) {
	th := DefaultThresholds()
	for _, v := range []string{"medium", "Secret=low, iac=none", "images=critical"} {
		if err := th.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	if err := th.Resolve(testEngines); err != nil {
		t.Fatal(err)
	}
	if got, want := th.String(), "medium,secrets=low,iac=none,image=critical"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !th.For("secrets").Fails(scanners.SeverityLow) || th.For("iac").Fails(scanners.SeverityCritical) {
		t.Errorf("per-engine thresholds not applied: %+v", th)
	}
	if th.For("image").Fails(scanners.SeverityHigh) || !th.For("image").Fails(scanners.SeverityCritical) {
		t.Errorf("image threshold wrong: %+v", th.For("image"))
	}
	for _, bad := range []string{"severe", "secrets=", "secrets=extreme", "=low"} {
		if err := (&Thresholds{}).Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	// An engine the registry does not know is refused when resolved,
	// naming the engines it knows.
	unknown := Thresholds{}
	if err := unknown.Set("sast=low"); err != nil {
		t.Fatal(err)
	}
	if err := unknown.Resolve(testEngines); err == nil || err.Error() != `unknown engine "sast" (want secrets, iac, image)` {
		t.Errorf("Resolve with sast=low: %v", err)
	}
}

func finding(engine string, sev scanners.Severity) scanners.Finding {
	return scanners.Finding{Engine: engine, Severity: sev, RuleID: "R"}
}

func TestGate(t *testing.T) {
	g := Gate{Thresholds: DefaultThresholds()}
	high := finding("iac", scanners.SeverityHigh)
	if !g.Fails(&high) {
		t.Error("HIGH does not fail at the default threshold")
	}
	med := finding("iac", scanners.SeverityMedium)
	if g.Fails(&med) {
		t.Error("MEDIUM fails at the default threshold")
	}
	supp := high
	supp.Suppressions = []scanners.Suppression{{Kind: "external", Justification: "accepted risk"}}
	if g.Fails(&supp) {
		t.Error("a suppressed finding fails the build")
	}
	absent := high
	absent.BaselineState = "absent"
	if g.Fails(&absent) {
		t.Error("an absent finding fails the build")
	}
	g.NewOnly = true
	unchanged := high
	unchanged.BaselineState = "unchanged"
	if g.Fails(&unchanged) {
		t.Error("new-only: an unchanged finding fails the build")
	}
	fresh := high
	fresh.BaselineState = "new"
	if !g.Fails(&fresh) {
		t.Error("new-only: a new finding does not fail the build")
	}
}

func TestDecideAndExitCode(t *testing.T) {
	g := Gate{Thresholds: DefaultThresholds()}
	supp := finding("secrets", scanners.SeverityCritical)
	supp.Suppressions = []scanners.Suppression{{Kind: "inSource"}}
	results := []scanners.Result{
		{Engine: "secrets", Status: scanners.Status{State: scanners.Succeeded}, Findings: []scanners.Finding{finding("secrets", scanners.SeverityHigh), supp}},
		{Engine: "iac", Findings: []scanners.Finding{finding("iac", scanners.SeverityLow)}, Status: scanners.Status{State: scanners.Partial}},
	}
	v := g.Decide(results)
	if v.Pass || v.Failing != 1 || v.Total != 2 || v.Suppressed != 1 || v.ExitCode() != ExitPolicyFailure {
		t.Errorf("verdict = %+v", v)
	}
	if v.Counts["secrets"]["HIGH"] != 1 || v.Counts["iac"]["LOW"] != 1 || len(v.PartialEngines) != 1 {
		t.Errorf("counts = %+v", v)
	}
	results[1].Status.State = scanners.Failed
	if v := g.Decide(results); v.ExitCode() != ExitScannerFailed {
		t.Errorf("an engine failure must exit %d, got %d", ExitScannerFailed, v.ExitCode())
	}
	g.Thresholds = Thresholds{Default: Threshold{Never: true}}
	if v := g.Decide(results[:1]); !v.Pass || v.ExitCode() != ExitPass {
		t.Errorf("--fail-on none: %+v", v)
	}
}
