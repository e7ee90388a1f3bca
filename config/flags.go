package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
	"github.com/tollgate/tollgate/scanners/gitrepo"
	"github.com/tollgate/tollgate/vulndb"
)

// ErrHelp is returned when the user asked for help.
var ErrHelp = pflag.ErrHelp

// UsageError is a mistake in the command line, the environment or the
// configuration file: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErr(err error) error {
	if err == nil || errors.Is(err, ErrHelp) {
		return err
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return err
	}
	return &UsageError{Err: err}
}

// flagSet registers every setting as a flag. Value flags keep every
// occurrence, so repeatable ones (--fail-on, --exclude) apply in order.
type flagSet struct {
	fs     *pflag.FlagSet
	values map[string]*[]string
	bools  map[string]*bool
	config *string
}

func newFlagSet(out io.Writer, settings []scanners.Setting) *flagSet {
	f := &flagSet{
		fs:     pflag.NewFlagSet("tollgate scan", pflag.ContinueOnError),
		values: map[string]*[]string{},
		bools:  map[string]*bool{},
	}
	f.fs.SetOutput(out)
	f.fs.SortFlags = false
	for _, s := range settings {
		if s.Flag == "" {
			continue // a .tollgate.yaml key only
		}
		usage := s.Usage
		if s.Default != "" && !s.Bool { // pflag prints a boolean's default itself
			usage += " (default " + s.Default + ")"
		}
		usage += "; env " + s.Env() + "; " + keyHelp(s)
		if s.Bool {
			f.bools[s.Flag] = f.fs.BoolP(s.Flag, s.Short, s.Default == "true", usage)
			continue
		}
		vals := &[]string{}
		f.values[s.Flag] = vals
		arg := s.Arg
		if arg == "" {
			arg = "VALUE"
		}
		f.fs.VarP(&listValue{vals: vals, arg: arg}, s.Flag, s.Short, usage)
	}
	f.config = f.fs.StringP("config", "c", "", "read settings from `FILE` (default: "+DefaultFile+" at the scan root); env TOLLGATE_CONFIG")
	return f
}

// listValue keeps every occurrence of a value flag, in order; its Type is the
// argument's name in help (FILE, SEVERITY), not pflag's "stringArray".
type listValue struct {
	vals *[]string
	arg  string
}

func (l *listValue) Set(v string) error { *l.vals = append(*l.vals, v); return nil }
func (l *listValue) String() string     { return strings.Join(*l.vals, ",") }
func (l *listValue) Type() string       { return l.arg }

// Usage writes the flags of `tollgate scan` with the engines' own.
func Usage(w io.Writer, engines scanners.Registry) {
	fmt.Fprint(w, newFlagSet(io.Discard, Settings(engines)).fs.FlagUsages())
}

// Settings lists every setting of a run with these engines: Tollgate's,
// then each engine's (for the task's inputs and the documentation; their
// Set functions write to a throwaway Options).
func Settings(engines scanners.Registry) []scanners.Setting {
	o := Defaults(engines)
	return o.allSettings()
}

// Parse builds the scan's Options from its arguments (those after "scan"),
// the environment and the configuration file. Precedence: flag, then
// TOLLGATE_* variable, then file, then default.
//
// The configuration file is the pipeline author's when named (--config,
// TOLLGATE_CONFIG): every key applies. Otherwise it is the checkout's own
// .tollgate.yaml, which is repository policy only (see setting.repo), read
// through the checkout's confined reader; in a pull-request build it is read
// from the target branch (see PolicySource).
//
// engines are the engines the run knows (scan.Builtin().Infos()): the
// names and aliases --scanners, --fail-on and --engine-timeout accept.
func Parse(ctx context.Context, engines scanners.Registry, args []string, getenv func(string) string) (Options, error) {
	o, _, err := parse(ctx, engines, args, getenv, false)
	return o, err
}

// ParseMerge builds the Options of `tollgate merge` (the scan's, read the
// same way from --path's checkout, so that the gate, the baseline and the
// policy source are the scan's) and returns the shard logs to merge.
func ParseMerge(ctx context.Context, engines scanners.Registry, args []string, getenv func(string) string) (Options, []string, error) {
	o, logs, err := parse(ctx, engines, args, getenv, true)
	if err != nil {
		return o, nil, err
	}
	if len(logs) == 0 {
		return Options{}, nil, usageErr(errors.New("merge takes the shards' SARIF logs: tollgate merge --sarif OUT shard-1.sarif shard-2.sarif ..."))
	}
	if o.Shard != (scanners.Shard{}) {
		return Options{}, nil, usageErr(errors.New("--shard names the part a scan does; merge takes every part's log"))
	}
	return o, logs, nil
}

// MergeUsage writes the flags of `tollgate merge` that scan does not have.
func MergeUsage(w io.Writer) {
	fs := pflag.NewFlagSet("tollgate merge", pflag.ContinueOnError)
	fs.String("path", ".", "the checkout (`DIR`) whose repository policy (.tollgate.yaml, the baseline it names) the gate follows")
	fmt.Fprint(w, fs.FlagUsages())
}

func parse(ctx context.Context, engines scanners.Registry, args []string, getenv func(string) string, merge bool) (Options, []string, error) {
	o := Defaults(engines)
	all := o.allSettings() // bound to o
	f := newFlagSet(io.Discard, all)
	var path *string
	if merge {
		path = f.fs.String("path", ".", "")
	}
	if err := f.fs.Parse(args); err != nil {
		return Options{}, nil, usageErr(err)
	}
	rest := f.fs.Args()
	switch {
	case merge:
		o.Path = *path
	case len(rest) == 0:
	case len(rest) == 1:
		o.Path = rest[0]
	default:
		return Options{}, nil, usageErr(fmt.Errorf("scan takes one path, got %d: %q", len(rest), rest))
	}
	if err := o.load(ctx, f, all, getenv); err != nil {
		return Options{}, nil, err
	}
	if !merge {
		rest = nil
	}
	return o, rest, nil
}

// load reads the environment, the configuration file and the flags into o,
// through its settings (all, bound to o).
func (o *Options) load(ctx context.Context, f *flagSet, all []scanners.Setting, getenv func(string) string) error {
	if fi, err := os.Stat(o.Path); err != nil {
		return usageErr(fmt.Errorf("scan path: %w", err))
	} else if !fi.IsDir() {
		return usageErr(fmt.Errorf("scan path %s: not a directory", o.Path))
	}
	root, err := checkout.Open(o.Path)
	if err != nil {
		return usageErr(err)
	}
	defer root.Close()
	// The repository, found once (gitrepo.Open): every git fact of the
	// scan is asked of it. Nil when the scan root is not in a git checkout.
	o.Repo, err = gitrepo.Open(ctx, o.Path)
	if err != nil {
		o.Repo = nil
		if !errors.Is(err, gitrepo.ErrNoGit) {
			return usageErr(err)
		}
	}
	for _, d := range o.Repo.Embedded() {
		o.Warnings = append(o.Warnings, scanners.Notification{Level: scanners.LevelWarning, Code: "embedded-git-dir",
			Message: fmt.Sprintf("%s is laid out as a git directory (HEAD, objects/, refs/): git would have used it as the repository; Tollgate never does, and reads the repository of %s", d, o.Repo.Top())})
	}

	fromFlag := func(s scanners.Setting) bool { return s.Flag != "" && f.fs.Changed(s.Flag) }
	fromEnv := func(s scanners.Setting) bool { return s.Flag != "" && getenv(s.Env()) != "" }

	// Where policy comes from is the pipeline's to say, and is known before
	// any policy file is read.
	policyFrom := getenv("TOLLGATE_POLICY_FROM")
	if vs := *f.values["policy-from"]; len(vs) > 0 {
		policyFrom = vs[len(vs)-1]
	}
	if err := validPolicyFrom(policyFrom); err != nil {
		return usageErr(err)
	}
	var notes []scanners.Notification
	o.Policy, notes = resolvePolicy(ctx, o.Repo, policyFrom, getenv)
	o.Warnings = append(o.Warnings, notes...)

	cfgPath := *f.config
	if cfgPath == "" {
		cfgPath = getenv("TOLLGATE_CONFIG")
	}
	skip := func(s scanners.Setting) bool { return fromFlag(s) || fromEnv(s) }
	// What the pipeline names (flags, variables, its configuration file):
	// in a pull-request build, its files inside the checkout are read from
	// the target branch (see pinned.go).
	pipe := o.pipelineSettings(ctx, root, all)
	if cfgPath != "" {
		b, err := o.readPipelineConfig(ctx, root, cfgPath)
		if err != nil {
			return usageErr(fmt.Errorf("config %s: %w", cfgPath, checkoutCause(err)))
		}
		fc, err := parseConfig(b, cfgPath, pipe)
		if err != nil {
			return usageErr(err)
		}
		if _, err := fc.apply(o, skip, source{trusted: true, name: cfgPath}); err != nil {
			return usageErr(err)
		}
		o.ConfigFile = cfgPath
	} else if err := o.repoConfig(ctx, root, all, skip); err != nil {
		return usageErr(err)
	}

	for _, s := range pipe {
		if fromFlag(s) || !fromEnv(s) {
			continue
		}
		if err := s.Set(getenv(s.Env())); err != nil {
			return usageErr(fmt.Errorf("%s: %w", s.Env(), err))
		}
	}
	for _, s := range pipe {
		if !fromFlag(s) {
			continue
		}
		if s.Bool {
			if err := s.Set(strconv.FormatBool(*f.bools[s.Flag])); err != nil {
				return usageErr(fmt.Errorf("--%s: %w", s.Flag, err))
			}
			continue
		}
		for _, v := range *f.values[s.Flag] {
			if err := s.Set(v); err != nil {
				return usageErr(fmt.Errorf("--%s: %w", s.Flag, err))
			}
		}
	}
	// What engines take from the environment alone: a pull request's base
	// as the CI system names it, a registry password.
	for _, e := range o.Registry {
		if d, ok := o.EngineOptions[e.Name].(scanners.EnvDefaults); ok {
			d.FromEnv(getenv)
		}
	}
	if o.CacheDir == "" {
		o.CacheDir = vulndb.DefaultCacheDir(getenv)
	}
	if err := o.Validate(); err != nil {
		return usageErr(err)
	}
	if err := o.requested(all, fromFlag, fromEnv); err != nil {
		return usageErr(err)
	}
	if o.Gate.NewOnly && o.Baseline == "" && o.RepoBaseline == "" {
		src, _ := settingSource(all, "new-only", fromFlag, fromEnv)
		return usageErr(fmt.Errorf("%s counts only the findings that are new against a baseline: give --baseline FILE or the baseline key (without one, every finding is new)", src))
	}
	if o.Policy.PullRequest {
		o.policyChanges(ctx, root)
	}
	return nil
}

// repoConfig reads the checkout's own .tollgate.yaml from the policy
// source: a file the reader refuses (a FIFO, a link out of the root, too
// large) is a warning and the defaults apply; a file that does not parse is
// a configuration error (exit 2), as it is on the target branch.
func (o *Options) repoConfig(ctx context.Context, root *checkout.Root, all []scanners.Setting, skip func(scanners.Setting) bool) error {
	files := o.Policy.Files(ctx, root)
	name := DefaultFile
	if o.Policy.Commit != "" {
		name += " in " + files.Origin()
	}
	b, err := files.ReadFile(DefaultFile, maxConfigSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		o.Warnings = append(o.Warnings, scanners.Notification{Level: scanners.LevelWarning, Code: "config-refused", Path: DefaultFile,
			Message: fmt.Sprintf("%s was not read (%v); the built-in defaults apply", name, checkoutCause(err))})
		return nil
	}
	fc, err := parseConfig(b, name, all)
	if err != nil {
		return err
	}
	warnings, err := fc.apply(o, skip, source{root: root, dir: ".", name: name})
	o.Warnings = append(o.Warnings, warnings...)
	if err != nil {
		return err
	}
	o.ConfigFile = filepath.Join(root.Dir(), DefaultFile)
	return nil
}

// policyChanges lists the policy files the pull request changes, warns once
// for each, and reads the pull request's own .tollgate.yaml for the ignore
// entries it would add (shown as under review, never applied). When the
// target cannot be read, nothing can be compared: the pull request's own
// entries are all shown as proposals.
func (o *Options) policyChanges(ctx context.Context, root *checkout.Root) {
	ownConfig := o.Policy.Defaults
	if !o.Policy.Defaults {
		paths := PolicyFileNames()
		if o.RepoBaseline != "" {
			paths = append(paths, o.RepoBaseline)
		}
		for _, e := range o.Registry {
			if pf, ok := o.EngineOptions[e.Name].(scanners.PolicyFiler); ok {
				paths = append(paths, pf.PolicyFiles()...)
			}
		}
		target := o.Policy.Files(ctx, root)
		o.Policy.Changed = policyChanges(target, root, paths)
		for _, c := range o.Policy.Changed {
			o.Warnings = append(o.Warnings, scanners.Notification{Level: scanners.LevelWarning, Code: "policy-changed", Path: c.Path,
				Message: fmt.Sprintf("this pull request changes the policy file %s (%s); in a pull-request build policy comes from %s, so the change is shown, not applied: findings it would hide still count (with policySource: checkout / --policy-from checkout the pull request's own policy applies)",
					c.Path, c.Change, target.Origin())})
			if c.Path == DefaultFile && c.Change != "deleted" {
				ownConfig = true
			}
		}
	}
	if !ownConfig {
		return
	}
	b, err := root.ReadFile(DefaultFile, maxConfigSize)
	if err != nil {
		return
	}
	fc, err := parseFile(b, o.allSettings())
	if err != nil {
		return
	}
	for _, r := range fc.ignores {
		r.Source = "the pull request's " + r.Source
		o.ProposedIgnores = append(o.ProposedIgnores, r)
	}
}

func validPolicyFrom(v string) error {
	if strings.HasPrefix(v, "-") || strings.ContainsAny(v, " \t\n\x00") {
		return fmt.Errorf("--policy-from: %q is not auto, checkout or a git ref", v)
	}
	return nil
}

// checkoutCause shortens the reader's refusal to its reason.
func checkoutCause(err error) error {
	var re *checkout.RefusedError
	if errors.As(err, &re) {
		return errors.New(re.Reason)
	}
	return err
}

// requested makes sure what the user named for an engine to scan (an
// image) is scanned or the run says why: named on the command line together
// with --scanners that leave the engine out, it is a usage error naming
// both; when one of the two comes from a configuration file, a warning.
func (o *Options) requested(all []scanners.Setting, fromFlag, fromEnv func(scanners.Setting) bool) error {
	if len(o.Engines) == 0 {
		return nil
	}
	where := func(flag string) (string, bool) { return settingSource(all, flag, fromFlag, fromEnv) }
	for _, e := range o.Registry {
		r, ok := o.EngineOptions[e.Name].(scanners.Requester)
		if !ok || slices.Contains(o.Engines, e.Name) {
			continue
		}
		flag, targets := r.Requested()
		if len(targets) == 0 {
			continue
		}
		sw, sCLI := where("scanners")
		tw, tCLI := where(flag)
		if sCLI && tCLI {
			return fmt.Errorf("%s names %s(s) to scan (%s) but %s %s leaves the %s engine out: add %s to %s, or drop %s",
				tw, flag, strings.Join(targets, ", "), sw, strings.Join(o.Engines, ","), e.Name, e.Name, sw, tw)
		}
		o.Warnings = append(o.Warnings, scanners.Notification{Level: scanners.LevelWarning, Code: flag + "s-not-scanned",
			Message: fmt.Sprintf("%d %s(s) named by %s are not scanned: %s (%s) leaves the %s engine out; add %s to it",
				len(targets), flag, tw, sw, strings.Join(o.Engines, ","), e.Name, e.Name)})
	}
	return nil
}

// settingSource names where a setting's value came from, as the user wrote
// it: the flag, its environment variable, or its key in a configuration
// file; the bool is true for the pipeline's own (flag or variable).
func settingSource(all []scanners.Setting, flag string, fromFlag, fromEnv func(scanners.Setting) bool) (string, bool) {
	for _, s := range all {
		if s.Flag != flag {
			continue
		}
		switch {
		case fromFlag(s):
			return "--" + flag, true
		case fromEnv(s):
			return s.Env(), true
		}
		return s.FileKey() + " in " + DefaultFile, false
	}
	return flag, false
}
