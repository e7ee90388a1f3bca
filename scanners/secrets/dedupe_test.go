package secrets

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/zricethezav/gitleaks/v8/report"
)

// TestDedupeOfALongLine: the findings of one long line (a minified bundle
// of a token every 64 bytes: 24 MiB hold 400,000) are deduplicated in time
// that grows with their number, not its square. Before, each was compared
// with every other finding of its line: 100,000 took minutes.
func TestDedupeOfALongLine(t *testing.T) {
	const n = 100_000
	findings := make([]report.Finding, n)
	for i := range findings {
		col := 1 + 64*i
		findings[i] = report.Finding{RuleID: "github-pat", File: "bundle.min.js", StartLine: 1, EndLine: 1, StartColumn: col, EndColumn: col + 39}
	}
	start := time.Now()
	got := dedupe(findings, func(string) ruleClass { return classBase })
	took := time.Since(start)
	if len(got) != n {
		t.Errorf("%d findings kept of %d distinct ones", len(got), n)
	}
	if took > 10*time.Second {
		t.Errorf("deduplicating %d findings of one line took %s", n, took.Round(time.Millisecond))
	}
}

// TestDedupeKeepsItsRules: on random findings of a few lines (overlapping,
// identical, of three classes), dedupe keeps what the rules say: a
// finding is dropped when an identical one comes first, or when an
// overlapping one of the same line wins over it.
func TestDedupeKeepsItsRules(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 1))
	class := func(id string) ruleClass {
		switch id[0] {
		case 'e':
			return classExtra
		case 'h':
			return classHardcoded
		}
		return classBase
	}
	for round := range 2000 {
		findings := make([]report.Finding, 1+r.IntN(12))
		for i := range findings {
			s := 1 + r.IntN(30)
			findings[i] = report.Finding{RuleID: []string{"b1", "b2", "e1", "e2", "h1"}[r.IntN(5)], File: "f", StartLine: 1 + r.IntN(2),
				StartColumn: s, EndColumn: s + r.IntN(10) - 2}
		}
		want := dedupeReference(findings, class)
		if got := dedupe(findings, class); !slices.EqualFunc(got, want, func(a, b report.Finding) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
			t.Fatalf("round %d: dedupe(%v)\n = %v\nwant %v", round, findings, got, want)
		}
	}
}

// dedupeReference states dedupe's rules as plainly as they read, every
// finding against every other one.
func dedupeReference(findings []report.Finding, class func(id string) ruleClass) []report.Finding {
	var out []report.Finding
	for i, f := range findings {
		drop := false
		for j, g := range findings {
			if j == i || g.File != f.File || g.Commit != f.Commit || g.StartLine != f.StartLine ||
				!(f.StartColumn <= g.EndColumn && g.StartColumn <= f.EndColumn) {
				continue
			}
			if g.RuleID == f.RuleID && g.StartColumn == f.StartColumn && g.EndColumn == f.EndColumn {
				drop = drop || j < i
				continue
			}
			cg, cf := class(g.RuleID), class(f.RuleID)
			lg, lf := g.EndColumn-g.StartColumn, f.EndColumn-f.StartColumn
			drop = drop || cg < cf || (cg == cf && cf != classBase && (lg > lf || (lg == lf && g.RuleID < f.RuleID)))
		}
		if !drop {
			out = append(out, f)
		}
	}
	return out
}
