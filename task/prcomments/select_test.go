package prcomments

import (
	"strings"
	"testing"
)

func TestSplitOrdersAndAnchors(t *testing.T) {
	changed := map[string][2]int{"infra/main.tf": {10, 20}, "k8s/app.yaml": {1, 1}}
	isChanged := func(p string, line int) bool {
		r, ok := changed[p]
		return ok && line >= r[0] && line <= r[1]
	}
	fs := []Finding{
		{Fingerprint: "low", Severity: "low", Path: "infra/main.tf", StartLine: 12, EndLine: 12},
		{Fingerprint: "spans", Severity: "medium", Path: "infra/main.tf", StartLine: 5, EndLine: 10},
		{Fingerprint: "before", Severity: "critical", Path: "infra/main.tf", StartLine: 1, EndLine: 9},
		{Fingerprint: "crit", Severity: "CRITICAL", Path: "k8s/app.yaml", StartLine: 1},
		{Fingerprint: "image", Severity: "critical", Path: "", StartLine: 0},
		{Fingerprint: "high2", Severity: "high", Path: "infra/main.tf", StartLine: 20, EndLine: 25},
		{Fingerprint: "high1", Severity: "high", Path: "infra/main.tf", StartLine: 15, EndLine: 15},
	}
	on, elsewhere := Split(fs, isChanged)
	var got []string
	for _, f := range on {
		got = append(got, f.Fingerprint)
	}
	if want := "crit high1 high2 spans low"; strings.Join(got, " ") != want {
		t.Errorf("threaded %q, want %q", strings.Join(got, " "), want)
	}
	if len(elsewhere) != 2 || elsewhere[0].Fingerprint != "image" || elsewhere[1].Fingerprint != "before" {
		t.Errorf("elsewhere %+v, want the image's finding, then the one before the change", elsewhere)
	}
	if fs[0].Fingerprint != "low" {
		t.Error("Split reordered its argument")
	}
}

func TestSummaryBody(t *testing.T) {
	got := SummaryBody(Summary{Failing: map[string]int{"high": 3, "critical": 1, "low": 0}, Threaded: 25, Overflow: 175,
		Elsewhere: 4, Suppressed: 2, BuildURL: "https://dev.azure.com/acme/web/_build/results?buildId=7"})
	for _, want := range []string{"gate failed", "| CRITICAL | 1 |\n| HIGH | 3 |\n", "25 on lines", "175 more", "4 elsewhere",
		"2 suppressed", "](https://dev.azure.com/acme/web/_build/results?buildId=7)"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "LOW") {
		t.Errorf("a severity with no failing finding is listed:\n%s", got)
	}
	got = SummaryBody(Summary{Passed: true})
	if !strings.Contains(got, "gate passed") || !strings.Contains(got, "No finding fails") || strings.Contains(got, "more on changed") {
		t.Errorf("passing summary:\n%s", got)
	}
}
