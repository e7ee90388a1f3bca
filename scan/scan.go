// Package scan runs one Tollgate scan from its Options to its reports:
// walk, engines side by side, policy, verdict, then SARIF and the console
// report. The CLI and the pipeline task both call it.
package scan

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/deps"
	"github.com/tollgate/tollgate/scanners/gitrepo"
)

// Outcome is a finished scan, ready for reports.
type Outcome struct {
	report.Scan
}

// ExitCode is the process exit code of the scan.
func (o *Outcome) ExitCode() int { return o.Verdict.ExitCode() }

// Run scans opts.Path with the engines of reg that opts enables. It
// returns an error only when no scan could happen at all (the root cannot
// be read); everything else is in the Outcome. The engines count their work
// on meter (nil: not counted) for a progress display.
func Run(ctx context.Context, log *slog.Logger, reg Registry, opts config.Options, version string, getenv func(string) string, meter *scanners.Meter) (*Outcome, error) {
	return run(ctx, scanners.Walk, log, reg, opts, version, getenv, meter)
}

// walkFunc lists a scan's files: scanners.Walk, or in tests a walk that
// holds until its context ends.
type walkFunc func(ctx context.Context, root string, o scanners.WalkOptions) (*scanners.Target, error)

// logWarnings logs the configuration's warnings, unless the console's
// table (the report on stdout) prints them: once, not twice.
func logWarnings(log *slog.Logger, opts config.Options) {
	if opts.Format == "table" && opts.Output == "" && !opts.Quiet {
		return
	}
	for _, w := range opts.Warnings {
		log.Warn("configuration", "warning", w.Message)
	}
}

func run(ctx context.Context, walk walkFunc, log *slog.Logger, reg Registry, opts config.Options, version string, getenv func(string) string, meter *scanners.Meter) (*Outcome, error) {
	started := time.Now()
	opts.Repo.SetLogger(log)
	logWarnings(log, opts)
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
		ctx, cancel = context.WithTimeoutCause(ctx, opts.Timeout, fmt.Errorf("the scan's --timeout (%s) was reached", opts.Timeout))
		defer cancel()
	}
	rc, cacheWarning := resultCache(opts, version, log)
	if d, ok := opts.EngineOptions[scanners.EngineDeps].(*deps.Options); ok {
		d.Version = version // the SBOMs' tool
	}
	engines := reg.Engines(ctx, opts, log, rc)
	target, err := walk(ctx, opts.Path, scanners.WalkOptions{
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
		log.Error("scan stopped while listing files", "reason", scanners.StopReason(ctx))
		code := "canceled"
		if ctx.Err() == context.DeadlineExceeded {
			code = "timeout"
		}
		for _, e := range engines {
			r := scanners.Result{Engine: e.Name(), Tool: e.Tool(), Started: started, Finished: time.Now()}
			r.Status.Fail(code, fmt.Errorf("%s engine did not run: %s while the files were being listed", e.Name(), scanners.StopReason(ctx)))
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
		names := make([]string, len(engines))
		for i, e := range engines {
			names[i] = e.Name()
		}
		meter.Expect(names...)
		attrs := []any{"root", target.Root, "files", len(target.Files)}
		if name := opts.Shard.String(); name != "" {
			attrs = append(attrs, "shard", name)
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
	verdict.Shard = opts.Shard
	return &Outcome{Scan: report.Scan{
		Root:           root,
		Results:        results,
		Verdict:        verdict,
		Gate:           opts.Gate,
		ToolVersion:    version,
		Category:       opts.Category,
		Automation:     report.AutomationFromEnv(getenv),
		VersionControl: versionControl(ctx, opts.Repo, getenv),
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

// versionControl describes the scanned revision: from git when the root is
// a checkout, else from the pipeline's variables. Credentials in the remote
// URL are removed.
func versionControl(ctx context.Context, repo *gitrepo.Repo, getenv func(string) string) *report.VersionControl {
	if repo != nil {
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
