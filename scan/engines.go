package scan

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
	"github.com/tollgate/tollgate/scanners/deps"
	"github.com/tollgate/tollgate/scanners/iac"
	"github.com/tollgate/tollgate/scanners/images"
	"github.com/tollgate/tollgate/scanners/secrets"
	"github.com/tollgate/tollgate/vulndb"
)

// Engine is one entry of the registry: everything Tollgate knows of an
// engine outside the engine's own package. Adding an engine is its package
// plus one Engine in Builtin.
type Engine struct {
	// EngineInfo is its name, aliases and task input: what config, policy
	// and the task see of it (Registry.Infos).
	scanners.EngineInfo
	// DefaultOn reports whether the engine runs when --scanners names no
	// engine.
	DefaultOn func(o config.Options) bool
	// New builds the engine for a scan, with the result cache (nil: off).
	New func(ctx context.Context, o config.Options, log *slog.Logger, rc *scanners.ResultCache) scanners.Engine
	// Explain describes one of the engine's rules by ID, offline (`tollgate
	// explain`); ok is false for an ID that is not the engine's.
	Explain func(id string, getenv func(string) string) (r scanners.Rule, ok bool, err error)
	// Version is the engine's line of `tollgate version` (engines that
	// share a library share the line; it is printed once).
	Version func() string
}

// Registry is the engines Tollgate can run, in report order.
type Registry []Engine

// Builtin is Tollgate's engines: secrets (gitleaks), iac (Trivy's
// misconfiguration scanning) and image (Trivy's vulnerability scanning).
func Builtin() Registry {
	trivyVersion := func() string { return "trivy " + iac.TrivyVersion }
	return Registry{
		{
			EngineInfo: scanners.EngineInfo{Name: scanners.EngineSecrets, Aliases: []string{"secret"}, TaskInput: "failOnSecrets",
				Options: func() scanners.EngineOptions { return secrets.DefaultOptions() }},
			DefaultOn: func(config.Options) bool { return true },
			New:       newSecrets,
			Explain: func(id string, _ func(string) string) (scanners.Rule, bool, error) {
				// The gitleaks config of the directory explain runs in, if any.
				var own []byte
				if b, err := checkout.ReadTrusted(config.GitleaksConfigFile, 4<<20); err == nil {
					own = b
				}
				return secrets.Explain(id, own)
			},
			Version: func() string {
				return fmt.Sprintf("gitleaks %s (regex engine: %s)", secrets.GitleaksVersion, secrets.RegexEngine)
			},
		},
		{
			EngineInfo: scanners.EngineInfo{Name: scanners.EngineIaC, Aliases: []string{"config", "misconfig", "misconfiguration"}, TaskInput: "failOnIac",
				Options: func() scanners.EngineOptions { return iac.DefaultOptions() }},
			DefaultOn: func(config.Options) bool { return true },
			New:       newIaC(nil),
			Explain: func(id string, _ func(string) string) (scanners.Rule, bool, error) {
				r, ok := iac.Explain(id)
				return r, ok, nil
			},
			Version: trivyVersion,
		},
		{
			EngineInfo: scanners.EngineInfo{Name: scanners.EngineImage, Aliases: []string{"images", "vuln", "vulnerabilities"}, TaskInput: "failOnImage",
				Options: func() scanners.EngineOptions { return images.DefaultOptions() }},
			// The image engine applies when there are images to scan;
			// discovery alone does not turn it on (it would reach out to
			// registries).
			DefaultOn: func(o config.Options) bool {
				_, named := imageOptions(o).Requested()
				return len(named) > 0
			},
			New: newImage,
			Explain: func(id string, getenv func(string) string) (scanners.Rule, bool, error) {
				db, _ := config.ParseDB(nil, getenv)
				r, ok, err := images.Explain(db.CacheDir, id)
				if err != nil {
					if !vulnerabilityID(id) {
						// Not one of ours, whether or not the DB is there.
						return scanners.Rule{}, false, nil
					}
					return r, false, fmt.Errorf("%s looks like a vulnerability ID, but the vulnerability DB is not available at %s (%w): run `tollgate db download` first",
						id, vulndb.Dir(db.CacheDir), err)
				}
				return r, ok, nil
			},
			Version: trivyVersion,
		},
		{
			EngineInfo: scanners.EngineInfo{Name: scanners.EngineDeps, Aliases: []string{"dependencies", "dependency", "sca"}, TaskInput: "failOnDeps",
				Options: func() scanners.EngineOptions { return deps.DefaultOptions() }},
			// On by default where the vulnerability DB is on disk (baked
			// into the task's image, or after `tollgate db download`): a
			// scan that did not ask for it never reaches the network for
			// it. Named in --scanners, it downloads the DB as the image
			// engine does, and fails closed without one.
			DefaultOn: func(o config.Options) bool {
				_, err := vulndb.ReadMetadata(vulndb.Dir(o.CacheDir))
				return err == nil
			},
			New: newDeps,
			// Vulnerability IDs are explained by the image engine, from
			// the same DB.
			Explain: func(string, func(string) string) (scanners.Rule, bool, error) { return scanners.Rule{}, false, nil },
			Version: trivyVersion,
		},
	}
}

// vulnerabilityID reports whether an ID has the shape of a vulnerability
// advisory's (CVE-2024-1234, GHSA-xxxx-xxxx-xxxx, ALAS-..., DLA-..., ...).
func vulnerabilityID(id string) bool {
	u := strings.ToUpper(id)
	for _, p := range []string{"CVE-", "GHSA-", "GO-", "PYSEC-", "RUSTSEC-", "ALAS", "DLA-", "DSA-", "RHSA-", "USN-", "ELSA-", "OSV-", "TEMP-"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// Infos is what the layers below scan see of the engines.
func (r Registry) Infos() scanners.Registry {
	out := make(scanners.Registry, len(r))
	for i, e := range r {
		out[i] = e.EngineInfo
	}
	return out
}

// Enabled lists the engines a scan runs: those --scanners names, else
// those on by default.
func (r Registry) Enabled(o config.Options) Registry {
	var out Registry
	for _, e := range r {
		if len(o.Engines) == 0 && e.DefaultOn(o) || slices.Contains(o.Engines, e.Name) {
			out = append(out, e)
		}
	}
	return out
}

// VersionLines are the engines' lines of `tollgate version`, each once.
func (r Registry) VersionLines() []string {
	var out []string
	for _, e := range r {
		if l := e.Version(); !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// Explain finds the rule an ID names, asking each engine in turn. Errors
// of engines that could not look (a missing DB) come back with ok false.
func (r Registry) Explain(id string, getenv func(string) string) (engine string, rule scanners.Rule, ok bool, errs []error) {
	for _, e := range r {
		rule, ok, err := e.Explain(id, getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s engine: %w", e.Name, err))
			continue
		}
		if ok {
			return e.Name, rule, true, nil
		}
	}
	return "", scanners.Rule{}, false, errs
}

func newSecrets(ctx context.Context, opts config.Options, log *slog.Logger, rc *scanners.ResultCache) scanners.Engine {
	so := *opts.EngineOptions[scanners.EngineSecrets].(*secrets.Options)
	so.Policy = policyFiles(ctx, opts)
	so.ReviewCheckoutConfig = opts.Policy.PullRequest && changed(opts.Policy, so.RepoConfig, config.GitleaksConfigFile)
	so.Skip = config.Matcher(opts.Exclude, so.Exclude)
	so.Cache = rc
	so.Repo = opts.Repo
	return scanners.Excluding(secrets.New(so, log), config.Matcher(so.Exclude))
}

// newIaC builds the IaC engine; worker is the command line of its worker
// processes (nil: its units run in this process).
func newIaC(worker []string) func(context.Context, config.Options, *slog.Logger, *scanners.ResultCache) scanners.Engine {
	return func(_ context.Context, opts config.Options, log *slog.Logger, rc *scanners.ResultCache) scanners.Engine {
		io := *opts.EngineOptions[scanners.EngineIaC].(*iac.Options)
		io.Cache = rc
		io.Worker = worker
		return scanners.Excluding(iac.New(io, log), config.Matcher(io.Exclude))
	}
}

// Isolated is the registry with the engines that run third-party parsers
// and evaluators on checkout content (the IaC engine) running each unit in
// a worker process, within the unit's time and memory budget: command
// gives a worker's command line for an engine (tollgate's own: the binary
// again, `__worker ENGINE`).
func (r Registry) Isolated(command func(engine string) []string) Registry {
	out := slices.Clone(r)
	for i := range out {
		if out[i].Name == scanners.EngineIaC {
			out[i].New = newIaC(command(out[i].Name))
		}
	}
	return out
}

func imageOptions(opts config.Options) *images.Options {
	return opts.EngineOptions[scanners.EngineImage].(*images.Options)
}

// newImage builds the image engine from its settings, the cache directory,
// and the default discovery registries when none is set.
func newImage(_ context.Context, opts config.Options, log *slog.Logger, rc *scanners.ResultCache) scanners.Engine {
	o := *imageOptions(opts)
	o.CacheDir = opts.CacheDir
	if len(o.DiscoverRegistries) == 0 {
		o.DiscoverRegistries = images.DefaultDiscoverRegistries()
	}
	o.Cache = rc
	o.SBOMDir, o.Version = depsOptions(opts).SBOMDir, depsOptions(opts).Version
	return images.New(o, log)
}

func depsOptions(opts config.Options) *deps.Options {
	return opts.EngineOptions[scanners.EngineDeps].(*deps.Options)
}

// newDeps builds the deps engine: the image engine's DB settings, and in a
// pull-request build the target commit to compare the lockfiles with.
func newDeps(ctx context.Context, opts config.Options, log *slog.Logger, _ *scanners.ResultCache) scanners.Engine {
	o := *depsOptions(opts)
	o.DB = *imageOptions(opts)
	o.DB.CacheDir = opts.CacheDir
	if p := opts.Policy; p.PullRequest {
		switch {
		case p.Defaults || opts.Repo == nil || p.Commit == "":
			o.BaseMissing = p.Why
			if o.BaseMissing == "" {
				o.BaseMissing = "no target commit"
			}
		default:
			o.Base = opts.Repo.Tree(ctx, p.Commit, p.Name)
		}
	}
	return deps.New(o, log)
}

// Engines builds the engines a scan runs, in report order, with the result
// cache (nil: off).
func (r Registry) Engines(ctx context.Context, opts config.Options, log *slog.Logger, rc *scanners.ResultCache) []scanners.Engine {
	var out []scanners.Engine
	for _, e := range r.Enabled(opts) {
		out = append(out, e.New(ctx, opts, log, rc))
	}
	return out
}
