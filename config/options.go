// Package config builds the one Options value a scan runs with, from
// command-line flags, TOLLGATE_* environment variables and the
// .tollgate.yaml file, in that order of precedence.
package config

import (
	"fmt"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/gitrepo"
)

// PROptions are the pull-request decoration's settings: review threads for
// failing findings on changed lines, a summary comment and a status.
type PROptions struct {
	Comments bool
	// MaxComments caps Tollgate's open threads on one pull request.
	MaxComments int
	// Required makes a decoration that fails end the run with an error.
	Required bool
}

// Options is everything one scan needs.
type Options struct {
	// Path is the scan root as given.
	Path string
	// Registry is the engines the run knows: --scanners, --fail-on and
	// --engine-timeout name them (Validate turns aliases into names).
	Registry scanners.Registry
	// Engines are the engines to run (--scanners); empty means all that apply.
	Engines []string
	// SARIF is the SARIF log's path; empty means none is written.
	SARIF string
	// Format is the report on Output: one of report.Formats.
	Format string
	// Output is the report's path; empty means stdout.
	Output string
	Gate   policy.Gate
	// ConfigFile is the .tollgate.yaml that was read, if any.
	ConfigFile string
	Quiet      bool
	Debug      bool
	// PR is the pull-request decoration (Azure Repos).
	PR PROptions
	// Timeout bounds the whole scan (0: none).
	Timeout time.Duration
	// EngineTimeouts bound each engine ("" key: every engine).
	EngineTimeouts map[string]time.Duration
	MaxFileSize    int64
	MaxDepth       int
	// Exclude are path globs (doublestar syntax) no engine reads.
	Exclude []string
	// Category prefixes SARIF automationDetails.id.
	Category string
	// Baseline is a previous Tollgate SARIF log to compare against.
	Baseline string
	// RepoBaseline is a baseline the checkout's .tollgate.yaml names
	// (root-relative): read from the policy source, like every policy file.
	RepoBaseline string
	// UncheckedFiles is what a pull request's file that could not be
	// checked does: "fail" (default: a CRITICAL finding) or "warn".
	UncheckedFiles string
	// Ignore are .tollgate.yaml's ignore entries.
	Ignore []policy.IgnoreRule
	// ProposedIgnores are the ignore entries of a pull request's own
	// .tollgate.yaml when policy comes from the target branch: findings they
	// match are marked under review, still counting.
	ProposedIgnores []policy.IgnoreRule
	// PolicyFrom is --policy-from: auto, checkout or a git ref.
	PolicyFrom string
	// Policy says where repository policy files are read from.
	Policy PolicySource
	// Repo is the git repository of the scan root, opened once for every
	// git fact the scan needs (nil: not a git checkout).
	Repo *gitrepo.Repo
	// pins are the target branch's copies of the files the pipeline names
	// inside the checkout, in a pull-request build (Close removes them).
	pins pinned
	// Warnings are configuration problems that did not stop the scan (a key
	// the checkout's .tollgate.yaml may not set, a refused policy file, a
	// pull request's policy change): logged, and in every engine's SARIF run
	// as toolConfigurationNotifications.
	Warnings []scanners.Notification

	// Shard is the part of the scan this run does (zero: all of it).
	Shard scanners.Shard
	// NoResultCache turns the result cache off; ResultCacheSize bounds it
	// (it lives in the cache directory, under results/).
	NoResultCache   bool
	ResultCacheSize int64

	// CacheDir holds the vulnerability DB (CacheDir/db) and the result cache
	// (CacheDir/results).
	CacheDir string
	// EngineOptions are the engines' own options by engine name, made by
	// each registry entry's Options and set by its settings.
	EngineOptions map[string]scanners.EngineOptions
}

// DefaultTimeout bounds a scan unless --timeout says otherwise (0: none),
// in the CLI as in the task: no content of the checkout holds an agent
// until the job's own limit; what the engines finished is kept (exit 3).
const DefaultTimeout = 30 * time.Minute

// Defaults returns the options of a scan with no flags, env or file, for
// the engines a run knows.
func Defaults(engines scanners.Registry) Options {
	o := Options{
		Path:          ".",
		Registry:      engines,
		Format:        "table",
		Gate:          policy.Gate{Thresholds: policy.DefaultThresholds()},
		MaxFileSize:   scanners.DefaultMaxFileSize,
		MaxDepth:      scanners.DefaultMaxDepth,
		Timeout:       DefaultTimeout,
		EngineOptions: map[string]scanners.EngineOptions{},
	}
	for _, e := range engines {
		if e.Options != nil {
			o.EngineOptions[e.Name] = e.Options()
		}
	}
	return o
}

// Validate checks values that flags and files cannot type-check.
func (o *Options) Validate() error {
	if err := o.resolveEngines(); err != nil {
		return err
	}
	if _, err := report.FormatByName(o.Format); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	if o.MaxFileSize <= 0 {
		return fmt.Errorf("--max-file-size must be positive")
	}
	if o.Timeout < 0 {
		return fmt.Errorf("--timeout must not be negative")
	}
	for e, d := range o.EngineTimeouts {
		if d < 0 {
			return fmt.Errorf("--engine-timeout %s must not be negative", e)
		}
	}
	return nil
}

// EngineTimeout is the time limit of one engine (0: none of its own).
func (o *Options) EngineTimeout(engine string) time.Duration {
	if d, ok := o.EngineTimeouts[engine]; ok {
		return d
	}
	return o.EngineTimeouts[""]
}

// resolveEngines turns the engine names of --scanners, --fail-on and
// --engine-timeout into the registry's names, refusing unknown ones.
func (o *Options) resolveEngines() error {
	for i, s := range o.Engines {
		e, err := o.Registry.Resolve(s)
		if err != nil {
			return fmt.Errorf("--scanners: %w", err)
		}
		o.Engines[i] = e
	}
	if err := o.Gate.Thresholds.Resolve(o.Registry); err != nil {
		return fmt.Errorf("--fail-on: %w", err)
	}
	if len(o.EngineTimeouts) > 0 {
		resolved := make(map[string]time.Duration, len(o.EngineTimeouts))
		for name, d := range o.EngineTimeouts {
			if name != "" {
				e, err := o.Registry.Resolve(name)
				if err != nil {
					return fmt.Errorf("--engine-timeout: %w", err)
				}
				name = e
			}
			resolved[name] = d
		}
		o.EngineTimeouts = resolved
	}
	return nil
}

// Matcher returns a function that tells whether a path is excluded by any glob.
func Matcher(globs ...[]string) func(path string, dir bool) bool {
	var all []string
	for _, g := range globs {
		all = append(all, g...)
	}
	if len(all) == 0 {
		return nil
	}
	return func(p string, dir bool) bool {
		for _, g := range all {
			if ok, _ := doublestar.Match(g, p); ok {
				return true
			}
			// "dir/**" also names the directory itself.
			if dir {
				if ok, _ := doublestar.Match(g, p+"/"); ok {
					return true
				}
			}
		}
		return false
	}
}
