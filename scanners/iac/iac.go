// Package iac checks infrastructure-as-code for misconfigurations with
// Trivy's IaC scanners and its embedded checks: Terraform (HCL, tfvars,
// modules, plan JSON and snapshots), CloudFormation, Azure ARM, Kubernetes,
// Helm, Dockerfile and Ansible. It runs offline: no check bundle download,
// and remote Terraform modules only when asked.
package iac

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate/cache"
	"github.com/tollgate/tollgate/internal/crash"
	"github.com/tollgate/tollgate/internal/versions"
	tg "github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iactype"
)

// TrivyVersion is the Trivy module version Tollgate is built with.
const TrivyVersion = versions.Trivy

// Options configure the IaC engine.
type Options struct {
	// FileTypes limits the scanned types (names as in TypeNames); empty means all.
	FileTypes []string
	// Exclude are the engine's own path globs (--iac-exclude): the
	// registry leaves those files out of its target.
	Exclude []string
	// DownloadModules lets Terraform fetch remote module sources. Off by
	// default: a pull request must not make the scanner fetch arbitrary URLs.
	DownloadModules bool
	// CheckPaths are extra Rego check files or directories, NamespacesOf their packages.
	CheckPaths []string
	Namespaces []string
	// TFVars, HelmValueFiles and CFParams are value files, relative to the root.
	TFVars         []string
	HelmValueFiles []string
	CFParams       []string
	// UnitTimeout and UnitMemory are the budget of each unit of work (a
	// Terraform module group, a Helm chart, a kustomization, a file of the
	// other types): a unit past it is not checked, and a notification names
	// its files, the limit and the setting that raises it (0: no limit).
	UnitTimeout time.Duration
	UnitMemory  int64
	// Worker is the command line that starts a worker process
	// (internal/isolate): each unit then runs in one, within UnitMemory and
	// killed at UnitTimeout, so that a parser or evaluator that recurses or
	// allocates without end costs its unit only. nil: units run in this
	// process, within UnitTimeout where the library honours the context.
	Worker []string `json:"-"`
	// Cache keeps results by unit (nil: off).
	Cache *tg.ResultCache `json:"-"`
}

// Engine is the IaC engine.
type Engine struct {
	opts Options
	log  *slog.Logger
}

// New returns the IaC engine.
func New(opts Options, log *slog.Logger) *Engine { return &Engine{opts: opts, log: log} }

// Name implements scanners.Engine.
func (s *Engine) Name() string { return tg.EngineIaC }

// Tool implements scanners.Engine.
func (s *Engine) Tool() tg.Tool { return Tool() }

// Tool describes Trivy's misconfiguration scanner for reports.
func Tool() tg.Tool {
	return tg.Tool{
		Name:           "trivy-config",
		FullName:       "Trivy misconfiguration scanner (Tollgate IaC engine)",
		Version:        TrivyVersion,
		InformationURI: "https://trivy.dev/latest/docs/scanner/misconfiguration/",
	}
}

// ValidateFileTypes reports unknown type names.
func ValidateFileTypes(names []string) error { return iactype.Validate(names) }

// Scan implements scanners.Engine.
func (s *Engine) Scan(ctx context.Context, t *tg.Target) (res tg.Result, err error) {
	res = tg.Result{Engine: tg.EngineIaC, Tool: Tool()}
	defer func() {
		if err == nil {
			res.Status.Finish()
		}
	}()
	if err := ValidateFileTypes(s.opts.FileTypes); err != nil {
		return res, err
	}
	enabled := map[detection.FileType]bool{}
	for _, ft := range fileTypes {
		enabled[ft.t] = len(s.opts.FileTypes) == 0 || slices.Contains(s.opts.FileTypes, string(ft.t))
	}
	in, inNotes, err := s.readInputs(t)
	if err != nil {
		return res, err
	}
	defer in.close()
	for _, n := range inNotes {
		res.Status.Add(n)
	}

	// Compiling the checks is the slow part of start-up: it starts when the
	// first IaC file is found, and runs while the rest are classified. A
	// tree with none never pays for it.
	type regoResult struct {
		rs  *rego.Scanner
		err error
	}
	regoCh := make(chan regoResult, 1)
	var startRego sync.Once
	// With worker processes, each compiles the checks for itself (the
	// pool starts them and has them prepare when the first file is found).
	pool, hello := s.workers(in)
	if pool != nil {
		defer pool.Close()
	}
	start := func() {
		startRego.Do(func() {
			if pool != nil {
				pool.Warm(ctx, hello, 1)
				return
			}
			go func() {
				var (
					rs  *rego.Scanner
					err error
				)
				defer func() { regoCh <- regoResult{rs, err} }()
				defer crash.Recover("compiling the IaC checks", &err)
				rs, err = s.initRego(in)
			}()
		})
	}
	// With an earlier run's units at hand, the checks are compiled only if
	// some unit is left to check.
	units := s.opts.Cache.Units(tg.EngineIaC, s.scopeOf(in)...)
	byType, contents, notes := s.classify(ctx, t, enabled, func() {
		if !units.Warm() {
			start()
		}
	})
	if err := ctx.Err(); err != nil {
		return res, err
	}
	classified := classifiedFiles(byType)
	var kustUnits []job
	if enabled[detection.FileTypeKubernetes] {
		var kustNotes []tg.Notification
		kustUnits, kustNotes = s.planKustomize(t, byType, contents, notes)
		notes = append(notes, kustNotes...)
	}
	all := append(planUnits(byType, contents), kustUnits...)
	notes = append(notes, unaccounted(t.Shard, classified, all, notes)...)
	planned := ownedUnits(t.Shard, all, &notes)
	for _, n := range notes {
		res.Status.Add(n)
	}
	if len(planned) == 0 {
		return res, nil
	}

	units.AddUnits(len(planned))
	gauge := t.Meter.Gauge(tg.EngineIaC, "groups")
	gauge.SetTotal(len(planned))
	keys := map[string]cache.Key{} // by a unit's first file and type
	var misses []job
	var cached []part
	for _, u := range planned {
		if units == nil || !s.cacheable(u) {
			misses = append(misses, u)
			continue
		}
		k := unitKey(units, u, contents)
		if got, ok := units.Get(k); ok {
			cached = append(cached, part{u.ft, tg.Result{Findings: got.Findings, Rules: got.Rules, Status: tg.Status{Notifications: got.Notifications}}})
			gauge.Add(1)
			continue
		}
		keys[unitID(u)] = k
		misses = append(misses, u)
	}
	res.Cache = units.Stats()
	if len(misses) == 0 {
		units.Close()
		return mergeParts(res, cached), nil
	}
	start()
	var rr regoResult
	if pool == nil {
		select {
		case rr = <-regoCh:
		case <-ctx.Done():
			return mergeParts(res, cached), ctx.Err()
		}
		if rr.err != nil {
			return res, fmt.Errorf("loading Trivy checks: %w", rr.err)
		}
	}

	lines := newLineCache(t, contents)
	jobs := batchJobs(misses, runtime.GOMAXPROCS(0))
	if pool != nil {
		jobs = splitBatches(jobs)
	}
	parts := make([]tg.Result, len(jobs))
	finished := make([]bool, len(jobs)) // scanned whole before any error or interrupt
	// Trivy runs its type scanners one after the other on one core; the
	// groups here are independent (each type, each plan, each chart, each
	// batch of standalone files) and share the compiled checks, which are
	// read-only once loaded, so they run on every core.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, j := range jobs {
		g.Go(func() (err error) {
			defer crash.Recover(fmt.Sprintf("the iac engine, on %s %s", j.ft, strings.Join(j.paths[:min(3, len(j.paths))], ", ")), &err)
			err = s.runJob(gctx, pool, in, contents, j, rr.rs, lines, &parts[i])
			gauge.Add(j.units())
			finished[i] = err == nil && gctx.Err() == nil
			return err
		})
	}
	if err := g.Wait(); err != nil {
		// The groups scanned whole before an interrupt, a time limit or
		// another group's failure keep their findings (the result fails as
		// incomplete); nothing of this run is cached.
		for i, j := range jobs {
			if finished[i] {
				cached = append(cached, part{j.ft, parts[i]})
			}
		}
		return mergeParts(res, cached), err
	}
	if units != nil {
		for i, j := range jobs {
			s.store(units, keys, j, parts[i])
		}
		units.Close()
	}
	for i, j := range jobs {
		cached = append(cached, part{j.ft, parts[i]})
	}
	return mergeParts(res, cached), nil
}

// part is what one run of a type's scanner, or one unit from the cache,
// found.
type part struct {
	ft  detection.FileType
	res tg.Result
}

// mergeParts adds the parts' findings, notifications and rules to res.
// Types that share a check (ARM and Terraform) tag it each with their own
// type: the rule gets the tags of every type that found it (tg.MergeRule,
// as tollgate merge joins shards), whichever parts came from the cache.
func mergeParts(res tg.Result, parts []part) tg.Result {
	rank := map[detection.FileType]int{}
	for i, ft := range fileTypes {
		rank[ft.t] = i
	}
	slices.SortStableFunc(parts, func(a, b part) int { return rank[a.ft] - rank[b.ft] })
	seen := map[string]int{}
	for _, p := range parts {
		part := p.res
		res.Findings = append(res.Findings, part.Findings...)
		for _, n := range part.Status.Notifications {
			res.Status.Add(n)
		}
		for _, r := range part.Rules {
			res.Rules = tg.AddRule(res.Rules, seen, r)
		}
	}
	return res
}
