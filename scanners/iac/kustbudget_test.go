package iac

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	tg "github.com/tollgate/tollgate/scanners"
)

// TestKustomizeBuildBudget: a build past its budget is abandoned with a
// notification naming the kustomization (error level: the unit, whose
// result depends on the machine's speed, is not kept in the result cache),
// and its files are checked as loose files; the scan does not wait for it.
func TestKustomizeBuildBudget(t *testing.T) {
	saved := kustomizeBudget
	kustomizeBudget = time.Nanosecond
	t.Cleanup(func() { kustomizeBudget = saved })
	tgt, err := tg.Walk(context.Background(), "testdata/kustomize", tg.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := New(Options{}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	abandoned := 0
	for _, n := range res.Status.Notifications {
		if n.Code == "kustomize-build" && strings.Contains(n.Message, "took longer than 1ns and was abandoned") && n.Level == tg.LevelError {
			abandoned++
		}
	}
	loose := 0
	for _, f := range res.Findings {
		if f.Location.Path == "base/deployment.yaml" && !strings.Contains(f.Message, "rendering") {
			loose++
		}
	}
	if abandoned == 0 || loose == 0 {
		t.Errorf("%d builds abandoned, %d loose findings on the base: want both", abandoned, loose)
	}
}
