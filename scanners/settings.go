package scanners

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Setting is one option a user sets: a flag, its environment variable
// (TOLLGATE_<FLAG>), a .tollgate.yaml key and, where the pipeline task has
// one, a task input, all read as the same string syntax and given to Set.
// Package config declares Tollgate's own settings; each engine declares its
// own on its options value (EngineOptions), and config reads them all alike.
type Setting struct {
	// Flag is the flag's name; "" for a key that only .tollgate.yaml has
	// (Map).
	Flag  string
	Short string
	// Arg names the value in help when Usage does not (`FILE` does).
	Arg string
	// Key is the .tollgate.yaml key path ("secrets.mode"); "" means Flag.
	Key     string
	Usage   string
	Default string
	Bool    bool
	// Path marks file paths: resolved against the configuration file's
	// folder, and confined to the root in the checkout's own file.
	Path bool
	// Writes marks a path Tollgate writes (a report, a cache), never reads
	// as an input: not read from a pull request's target branch.
	Writes bool
	// Repo marks what repository policy (the checkout's own .tollgate.yaml)
	// may set: what to scan and how strictly. Every other setting reaches
	// out of the checkout (the network, the machine, the report files, code
	// to run) and is the pipeline author's alone.
	Repo bool
	// Map: the key's value is a mapping; Set gets each entry as
	// "key=value".
	Map bool
	// TaskInput is the pipeline task's input that passes the flag ("": none);
	// TaskLines splits the input's lines into one flag each.
	TaskInput string
	TaskLines bool
	// Set applies a value.
	Set func(v string) error
	// SetRepo, when not nil, applies the value of the checkout's own
	// .tollgate.yaml instead of Set, for options that keep repository
	// values apart (read from the policy source, pulled without the
	// pipeline's credentials). Path values come root-relative. warn reports
	// a value it drops.
	SetRepo func(v string, warn func(msg string)) error
}

// Env is the setting's environment variable ("" for a file-only key).
func (s Setting) Env() string {
	if s.Flag == "" {
		return ""
	}
	return "TOLLGATE_" + strings.ToUpper(strings.ReplaceAll(s.Flag, "-", "_"))
}

// FileKey is the setting's .tollgate.yaml key.
func (s Setting) FileKey() string {
	if s.Key != "" {
		return s.Key
	}
	return s.Flag
}

// EngineOptions is an engine's own options value, made fresh for each run
// by EngineInfo.Options: Bind returns its settings, bound to it.
type EngineOptions interface {
	Bind() []Setting
}

// EnvDefaults is EngineOptions that take values from the environment once
// every setting is read: a pull request's base branch, a registry password
// (secrets never come from flags or files).
type EnvDefaults interface {
	FromEnv(getenv func(string) string)
}

// Requester is EngineOptions that name targets the user asked for by name
// (--image): a run that leaves the engine out says so.
type Requester interface {
	// Requested returns the flag that names them and the targets.
	Requested() (flag string, targets []string)
}

// PolicyFiler is EngineOptions that name repository policy files (a
// gitleaks config), root-relative: a pull request that changes one is
// reported like a change of .tollgate.yaml.
type PolicyFiler interface {
	PolicyFiles() []string
}

// SplitList splits a comma-separated value, trimming and dropping empty
// parts.
func SplitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// SetBool parses a setting's boolean value into dst.
func SetBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("invalid boolean %q", v)
	}
	*dst = b
	return nil
}

// SetCount parses a setting's non-negative number into dst.
func SetCount(dst *int, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return fmt.Errorf("invalid number %q", v)
	}
	*dst = n
	return nil
}

// AddGlobs appends a comma list of path globs (doublestar syntax) to dst,
// refusing an invalid one.
func AddGlobs(dst *[]string, v string) error {
	for _, g := range SplitList(v) {
		if !doublestar.ValidatePattern(g) {
			return fmt.Errorf("invalid glob %q", g)
		}
		*dst = append(*dst, g)
	}
	return nil
}

// ParseSize reads a byte size: "1048576", "50MB", "1.5GiB", "512k".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
	} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q (e.g. 50MB, 1GiB, 1048576)", s)
	}
	return int64(f * float64(mult)), nil
}
