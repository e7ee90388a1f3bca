package scan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/crash"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
)

// MaxShardLogSize bounds one shard log read into memory.
const MaxShardLogSize = policy.MaxBaselineSize

// Merge reads the SARIF logs of the N shards of one scan (`--shard K/N`)
// and makes them the scan's outcome: one run per engine with every shard's
// results, rules and notifications, then the baseline and the gate, once,
// as `scan` applies them. Every shard 1..N must be given exactly once, by
// the same Tollgate version with the same engines; anything else is a
// usage error (exit 2) that names the shard or the file.
func Merge(ctx context.Context, log *slog.Logger, opts config.Options, version string, getenv func(string) string, files []string) (*Outcome, error) {
	started := time.Now()
	root := rootDir(opts.Path)
	for _, f := range files {
		// The checkout is the pull request's: a log in it would be results
		// it chose for itself, and the gate would follow them.
		if inside(root, f) {
			return nil, &config.UsageError{Err: fmt.Errorf("shard log %s is inside the checkout %s, whose files are not trusted to say what was found: give the shard jobs' artifacts from outside it", f, root)}
		}
	}
	shards, err := readShards(files)
	if err != nil {
		return nil, &config.UsageError{Err: err}
	}
	logWarnings(log, opts)
	base, err := loadBaseline(ctx, opts)
	if err != nil {
		return nil, &config.UsageError{Err: err}
	}
	log.Debug("merge: shard logs read", "shards", len(shards), "took", time.Since(started).Round(time.Millisecond))
	results := mergeRuns(shards, opts.Warnings)
	log.Info("merged", "shards", len(shards), "engines", len(results))

	warnings := slices.Clone(opts.Warnings)
	if base != nil && base.LegacyOnly() {
		warnings = append(warnings, legacyBaselineWarning(log, base))
	}
	var steps []policy.Step
	if base != nil {
		steps = append(steps, policy.Baseline{Set: base})
	}
	policy.Apply(log, results, steps...)

	return outcome(ctx, opts, version, getenv, root, results, warnings, started), nil
}

// shardLog is one shard's log.
type shardLog struct {
	file  string
	shard scanners.Shard
	log   *report.Log
}

// readShards reads the logs and checks that they are the N parts of one
// scan: each names its shard, the N agree, every part is there once, and
// the version and the engines are the same in each.
func readShards(files []string) ([]shardLog, error) {
	// The logs are read side by side (decoding is most of a merge's time),
	// and reported in the order given.
	shards := make([]shardLog, len(files))
	errs := make([]error, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, file := range files {
		g.Go(func() error {
			defer crash.Recover("reading the shard log "+file, &errs[i])
			shards[i], errs[i] = readShard(file)
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var problems []error
	n := shards[0].shard.Count
	byIndex := map[int][]string{}
	for _, s := range shards {
		if s.shard.Count != n {
			return nil, fmt.Errorf("%s is shard %s but %s is shard %s: the logs are not parts of one scan", shards[0].file, shards[0].shard, s.file, s.shard)
		}
		byIndex[s.shard.Index] = append(byIndex[s.shard.Index], s.file)
	}
	for k := 1; k <= n; k++ {
		switch got := byIndex[k]; {
		case len(got) == 0:
			problems = append(problems, fmt.Errorf("shard %d/%d is missing", k, n))
		case len(got) > 1:
			problems = append(problems, fmt.Errorf("shard %d/%d is given %d times (%s)", k, n, len(got), strings.Join(got, ", ")))
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	slices.SortFunc(shards, func(a, b shardLog) int { return a.shard.Index - b.shard.Index })
	first := shards[0]
	for _, s := range shards[1:] {
		if v0, v := first.log.Runs[0].Version, s.log.Runs[0].Version; v0 != v {
			return nil, fmt.Errorf("shard %s (%s) was written by Tollgate %s, shard %s (%s) by %s: merge the shards of one run", first.shard, first.file, v0, s.shard, s.file, v)
		}
		if e0, e := engines(first.log), engines(s.log); !slices.Equal(e0, e) {
			return nil, fmt.Errorf("shard %s (%s) ran the engines %s, shard %s (%s) ran %s: merge the shards of one run", first.shard, first.file, strings.Join(e0, ", "), s.shard, s.file, strings.Join(e, ", "))
		}
	}
	return shards, nil
}

func readShard(file string) (shardLog, error) {
	f, err := checkout.OpenTrusted(file, MaxShardLogSize)
	if err != nil {
		return shardLog{}, fmt.Errorf("shard log %s: %w", file, err)
	}
	defer f.Close()
	l, err := report.ReadSARIFFrom(bufio.NewReaderSize(io.LimitReader(f, MaxShardLogSize), 1<<20))
	if err != nil {
		return shardLog{}, fmt.Errorf("shard log %s: %w", file, err)
	}
	s, err := shardOf(l)
	if err != nil {
		return shardLog{}, fmt.Errorf("shard log %s: %w", file, err)
	}
	return shardLog{file: file, shard: s, log: l}, nil
}

// shardOf is the shard every run of a log names.
func shardOf(l *report.Log) (scanners.Shard, error) {
	if len(l.Runs) == 0 {
		return scanners.Shard{}, errors.New("the log has no run")
	}
	name := l.Runs[0].Shard
	for _, r := range l.Runs[1:] {
		if r.Shard != name {
			return scanners.Shard{}, fmt.Errorf("its runs name different shards (%q, %q)", name, r.Shard)
		}
	}
	if name == "" {
		return scanners.Shard{}, errors.New("it is not a shard's log (written without --shard K/N)")
	}
	s, err := scanners.ParseShard(name)
	if err != nil {
		return scanners.Shard{}, fmt.Errorf("its %s property: %w", report.PropShard, err)
	}
	return s, nil
}

func engines(l *report.Log) []string {
	var out []string
	for _, r := range l.Runs {
		out = append(out, r.Result.Engine)
	}
	return out
}

// mergeRuns joins each engine's runs across the shards (given in shard
// order). warnings are the merge's own configuration warnings: the shards
// wrote the same ones into every run, and they are written once again.
func mergeRuns(shards []shardLog, warnings []scanners.Notification) []scanners.Result {
	var out []scanners.Result
	for i, run := range shards[0].log.Runs {
		r := run.Result
		r.Rules, r.Findings = nil, nil
		r.Status = scanners.Status{State: scanners.Succeeded}
		r.Cache = nil
		if vc := run.VersionControl; vc != nil && vc.RepositoryURI != "" {
			r.Provenance = &scanners.Provenance{RepositoryURI: vc.RepositoryURI, Revision: vc.Revision, Branch: vc.Branch}
		}
		total := 0
		for _, s := range shards {
			total += len(s.log.Runs[i].Result.Findings)
		}
		r.Findings = make([]scanners.Finding, 0, total)
		rules := map[string]int{}
		found := make(map[[2]string]bool, total)
		for _, s := range shards {
			part := s.log.Runs[i]
			pr := part.Result
			r.Status.State = max(r.Status.State, pr.Status.State)
			if !pr.Started.IsZero() && (r.Started.IsZero() || pr.Started.Before(r.Started)) {
				r.Started = pr.Started
			}
			if pr.Finished.After(r.Finished) {
				r.Finished = pr.Finished
			}
			for k, v := range pr.Tool.Properties {
				if r.Tool.Properties == nil {
					r.Tool.Properties = map[string]string{}
				}
				if _, ok := r.Tool.Properties[k]; !ok {
					r.Tool.Properties[k] = v
				}
			}
			if c := pr.Cache; c != nil {
				if r.Cache == nil {
					r.Cache = &scanners.CacheStats{}
				}
				r.Cache.Units += c.Units
				r.Cache.FromCache += c.FromCache
			}
			for _, rule := range pr.Rules {
				r.Rules = scanners.AddRule(r.Rules, rules, rule)
			}
			for _, f := range pr.Findings {
				// The baseline is the merge's to apply: a split shard
				// leaves it out, and the log of 1/1 (the whole scan, which
				// applied it) must not have its absent results matched
				// again as found.
				if f.BaselineState == scanners.BaselineAbsent {
					continue
				}
				f.BaselineState = scanners.BaselineNone
				key := [2]string{f.Fingerprint, f.FingerprintV2}
				if !found[key] {
					found[key] = true
					r.Findings = append(r.Findings, f)
				}
			}
			r.Status.Notifications = appendNew(r.Status.Notifications, pr.Status.Notifications...)
			for _, n := range part.Configuration {
				if !slices.Contains(warnings, n) {
					r.Status.Config = appendNew(r.Status.Config, n)
				}
			}
		}
		out = append(out, r) // policy.Apply puts them in order
	}
	return out
}

// appendNew adds the notifications not already in list: what every shard
// says (a missing DB, an unreadable policy file) is said once.
func appendNew(list []scanners.Notification, ns ...scanners.Notification) []scanners.Notification {
	for _, n := range ns {
		if !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	return list
}
