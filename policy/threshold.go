// Package policy decides what the findings mean for the build: steps that
// suppress or classify findings (marking them, never dropping them), then the
// verdict against the severity thresholds.
package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/scanners"
)

// Threshold is the lowest severity that fails the build; Never means no
// severity does ("--fail-on none").
type Threshold struct {
	Severity scanners.Severity
	Never    bool
}

// String returns the flag spelling.
func (t Threshold) String() string {
	if t.Never {
		return "none"
	}
	return strings.ToLower(t.Severity.String())
}

// ParseThreshold reads critical|high|medium|low|unknown|none.
func ParseThreshold(s string) (Threshold, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "none" || s == "never" || s == "off" {
		return Threshold{Never: true}, nil
	}
	sev, err := scanners.ParseSeverity(s)
	if err != nil {
		return Threshold{}, fmt.Errorf("unknown severity %q (want critical, high, medium, low, unknown or none)", s)
	}
	return Threshold{Severity: sev}, nil
}

// Fails reports whether a finding of this severity crosses the threshold.
func (t Threshold) Fails(s scanners.Severity) bool {
	return !t.Never && s >= t.Severity
}

// Thresholds is the global threshold plus per-engine overrides.
type Thresholds struct {
	Default   Threshold
	PerEngine map[string]Threshold
	// order is the engines' report order, for String (set by Resolve).
	order []string
}

// DefaultThresholds fails on HIGH and above.
func DefaultThresholds() Thresholds {
	return Thresholds{Default: Threshold{Severity: scanners.SeverityHigh}}
}

// For returns the threshold of an engine.
func (t Thresholds) For(engine string) Threshold {
	if th, ok := t.PerEngine[engine]; ok {
		return th
	}
	return t.Default
}

// Set applies one --fail-on value onto t: "high", or a comma-separated
// list such as "secrets=low,iac=high" (a bare severity in the list sets the
// default).
func (t *Thresholds) Set(value string) error {
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		engine, sev, found := strings.Cut(part, "=")
		if !found {
			th, err := ParseThreshold(part)
			if err != nil {
				return err
			}
			t.Default = th
			continue
		}
		engine = strings.ToLower(strings.TrimSpace(engine))
		if engine == "" {
			return fmt.Errorf("no engine before '=' in %q", part)
		}
		th, err := ParseThreshold(sev)
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
		if t.PerEngine == nil {
			t.PerEngine = map[string]Threshold{}
		}
		t.PerEngine[engine] = th
	}
	return nil
}

// Resolve turns the engine names Set took (aliases too) into the
// registry's names, refusing unknown ones, and keeps the registry's order
// for String.
func (t *Thresholds) Resolve(engines scanners.Registry) error {
	resolved := make(map[string]Threshold, len(t.PerEngine))
	for name, th := range t.PerEngine {
		e, err := engines.Resolve(name)
		if err != nil {
			return err
		}
		resolved[e] = th
	}
	if len(t.PerEngine) > 0 {
		t.PerEngine = resolved
	}
	t.order = engines.Names()
	return nil
}

// String writes the thresholds back in --fail-on syntax, in the engines'
// report order (names outside it last, sorted).
func (t Thresholds) String() string {
	parts := []string{t.Default.String()}
	names := slices.Clone(t.order)
	var rest []string
	for e := range t.PerEngine {
		if !slices.Contains(names, e) {
			rest = append(rest, e)
		}
	}
	slices.Sort(rest)
	for _, e := range append(names, rest...) {
		if th, ok := t.PerEngine[e]; ok {
			parts = append(parts, e+"="+th.String())
		}
	}
	return strings.Join(parts, ",")
}
