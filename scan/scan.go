// Package scan runs one Tollgate scan from its Options to its reports:
// walk, engines side by side, policy, verdict, then SARIF and the console
// report. The CLI and the pipeline task both call it.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
	"github.com/tollgate/tollgate/scanners/gitrepo"
	"github.com/tollgate/tollgate/scanners/iac"
	"github.com/tollgate/tollgate/scanners/images"
	"github.com/tollgate/tollgate/scanners/secrets"
)

// Outcome is a finished scan, ready for reports.
type Outcome struct {
	report.Scan
}

// ExitCode is the process exit code of the scan.
func (o *Outcome) ExitCode() int { return o.Verdict.ExitCode() }

// Run scans opts.Path. It returns an error only when no scan could happen
// at all (the root cannot be read); everything else is in the Outcome. The
// engines count their work on meter (nil: not counted) for a progress
// display.
func Run(ctx context.Context, log *slog.Logger, opts config.Options, version string, getenv func(string) string, meter *scanners.Meter) (*Outcome, error) {
	started := time.Now()
	for _, w := range opts.Warnings {
		log.Warn("configuration", "warning", w.Message)
	}
	if opts.Shard.Split() && (opts.Baseline != "" || opts.RepoBaseline != "") {
		// A shard sees a part of the results: the baseline is compared
		// with all of them by tollgate merge.
		log.Info("shard: the baseline is applied when the shards are merged", "shard", opts.Shard.String())
		opts.Baseline, opts.RepoBaseline, opts.Gate.NewOnly = "", "", false
	}
	base, err := loadBaseline(ctx, opts)
	if err != nil {
		return nil, &config.UsageError{Err: err}
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	rc, cacheWarning := resultCache(opts, version, log)
	engines := Engines(ctx, opts, log, rc)
	if d, err := time.ParseDuration(getenv(EngineDelayEnv)); err == nil && d > 0 {
		engines = delayed(engines, d)
	}
	target, err := scanners.Walk(ctx, opts.Path, scanners.WalkOptions{
		MaxFileSize: opts.MaxFileSize,
		MaxDepth:    opts.MaxDepth,
		Exclude:     config.Matcher(opts.Exclude),
	})
	var results []scanners.Result
	root := opts.Path
	switch {
	case err != nil && ctx.Err() != nil:
		// Interrupted or out of time while listing files: every engine
		// failed, and the reports still say so.
		log.Error("scan stopped while listing files", "error", err)
		code := "canceled"
		if ctx.Err() == context.DeadlineExceeded {
			code = "timeout"
		}
		for _, e := range engines {
			r := scanners.Result{Scanner: e.Name(), Tool: e.Tool(), Started: started, Finished: time.Now()}
			r.Status.Fail(code, fmt.Errorf("%s engine did not run: the scan stopped while listing files (%v)", e.Name(), ctx.Err()))
			results = append(results, r)
		}
		if abs, aerr := filepath.Abs(opts.Path); aerr == nil {
			root = abs
		}
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", opts.Path, err)
	default:
		defer target.Close()
		root = target.Root
		target.Shard = opts.Shard
		target.Meter = meter
		attrs := []any{"root", target.Root, "files", len(target.Files)}
		if opts.Shard.Count > 0 {
			attrs = append(attrs, "shard", opts.Shard.String())
		}
		log.Info("scanning", attrs...)
		limits := scanners.Limits{PerEngine: map[string]time.Duration{}}
		for _, e := range engines {
			if d := opts.EngineTimeout(e.Name()); d > 0 {
				limits.PerEngine[e.Name()] = d
			}
		}
		results = scanners.Run(ctx, log, target, engines, limits)
	}

	if rc != nil {
		if n, err := rc.Store.Trim(); err != nil {
			log.Warn("result cache", "error", err)
		} else if n > 0 {
			log.Debug("result cache: least recently used entries evicted", "entries", n)
		}
	}

	warnings := slices.Clone(opts.Warnings)
	if cacheWarning != nil {
		warnings = append(warnings, *cacheWarning)
	}
	if base != nil && base.LegacyOnly() {
		warnings = append(warnings, legacyBaselineWarning(log, base))
	}
	if target != nil {
		if len(target.Files) == 0 && target.Excluded > 0 {
			w := scanners.Notification{Level: scanners.LevelWarning, Code: "excluded-everything",
				Message: fmt.Sprintf("the excludes leave nothing to scan (%d files and folders excluded): this run could not find anything", target.Excluded)}
			log.Warn(w.Message)
			warnings = append(warnings, w)
		}
		steps, err := policySteps(ctx, log, opts, target, started)
		for _, e := range unjoin(err) {
			log.Warn("repository policy", "error", e)
			warnings = append(warnings, scanners.Notification{Level: scanners.LevelWarning, Code: "policy-files", Message: e.Error()})
		}
		if base != nil {
			steps = append(steps, policy.Baseline{Set: base})
		}
		policy.Apply(log, results, steps...)
	}
	return outcome(ctx, opts, version, getenv, root, results, warnings, started), nil
}

// outcome is a finished scan (or merge) for the reports: URLs' credentials
// out of every notification, the verdict of the gate, the facts every run
// carries.
func outcome(ctx context.Context, opts config.Options, version string, getenv func(string) string, root string,
	results []scanners.Result, warnings []scanners.Notification, started time.Time) *Outcome {
	for i := range results {
		results[i].RedactNotifications()
	}
	for i := range warnings {
		warnings[i].Message = scanners.RedactURLs(warnings[i].Message)
	}
	verdict := opts.Gate.Decide(results)
	verdict.Shard = opts.Shard.String()
	return &Outcome{Scan: report.Scan{
		Root:           root,
		Results:        results,
		Verdict:        verdict,
		Gate:           opts.Gate,
		ToolVersion:    version,
		Category:       opts.Category,
		Automation:     report.AutomationFromEnv(getenv),
		VersionControl: versionControl(ctx, root, getenv),
		Started:        started,
		Finished:       time.Now(),
		RunProperties:  map[string]any{report.PropVersion: version},
		Policy:         policyReport(ctx, opts),
		Warnings:       warnings,
	}}
}

// legacyBaselineWarning says that a baseline is matched by tollgate/v1.
func legacyBaselineWarning(log *slog.Logger, base *policy.BaselineSet) scanners.Notification {
	w := scanners.Notification{Level: scanners.LevelWarning, Code: "baseline-v1",
		Message: fmt.Sprintf("the baseline %s predates tollgate/v2 fingerprints: its results are matched by tollgate/v1, which edits of a finding's own lines can change; re-create it with `tollgate baseline`", base.Source)}
	log.Warn(w.Message)
	return w
}

// Engines builds the enabled engines, in report order, with the result
// cache (nil: off).
func Engines(ctx context.Context, opts config.Options, log *slog.Logger, rc *scanners.ResultCache) []scanners.Scanner {
	var out []scanners.Scanner
	if opts.Enabled(scanners.EngineSecrets) {
		e := secrets.New(secrets.Options{
			ConfigPath:           opts.Secrets.Config,
			RepoConfig:           opts.Secrets.RepoConfig,
			Policy:               policyFiles(ctx, opts),
			ReviewCheckoutConfig: opts.Policy.PullRequest && changed(opts.Policy, opts.Secrets.RepoConfig, config.GitleaksConfigFile),
			Severity:             opts.Secrets.Severity,
			RuleSeverity:         opts.Secrets.RuleSeverity,
			MaxArchiveDepth:      opts.Secrets.MaxArchiveDepth,
			Mode:                 opts.Secrets.Mode,
			Since:                opts.Secrets.Since,
			SinceFrom:            opts.Secrets.SinceFrom,
			NoExtraRules:         opts.Secrets.NoExtraRules,
			NoEmulatorAllowlist:  opts.Secrets.NoEmulatorAllowlist,
			NoHardcoded:          opts.Secrets.NoHardcoded,
			Exclude:              config.Matcher(opts.Exclude, opts.Secrets.Exclude),
			Cache:                rc,
		}, log)
		out = append(out, scanners.Excluding(e, config.Matcher(opts.Secrets.Exclude)))
	}
	if opts.Enabled(scanners.EngineIaC) {
		e := iac.New(iac.Options{
			FileTypes:       opts.IaC.FileTypes,
			DownloadModules: opts.IaC.DownloadModules,
			CheckPaths:      opts.IaC.CheckPaths,
			Namespaces:      opts.IaC.Namespaces,
			TFVars:          opts.IaC.TFVars,
			HelmValueFiles:  opts.IaC.HelmValues,
			CFParams:        opts.IaC.CFParams,
			Cache:           rc,
		}, log)
		out = append(out, scanners.Excluding(e, config.Matcher(opts.IaC.Exclude)))
	}
	if opts.Enabled(scanners.EngineImage) {
		io := ImageOptions(opts)
		io.Cache = rc
		out = append(out, images.New(io, log))
	}
	return out
}

// ImageOptions are the image engine's options of a scan.
func ImageOptions(opts config.Options) images.Options {
	o := opts.Image
	return images.Options{
		Images:             o.Images,
		RepoImages:         o.RepoImages,
		DiscoverRegistries: discoverRegistries(o),
		Discover:           o.Discover,
		CacheDir:           o.CacheDir,
		DBRepositories:     o.DBRepositories,
		Offline:            o.Offline,
		SkipDBUpdate:       o.SkipDBUpdate,
		IgnoreUnfixed:      o.IgnoreUnfixed,
		PkgTypes:           o.PkgTypes,
		Username:           o.Username,
		Password:           o.Password,
		Insecure:           o.Insecure,
		DockerHost:         o.DockerHost,
	}
}

// WriteReports writes the SARIF log (when asked) and the report in the
// chosen format to the output file or stdout.
func WriteReports(o *Outcome, opts config.Options, stdout io.Writer) error {
	var errs []error
	if opts.SARIF != "" {
		if err := WriteFileAtomic(opts.SARIF, func(w io.Writer) error { return report.WriteSARIF(w, o.Scan) }); err != nil {
			errs = append(errs, fmt.Errorf("writing SARIF: %w", err))
		}
	}
	write := func(w io.Writer) error {
		switch opts.Format {
		case "json":
			return report.WriteJSON(w, o.Scan)
		case "sarif":
			return report.WriteSARIF(w, o.Scan)
		default:
			return report.WriteTable(w, o.Scan, report.TableOptions{Quiet: opts.Quiet})
		}
	}
	if opts.Output != "" {
		if err := WriteFileAtomic(opts.Output, write); err != nil {
			errs = append(errs, fmt.Errorf("writing report: %w", err))
		}
		if opts.Format != "table" {
			// The console still gets the one-line verdict.
			if _, err := fmt.Fprintln(report.NewSafeWriter(stdout), report.VerdictLine(o.Scan)); err != nil {
				errs = append(errs, err)
			}
		}
	} else if err := write(stdout); err != nil {
		errs = append(errs, fmt.Errorf("writing report: %w", err))
	}
	return errors.Join(errs...)
}

// WriteFileAtomic writes a file through a temporary file in the same
// directory and a rename, so an interrupted run never leaves a truncated log.
// What is not a regular file (/dev/null, /dev/stdout, a named pipe) is
// written in place: a rename would replace the device or pipe with a file.
// A symbolic link stays a link; the file it points to is replaced.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			_ = f.Close()
			return err
		}
		return f.Close()
	}
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// versionControl describes the scanned revision: from git when the root is
// a checkout, else from the pipeline's variables. Credentials in the remote
// URL are removed.
func versionControl(ctx context.Context, root string, getenv func(string) string) *report.VersionControl {
	if repo, err := gitrepo.Open(ctx, root); err == nil {
		if head, err := repo.Head(ctx); err == nil {
			if uri := repo.RemoteURL(ctx); uri != "" {
				return &report.VersionControl{RepositoryURI: uri, Revision: head, Branch: repo.Branch(ctx)}
			}
		}
	}
	if uri := gitrepo.RepositoryURI(getenv("BUILD_REPOSITORY_URI"), ""); uri != "" {
		return &report.VersionControl{RepositoryURI: uri, Revision: getenv("BUILD_SOURCEVERSION"),
			Branch: strings.TrimPrefix(getenv("BUILD_SOURCEBRANCH"), "refs/heads/")}
	}
	return nil
}

// policyFiles is where the engines read repository policy files: nil for
// the checkout (each engine's confined reader of the walked root), else the
// target branch's tree or nothing.
func policyFiles(ctx context.Context, opts config.Options) checkout.Files {
	p := opts.Policy
	switch {
	case p.Defaults:
		return checkout.None{Why: p.Why}
	case p.Commit != "":
		return (&gitrepo.Repo{Dir: rootDir(opts.Path)}).Tree(ctx, p.Commit, p.Name)
	}
	return nil
}

func rootDir(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		return resolved
	}
	return abs
}

// changed reports whether the pull request changes one of the files (the
// first non-empty name counts).
func changed(p config.PolicySource, names ...string) bool {
	for _, n := range names {
		if n == "" {
			continue
		}
		for _, c := range p.Changed {
			if c.Path == n {
				return true
			}
		}
		return p.Defaults
	}
	return false
}

func discoverRegistries(o config.ImageOptions) []string {
	if len(o.DiscoverRegistries) > 0 {
		return o.DiscoverRegistries
	}
	return config.DefaultDiscoverRegistries()
}

// policySteps are the policy processors of a scan, in order: inline
// comments, ignore entries and ignore files from the policy source, and in
// a pull-request build what the pull request's own policy would add (under
// review, never applied).
func policySteps(ctx context.Context, log *slog.Logger, opts config.Options, target *scanners.Target, now time.Time) ([]policy.Step, error) {
	files := policyFiles(ctx, opts)
	if files == nil {
		files = target.Checkout()
	}
	p := opts.Policy
	inline := policy.Inline{Review: p.PullRequest, Target: files.Origin()}
	var errs []error
	if p.PullRequest && p.Commit != "" {
		added, err := addedLines(ctx, target.Root, p.Commit)
		if err != nil {
			errs = append(errs, fmt.Errorf("the lines this pull request adds could not be listed, so every inline suppression is under review: %w", err))
		} else {
			inline.Added = added.Has
		}
	}
	rules, err := policy.LoadIgnoreFiles(files)
	errs = append(errs, err)
	steps := []policy.Step{inline, policy.Ignores{Rules: append(slices.Clone(opts.Ignore), rules...), Now: now, Log: log}}
	if p.PullRequest {
		proposed := slices.Clone(opts.ProposedIgnores)
		if own, err := policy.LoadIgnoreFiles(target.Checkout()); err == nil {
			for _, r := range own {
				r.Source = "the pull request's " + r.Source
				proposed = append(proposed, r)
			}
		}
		steps = append(steps, policy.Proposed{Rules: proposed, Target: files.Origin(), Now: now, Log: log})
	}
	return steps, errors.Join(errs...)
}

// addedLines lists the lines the checkout adds against the target commit:
// from their merge base when the clone has it (exactly the pull request's
// changes), else from the target itself.
func addedLines(ctx context.Context, root, target string) (gitrepo.Added, error) {
	repo, err := gitrepo.Open(ctx, root)
	if err != nil {
		return nil, err
	}
	base := target
	if head, err := repo.Head(ctx); err == nil {
		if mb := repo.MergeBase(ctx, target, head); mb != "" {
			base = mb
		}
	}
	return repo.AddedLines(ctx, base, "")
}

// loadBaseline reads the baseline: the pipeline author's file (through the
// checkout's confined reader when it lies in the checkout), or the one the
// repository's .tollgate.yaml names, from the policy source.
func loadBaseline(ctx context.Context, opts config.Options) (*policy.BaselineSet, error) {
	var (
		b    []byte
		err  error
		name string
	)
	switch {
	case opts.Baseline != "":
		name = opts.Baseline
		root, rerr := checkout.Open(opts.Path)
		if rerr != nil {
			return nil, rerr
		}
		defer root.Close()
		abs, _ := filepath.Abs(opts.Baseline)
		if rel, rerr := root.Rel(abs, ""); rerr == nil {
			b, err = root.ReadFile(rel, policy.MaxBaselineSize)
		} else {
			b, err = checkout.ReadTrusted(opts.Baseline, policy.MaxBaselineSize)
		}
	case opts.RepoBaseline != "":
		name = opts.RepoBaseline
		files := policyFiles(ctx, opts)
		if files == nil {
			root, rerr := checkout.Open(opts.Path)
			if rerr != nil {
				return nil, rerr
			}
			defer root.Close()
			files = root
		}
		b, err = files.ReadFile(opts.RepoBaseline, policy.MaxBaselineSize)
		name += " (from " + files.Origin() + ")"
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	set, err := report.ReadBaseline(b)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	set.Source = name
	return set, nil
}
func policyReport(ctx context.Context, opts config.Options) report.PolicyReport {
	pr := report.PolicyReport{Origin: "the checkout", PullRequest: opts.Policy.PullRequest}
	if files := policyFiles(ctx, opts); files != nil {
		pr.Origin = files.Origin()
	}
	for _, c := range opts.Policy.Changed {
		pr.Changes = append(pr.Changes, report.PolicyChange{Path: c.Path, Change: c.Change})
	}
	return pr
}

// unjoin lists the errors errors.Join put together (nested joins too).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// EngineDelayEnv names a test hook: a duration each engine waits, once its
// work is done, before it returns, so that tests can watch a long scan's
// progress on a small tree. It slows a scan down and changes nothing else.
const EngineDelayEnv = "TOLLGATE_TEST_ENGINE_DELAY"

func delayed(engines []scanners.Scanner, d time.Duration) []scanners.Scanner {
	out := make([]scanners.Scanner, len(engines))
	for i, e := range engines {
		out[i] = delayedEngine{Scanner: e, d: d}
	}
	return out
}

type delayedEngine struct {
	scanners.Scanner
	d time.Duration
}

func (e delayedEngine) Scan(ctx context.Context, t *scanners.Target) (scanners.Result, error) {
	res, err := e.Scanner.Scan(ctx, t)
	select {
	case <-time.After(e.d):
	case <-ctx.Done():
	}
	return res, err
}
