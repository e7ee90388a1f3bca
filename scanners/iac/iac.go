// Package iac checks infrastructure-as-code for misconfigurations with
// Trivy's IaC scanners and its embedded checks: Terraform (HCL, tfvars,
// modules, plan JSON and snapshots), CloudFormation, Azure ARM, Kubernetes,
// Helm, Dockerfile and Ansible. It runs offline: no check bundle download,
// and remote Terraform modules only when asked.
package iac

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	iacscan "github.com/aquasecurity/trivy/pkg/iac/scan"
	"github.com/aquasecurity/trivy/pkg/iac/scanners"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/ansible"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/azure/arm"
	cfscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/cloudformation"
	dfscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/dockerfile"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/helm"
	helmparser "github.com/aquasecurity/trivy/pkg/iac/scanners/helm/parser"
	k8sscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/kubernetes"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/options"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/terraform"
	tfsnapshot "github.com/aquasecurity/trivy/pkg/iac/scanners/terraformplan/snapshot"
	tfjson "github.com/aquasecurity/trivy/pkg/iac/scanners/terraformplan/tfjson"
	"github.com/aquasecurity/trivy/pkg/mapfs"
	"github.com/aquasecurity/trivy/pkg/misconf"
	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate/cache"
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
	// Cache keeps results by unit (nil: off).
	Cache *tg.ResultCache
}

// Scanner is the IaC engine.
type Scanner struct {
	opts Options
	log  *slog.Logger
}

// New returns the IaC engine.
func New(opts Options, log *slog.Logger) *Scanner { return &Scanner{opts: opts, log: log} }

// Name implements scanners.Scanner.
func (s *Scanner) Name() string { return tg.EngineIaC }

// Tool implements scanners.Scanner.
func (s *Scanner) Tool() tg.Tool { return Tool() }

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

// Scan implements scanners.Scanner.
func (s *Scanner) Scan(ctx context.Context, t *tg.Target) (res tg.Result, err error) {
	res = tg.Result{Scanner: tg.EngineIaC, Tool: Tool()}
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
	start := func() {
		startRego.Do(func() {
			go func() {
				rs, err := s.initRego(in)
				regoCh <- regoResult{rs, err}
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
	planned := ownedUnits(t.Shard, planUnits(byType, contents), &notes)
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
	select {
	case rr = <-regoCh:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if rr.err != nil {
		return res, fmt.Errorf("loading Trivy checks: %w", rr.err)
	}

	lines := newLineCache(t, contents)
	jobs := batchJobs(misses, runtime.GOMAXPROCS(0))
	parts := make([]tg.Result, len(jobs))
	// Trivy runs its type scanners one after the other on one core; the
	// groups here are independent (each type, each plan, each chart, each
	// batch of standalone files) and share the compiled checks, which are
	// read-only once loaded, so they run on every core.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, j := range jobs {
		g.Go(func() error {
			err := s.scanGroup(gctx, in, contents, j.ft, j.paths, rr.rs, lines, &parts[i])
			gauge.Add(j.units())
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
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

// units is how many of the plan's units the job holds: a batch of
// per-file types one per file, a group one.
func (j job) units() int {
	if perFile(j.ft) {
		return len(j.paths)
	}
	return 1
}

// unitID names a unit within a scan: its type and first file.
func unitID(u job) string { return string(u.ft) + "\x00" + u.paths[0] }

// store keeps the units of a finished run of Trivy's scanners: a group
// unit as it is, a batch cut into its files.
func (s *Scanner) store(units *tg.UnitCache, keys map[string]cache.Key, j job, part tg.Result) {
	if !perFile(j.ft) {
		if k, ok := keys[unitID(j)]; ok {
			units.Put(k, tg.Unit{Findings: part.Findings, Rules: part.Rules, Notifications: part.Status.Notifications})
		}
		return
	}
	byFile, ok := splitPart(part, j.paths)
	if !ok {
		return
	}
	for _, p := range j.paths {
		if k, ok := keys[unitID(job{j.ft, []string{p}})]; ok {
			units.Put(k, *byFile[p])
		}
	}
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

// job is one run of a type's checks over a set of files.
type job struct {
	ft    detection.FileType
	paths []string
}

// batches cuts paths into runs of at least minBatch files, about four per
// worker so that uneven files still keep every worker busy.
func batches(paths []string, workers int) [][]string {
	const minBatch = 32
	workers = max(workers, 1)
	size := max(minBatch, (len(paths)+4*workers-1)/(4*workers))
	var out [][]string
	for len(paths) > size {
		out = append(out, paths[:size:size])
		paths = paths[size:]
	}
	return append(out, paths)
}

// chartGroups groups Helm files by their top-level chart (a subchart stays
// with its parent, whose rendering includes it); a file outside any chart,
// such as a packaged chart archive, is a group of its own.
func chartGroups(paths []string) [][]string {
	charts := helmCharts(paths)
	return groupBy(paths, func(p string) string {
		root := p
		for d := path.Dir(p); ; d = path.Dir(d) {
			if charts[d] {
				root = d
			}
			if d == "." || d == "/" {
				break
			}
		}
		return root
	})
}

// scanGroup runs one type's checks over a set of files and puts what it
// finds in res. Only a cancelled context is an error; a failing check run
// becomes a notification.
func (s *Scanner) scanGroup(ctx context.Context, in *inputs, contents map[string][]byte, ft detection.FileType, paths []string, rs *rego.Scanner,
	lines *lineCache, res *tg.Result) error {
	fsys, err := buildFS(contents, paths)
	if err != nil {
		res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "internal", Message: err.Error()})
		return nil
	}
	if ft == detection.FileTypeHelm {
		kept, err := s.renderableCharts(ctx, in, fsys, paths, res)
		if err != nil {
			return err
		}
		if len(kept) < len(paths) {
			if paths = kept; len(paths) == 0 {
				return nil
			}
			if fsys, err = buildFS(contents, paths); err != nil {
				res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "internal", Message: err.Error()})
				return nil
			}
		}
	}
	sc, err := s.newTrivyScanner(ft, rs, in)
	if err != nil {
		res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "scanner-init",
			Message: fmt.Sprintf("%s scanner could not start: %v", ft, err)})
		return nil
	}
	results, err := sc.ScanFS(ctx, fsys, ".")
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n := tg.Notification{Level: tg.LevelError, Code: "scan-error", Message: fmt.Sprintf("%s checks failed: %v", ft, err)}
		if len(paths) == 1 {
			n.Path = paths[0]
			n.Message = fmt.Sprintf("%s checks failed on %s: %v", ft, paths[0], err)
		}
		res.Status.Add(n)
		return nil
	}
	for _, r := range results {
		if r.Status() == iacscan.StatusPassed {
			continue
		}
		f, rule := convert(ft, r, lines)
		if isPlan(ft) {
			relocateToPlan(&f, paths[0], lines)
		}
		res.Findings = append(res.Findings, f)
		if !slices.ContainsFunc(res.Rules, func(r tg.Rule) bool { return r.ID == rule.ID }) {
			res.Rules = append(res.Rules, rule)
		}
	}
	return nil
}

// renderableCharts renders each chart the way Trivy's Helm scanner will
// and leaves out the ones that fail, with a notification naming the chart
// and the cause: Trivy itself only logs "Skipping chart". Only a cancelled
// context is an error.
func (s *Scanner) renderableCharts(ctx context.Context, in *inputs, fsys fs.FS, paths []string, res *tg.Result) ([]string, error) {
	charts := helmCharts(paths)
	failed := map[string]bool{}
	for _, dir := range slices.Sorted(maps.Keys(charts)) {
		if tg.UnderDir(dir, charts) {
			continue // a subchart renders with its parent
		}
		p, err := helmparser.New(helmparser.OptionWithValuesFile(in.helmValues...))
		if err == nil {
			_, err = p.ParseFS(ctx, fsys, dir)
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		failed[dir] = true
		res.Status.Add(tg.Notification{Level: tg.LevelWarning, Code: "helm-render", Path: path.Join(dir, "Chart.yaml"),
			Message: fmt.Sprintf("Helm chart %s could not be rendered, so its checks did not run: %v", dir, err)})
	}
	if len(failed) == 0 {
		return paths, nil
	}
	kept := paths[:0:0]
	for _, p := range paths {
		if !tg.UnderDir(p, failed) {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

func isPlan(ft detection.FileType) bool {
	return ft == detection.FileTypeTerraformPlanJSON || ft == detection.FileTypeTerraformPlanSnapshot
}

// buildFS puts the files, as classify read them, into a virtual filesystem
// for Trivy's scanners: no file is read twice, none is reopened by path
// after the walk, and a module path cannot climb out of the scan root.
func buildFS(contents map[string][]byte, paths []string) (*mapfs.FS, error) {
	mfs := mapfs.New()
	for _, p := range paths {
		if d := path.Dir(p); d != "." {
			if err := mfs.MkdirAll(d, 0o700); err != nil && !isExist(err) {
				return nil, fmt.Errorf("virtual filesystem: %s: %w", p, err)
			}
		}
		if err := mfs.WriteVirtualFile(p, contents[p], 0o600); err != nil {
			return nil, fmt.Errorf("virtual filesystem: %s: %w", p, err)
		}
	}
	return mfs, nil
}

// classify reads each candidate file once: it runs Trivy's type detection
// and checks the syntax. It returns the files each type claims with their
// contents, and calls found as each is claimed.
func (s *Scanner) classify(ctx context.Context, t *tg.Target, enabled map[detection.FileType]bool, found func()) (map[detection.FileType][]string, map[string][]byte, []tg.Notification) {
	var notes []tg.Notification
	for _, n := range t.SkippedNotifications(true, func(p string) bool {
		return len(candidateTypes(p, 0, enabled)) > 0
	}) {
		notes = append(notes, n)
	}
	paths := make([]string, len(t.Files))
	for i, f := range t.Files {
		paths[i] = f.Path
	}
	charts := helmCharts(paths)
	byType := map[detection.FileType][]string{}
	contents := map[string][]byte{}
	for _, f := range t.Files {
		if ctx.Err() != nil {
			break
		}
		cands := candidateTypes(f.Path, f.Size, enabled)
		if len(cands) == 0 {
			continue
		}
		content, err := readFile(t, f.Path)
		if err != nil {
			notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "unreadable", Path: f.Path,
				Message: fmt.Sprintf("cannot read %s: %v", f.Path, tg.Cause(err))})
			continue
		}
		if se := checkSyntax(f.Path, content, tg.UnderDir(f.Path, charts)); se != nil {
			notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "parse-error", Path: f.Path, Line: se.Line,
				Message: fmt.Sprintf("%s could not be parsed, so its checks did not run: %s", f.Path, se)})
			if se.Skip {
				continue
			}
		} else if !s.opts.DownloadModules {
			notes = append(notes, remoteModuleNotes(f.Path, content)...)
		}
		for _, ft := range matchTypes(f.Path, content, cands) {
			byType[ft] = append(byType[ft], f.Path)
			contents[f.Path] = content
			found()
		}
	}
	return byType, contents, notes
}

func (s *Scanner) initRego(in *inputs) (*rego.Scanner, error) {
	opt := misconf.ScannerOption{
		Namespaces:     append(slices.Clone(s.opts.Namespaces), rego.BuiltinNamespaces()...),
		RegoErrorLimit: 10,
	}
	if in.checkDir != "" {
		opt.PolicyPaths = []string{in.checkDir}
	}
	return misconf.InitRegoScanner(opt)
}

// newTrivyScanner builds the scanner for one type as Trivy's misconf package
// does, plus the module download switch it does not expose.
func (s *Scanner) newTrivyScanner(t detection.FileType, rs *rego.Scanner, in *inputs) (scanners.FSScanner, error) {
	opts := []options.ScannerOption{
		rego.WithRegoScanner(rs),
		options.WithScanRawConfig(false),
	}
	switch t {
	case detection.FileTypeAzureARM:
		return arm.New(opts...), nil
	case detection.FileTypeCloudFormation:
		if len(in.cfParams.names) > 0 {
			cfs, names, err := valueFilesFS(in.cfParams)
			if err != nil {
				return nil, err
			}
			opts = append(opts, cfscanner.WithParameterFiles(names...), cfscanner.WithConfigsFS(cfs))
		}
		return cfscanner.New(opts...), nil
	case detection.FileTypeDockerfile:
		return dfscanner.NewScanner(opts...), nil
	case detection.FileTypeHelm:
		if len(in.helmValues) > 0 {
			opts = append(opts, helm.ScannerWithValuesFile(in.helmValues...))
		}
		return helm.New(opts...), nil
	case detection.FileTypeKubernetes:
		return k8sscanner.NewScanner(opts...), nil
	case detection.FileTypeTerraform, detection.FileTypeTerraformPlanSnapshot:
		opts = append(opts,
			terraform.ScannerWithAllDirectories(true),
			terraform.ScannerWithDownloadsAllowed(s.opts.DownloadModules),
			terraform.ScannerWithSkipCachedModules(!s.opts.DownloadModules),
		)
		if len(in.tfVars.names) > 0 {
			cfs, names, err := valueFilesFS(in.tfVars)
			if err != nil {
				return nil, err
			}
			opts = append(opts, terraform.ScannerWithTFVarsPaths(names...), terraform.ScannerWithConfigsFileSystem(cfs))
		}
		if t == detection.FileTypeTerraformPlanSnapshot {
			return tfsnapshot.New(opts...), nil
		}
		return terraform.New(opts...), nil
	case detection.FileTypeTerraformPlanJSON:
		return tfjson.New(opts...), nil
	case detection.FileTypeAnsible:
		return ansible.New(opts...), nil
	}
	return nil, fmt.Errorf("unsupported file type %s", t)
}

// valueFilesFS serves the value files Tollgate read (readInputs) under
// the names they were given, the way Trivy's misconf package serves files
// it reads itself; it returns the names in the order given (later files
// override earlier ones).
func valueFilesFS(files valueFiles) (fs.FS, []string, error) {
	mfs := mapfs.New()
	names := files.names
	for _, p := range names {
		if err := mfs.MkdirAll(filepath.Dir(p), 0o700); err != nil && !isExist(err) {
			return nil, nil, fmt.Errorf("value file %s: %w", p, err)
		}
		if err := mfs.WriteVirtualFile(p, files.content[p], 0o600); err != nil {
			return nil, nil, fmt.Errorf("value file %s: %w", p, err)
		}
	}
	return mfs, names, nil
}

func isExist(err error) bool { return errors.Is(err, fs.ErrExist) }

// lineCache splits each file with findings into lines once, for
// fingerprints: from the contents classify read, else from the target.
type lineCache struct {
	t        *tg.Target
	contents map[string][]byte
	mu       sync.Mutex
	files    map[string][]string
}

func newLineCache(t *tg.Target, contents map[string][]byte) *lineCache {
	return &lineCache{t: t, contents: contents, files: map[string][]string{}}
}

// all returns every line of a file (nil when it cannot be read).
func (c *lineCache) all(p string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ls, ok := c.files[p]
	if !ok {
		if b, ok := c.contents[p]; ok {
			ls = strings.Split(string(b), "\n")
		} else if b, err := readFile(c.t, p); err == nil {
			ls = strings.Split(string(b), "\n")
		}
		c.files[p] = ls
	}
	return ls
}

// content returns a file's bytes (nil when they cannot be read).
func (c *lineCache) content(p string) []byte {
	if b, ok := c.contents[p]; ok {
		return b
	}
	return []byte(strings.Join(c.all(p), "\n"))
}

// lines returns lines [start, end] (1-based, inclusive), at most 50.
func (c *lineCache) lines(p string, start, end int) []string {
	if start <= 0 {
		return nil
	}
	all := c.all(p)
	if end < start {
		end = start
	}
	end = min(end, start+49, len(all))
	if start > end {
		return nil
	}
	return all[start-1 : end]
}

func readFile(t *tg.Target, p string) ([]byte, error) {
	f, err := t.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
