package scanners

import (
	"fmt"
	"slices"
	"strings"
)

// Engine names of the built-in engines, as they appear in flags,
// configuration and reports. The engines themselves are declared once, in
// the registry of package scan (scan/engines.go); the layers below it see
// them as a Registry of EngineInfo.
const (
	EngineSecrets = "secrets"
	EngineIaC     = "iac"
	EngineImage   = "image"
	EngineDeps    = "deps"
)

// EngineInfo is what the layers below package scan know of an engine: its
// names, its options and its task input.
type EngineInfo struct {
	// Name is the engine's name in flags, configuration, SARIF
	// (tollgate/engine) and the console.
	Name string
	// Aliases are other spellings --scanners, --fail-on and
	// --engine-timeout accept (lower case).
	Aliases []string
	// TaskInput is the pipeline task's input of the engine's own
	// threshold (failOnSecrets), "" for none.
	TaskInput string
	// Options makes the engine's options value with its defaults, for one
	// run: config binds its settings (flags, .tollgate.yaml keys, task
	// inputs) and keeps it in config.Options by the engine's name. nil: the
	// engine has no options.
	Options func() EngineOptions
}

// Registry lists the engines a run knows, in report order.
type Registry []EngineInfo

// Names lists the engines' names in report order.
func (r Registry) Names() []string {
	out := make([]string, len(r))
	for i, e := range r {
		out[i] = e.Name
	}
	return out
}

// Canonical returns the engine a name or alias means (case-insensitive).
func (r Registry) Canonical(name string) (string, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, e := range r {
		if e.Name == name || slices.Contains(e.Aliases, name) {
			return e.Name, true
		}
	}
	return name, false
}

// Resolve is Canonical with an error naming the engines for an unknown name.
func (r Registry) Resolve(name string) (string, error) {
	e, ok := r.Canonical(name)
	if !ok {
		return e, fmt.Errorf("unknown engine %q (want %s)", e, strings.Join(r.Names(), ", "))
	}
	return e, nil
}
