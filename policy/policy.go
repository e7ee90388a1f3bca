package policy

import (
	"log/slog"

	"github.com/tollgate/tollgate/scanners"
)

// Step is one policy processor over every engine's results: it marks
// findings (suppressions, baseline states) or adds absent ones, and never
// drops a finding. Steps run in the order Apply is given them.
type Step interface {
	// Name identifies the step in logs.
	Name() string
	// Process marks results in place.
	Process(results []scanners.Result) error
}

// Apply runs the steps in order. A failing step is logged and recorded on
// every result as a configuration notification; the other steps still run.
func Apply(log *slog.Logger, results []scanners.Result, steps ...Step) {
	for _, s := range steps {
		if err := s.Process(results); err != nil {
			log.Error("policy step failed", "step", s.Name(), "error", err)
			for i := range results {
				results[i].Status.Config = append(results[i].Status.Config, scanners.Notification{
					Level: scanners.LevelError, Code: "policy-" + s.Name(), Message: err.Error()})
			}
		}
	}
	for i := range results {
		results[i].Sort()
	}
}

// suppress adds a suppression unless the same source already suppressed it.
func suppress(f *scanners.Finding, s scanners.Suppression) {
	for _, have := range f.Suppressions {
		if have.Source == s.Source {
			return
		}
	}
	f.Suppressions = append(f.Suppressions, s)
}

// ids are the IDs a finding answers to: its rule ID and the rule's aliases
// (old Trivy IDs such as KSV017 and AVD-KSV-0017), so users' existing
// ignore entries keep matching.
func ids(f *scanners.Finding) []string {
	out := []string{f.RuleID}
	if f.Misconfig != nil {
		out = append(out, f.Misconfig.Aliases...)
	}
	return out
}
