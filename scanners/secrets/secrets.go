// Package secrets finds credentials in the working tree with gitleaks' detector
// and rules, and reports them without ever carrying the secret's value.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/tollgate/tollgate/internal/versions"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
	"github.com/tollgate/tollgate/scanners/gitrepo"
)

// GitleaksVersion is the gitleaks module version Tollgate is built with.
const GitleaksVersion = versions.Gitleaks

// RegexEngine is the regular-expression engine gitleaks' rules run on: RE2
// (go-re2, as gitleaks' release binaries) when built with -tags gore2regex,
// which every Tollgate build script uses, else Go's regexp ("stdlib"),
// several times slower on large files.
const RegexEngine = glregexp.Version

const (
	// Redacted replaces a secret's value in every output.
	Redacted = "REDACTED"
	// allowSignature is gitleaks' inline allow comment.
	allowSignature = "gitleaks:allow"
	// configFile is read from the policy source (the scan root, or the
	// target branch of a pull request), as gitleaks reads it from the root.
	configFile = ".gitleaks.toml"
	// defaultMaxDecodeDepth matches the gitleaks CLI's --max-decode-depth default.
	defaultMaxDecodeDepth = 5
)

// Options configure the secrets engine.
type Options struct {
	// ConfigPath is a gitleaks TOML file the pipeline author named; empty
	// means RepoConfig, else .gitleaks.toml from Policy when present, else
	// gitleaks' default rules.
	ConfigPath string
	// RepoConfig is a root-relative gitleaks TOML that the repository's own
	// .tollgate.yaml names, read from Policy.
	RepoConfig string
	// Policy reads repository policy files: the checkout (nil: the target's
	// confined reader) or, in a pull-request build, the target branch.
	Policy checkout.Files
	// ReviewCheckoutConfig is set when Policy is not the checkout and the
	// pull request changes its gitleaks config: findings the checkout's
	// config would hide (allowlists, changed or removed rules) are marked
	// under review.
	ReviewCheckoutConfig bool
	// Severity of every secret (gitleaks has none); zero means HIGH.
	Severity scanners.Severity
	// RuleSeverity overrides Severity by rule ID; keys may be globs.
	RuleSeverity map[string]scanners.Severity
	// MaxArchiveDepth lets gitleaks look inside archives (0: not at all).
	MaxArchiveDepth int
	// Workers bounds how many files are read at once; 0 means 2 x CPUs.
	Workers int
	// Mode is worktree (the files as they are), commits (the commits a pull
	// request adds) or history (every commit); empty means worktree.
	Mode string
	// Since is the base of commits mode: a ref, or a pull request's target
	// branch. SinceFrom names where it came from, for messages.
	Since, SinceFrom string
	// Repo is the scan root's git repository (nil: not a git checkout),
	// which commits and history modes read.
	Repo *gitrepo.Repo
	// NoExtraRules turns off Tollgate's extra rules (rules/tollgate.toml).
	NoExtraRules bool
	// NoEmulatorAllowlist reports the emulators' published keys too
	// (rules/emulators.toml, otherwise allowed for every rule).
	NoEmulatorAllowlist bool
	// NoHardcoded turns off the hardcoded-credential class (passwords
	// under credential-named keys, credential stores, connection strings).
	NoHardcoded bool
	// Exclude are the engine's own path globs (--secrets-exclude): the
	// registry leaves those files out of its target.
	Exclude []string
	// Skip drops findings in excluded paths (every engine's and the
	// engine's own) in git modes (in worktree mode the walk already left
	// those files out).
	Skip func(path string, dir bool) bool
	// Cache keeps worktree results by file (nil: off).
	Cache *scanners.ResultCache
}

// Scan modes.
const (
	ModeWorktree = "worktree"
	ModeCommits  = "commits"
	ModeHistory  = "history"
)

// ValidateMode reports an unknown --secrets-mode.
func ValidateMode(m string) error {
	switch m {
	case "", ModeWorktree, ModeCommits, ModeHistory:
		return nil
	}
	return fmt.Errorf("unknown secrets mode %q (want worktree, commits or history)", m)
}

// Engine is the secrets engine.
type Engine struct {
	opts Options
	log  *slog.Logger
}

// New returns the secrets engine.
func New(opts Options, log *slog.Logger) *Engine {
	if opts.Severity == scanners.SeverityUnknown {
		opts.Severity = scanners.SeverityHigh
	}
	if opts.Workers <= 0 {
		opts.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	return &Engine{opts: opts, log: log}
}

// Name implements scanners.Engine.
func (s *Engine) Name() string { return scanners.EngineSecrets }

// Tool implements scanners.Engine.
func (s *Engine) Tool() scanners.Tool { return Tool() }

// Tool describes gitleaks for reports.
func Tool() scanners.Tool {
	return scanners.Tool{
		Name:           "gitleaks",
		FullName:       "Gitleaks secret detection (Tollgate secrets engine)",
		Version:        GitleaksVersion,
		InformationURI: "https://github.com/gitleaks/gitleaks",
	}
}

// Scan implements scanners.Engine.
func (s *Engine) Scan(ctx context.Context, t *scanners.Target) (res scanners.Result, err error) {
	res = scanners.Result{Engine: scanners.EngineSecrets, Tool: Tool()}
	defer func() {
		if err == nil {
			res.Status.Finish()
		}
	}()
	if err := ValidateMode(s.opts.Mode); err != nil {
		return res, err
	}
	if s.opts.Mode == "" || s.opts.Mode == ModeWorktree {
		for _, n := range t.SkippedNotifications(false, nil) {
			res.Status.Add(n)
		}
		t = t.Owned() // a file is a unit: a shard reads the files it owns
		if len(t.Files) == 0 {
			return res, nil // nothing to read: the rules need not be compiled
		}
		return s.scanWorktree(ctx, t, res)
	}
	src, err := s.readConfig(t)
	if err != nil {
		return res, err
	}
	e, err := s.compile(ctx, t, src)
	if err != nil {
		return res, err
	}
	findings, notes, prov, err := s.scanGit(ctx, t, e.dets)
	if err != nil {
		return res, err
	}
	for _, n := range notes {
		if n.Path == "" || t.Shard.Owns(n.Path) {
			res.Status.Add(n)
		}
	}
	res.Provenance = prov
	e.proposalNote(&res)
	rules := map[string]scanners.Rule{}
	for _, gf := range dedupe(findings, e.class) {
		f := e.convert(gf)
		if !t.Shard.Owns(f.Location.Path) {
			continue // the commits are read by every shard; a file's findings are its owner's
		}
		res.Findings = append(res.Findings, f)
		if _, ok := rules[f.RuleID]; !ok {
			rules[f.RuleID] = s.ruleOf(e.cfg, f.RuleID)
		}
	}
	for _, r := range rules {
		res.Rules = append(res.Rules, r)
	}
	return res, nil
}

// engine is the compiled configuration of one scan: the detectors, the
// rules' classes for dedupe and, in a pull-request build that changes the
// gitleaks config, the pull request's own rules to review findings by.
type engine struct {
	s       *Engine
	cfg     config.Config
	dets    *detectors
	geom    geometry // how a file is cut into fragments for these rules
	class   func(id string) ruleClass
	prop    *proposal
	propErr error
	// fallback says why the configuration's rules gave way to the defaults.
	fallback *scanners.Notification
}

// compile loads and compiles the configuration read by readConfig.
func (s *Engine) compile(ctx context.Context, t *scanners.Target, src configSource) (*engine, error) {
	cfg, added, err := s.loadConfig(src)
	var fallback *scanners.Notification
	var deep *scanners.NestingError
	var many *RuleBudgetError
	if src.content != nil && (errors.As(err, &deep) || errors.As(err, &many)) {
		// A configuration no parser should be given, or too large to
		// compile: the default rules still run, and the run says why the
		// configuration's did not.
		fallback = &scanners.Notification{Level: scanners.LevelError, Code: "config-over-budget", Path: src.rel,
			Message: fmt.Sprintf("%v; gitleaks' default rules and Tollgate's were applied instead of it", err)}
		if deep != nil {
			fallback.Line = deep.Line
		}
		cfg, added, err = s.loadConfig(configSource{})
	}
	if err != nil {
		return nil, err
	}
	det := detect.NewDetectorContext(ctx, cfg)
	det.MaxDecodeDepth = defaultMaxDecodeDepth
	det.MaxArchiveDepth = s.opts.MaxArchiveDepth
	// We check gitleaks:allow ourselves so that allowed findings are kept as
	// suppressed instead of vanishing.
	det.IgnoreGitleaksAllow = true
	det.Config.Path = src.rel
	e := &engine{s: s, cfg: det.Config, dets: newDetectors(det, !s.opts.NoHardcoded), class: classes(det.Config, added),
		geom: newGeometry(secretBound(&det.Config))}
	e.prop, e.propErr = s.loadProposal(t)
	e.fallback = fallback
	return e, nil
}

// convert turns a gitleaks finding into a Tollgate finding, reviewed
// against the pull request's own config when there is one.
func (e *engine) convert(gf report.Finding) scanners.Finding {
	f := e.s.convert(gf)
	if e.prop != nil {
		e.prop.review(&f, gf, e.cfg)
	}
	return f
}

// proposalNote says when the pull request's config could not be compared.
func (e *engine) proposalNote(res *scanners.Result) {
	if e.fallback != nil {
		res.Status.Config = append(res.Status.Config, *e.fallback)
	}
	if e.propErr != nil {
		res.Status.Config = append(res.Status.Config, scanners.Notification{Level: scanners.LevelWarning, Code: "proposed-config",
			Message: fmt.Sprintf("the pull request's gitleaks config could not be compared with the target's: %v", e.propErr)})
	}
}
