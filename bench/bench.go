// Package bench runs Tollgate and the tools users would otherwise run
// (gitleaks, Trivy) side by side on the same generated trees, and reports
// medians of wall time and peak RSS, and their ratios.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/bench/tree"
	"github.com/tollgate/tollgate/scanners/images/imagetest"
	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

// Config is one benchmark run.
type Config struct {
	// Tollgate, Gitleaks and Trivy are the binaries; an empty peer is left
	// out of the table.
	Tollgate, Gitleaks, Trivy string
	// Work holds the generated trees, caches and outputs.
	Work string
	// RepoRoot is the Tollgate checkout (for the demo and the fixtures).
	RepoRoot string
	// Sizes are the monorepo sizes in files.
	Sizes []int
	// Runs per tool and tree; the median is reported.
	Runs int
	// ImagePackages sizes the crafted image (0: no image benchmark).
	ImagePackages int
	// Log receives progress lines.
	Log io.Writer
}

// Sample is one measured run.
type Sample struct {
	Wall   time.Duration
	MaxRSS int64 // bytes
}

// Measure is the median of a tool's runs on a tree.
type Measure struct {
	Tool    string
	Samples []Sample
}

// Wall is the median wall time.
func (m Measure) Wall() time.Duration {
	w := make([]time.Duration, len(m.Samples))
	for i, s := range m.Samples {
		w[i] = s.Wall
	}
	return median(w)
}

// RSS is the median peak resident set size in bytes.
func (m Measure) RSS() int64 {
	r := make([]int64, len(m.Samples))
	for i, s := range m.Samples {
		r[i] = s.MaxRSS
	}
	return median(r)
}

func median[T int64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Row is one tree's results.
type Row struct {
	Tree     string
	Files    int
	Bytes    int64
	Measures map[string]Measure // by tool: tollgate, gitleaks, trivy, tollgate-secrets
}

// Results is a benchmark run.
type Results struct {
	Trees []Row
	Image *Row
	Runs  int
}

// tool is a command line to measure.
type tool struct {
	name string
	args func(tree, out string) []string
}

// Run generates the trees and measures every tool on each.
func Run(ctx context.Context, cfg Config) (Results, error) {
	if cfg.Runs < 1 {
		cfg.Runs = 1
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	res := Results{Runs: cfg.Runs}
	for _, bin := range []string{cfg.Tollgate, cfg.Gitleaks, cfg.Trivy} {
		if bin == "" {
			continue
		}
		if err := evictPageCache(bin); err != nil {
			return res, err
		}
	}
	cache := filepath.Join(cfg.Work, "cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return res, fmt.Errorf("work directory: %w", err)
	}
	// Cold: no result cache, so every run reads and checks every file.
	tools := []tool{{"tollgate", func(t, out string) []string {
		return []string{cfg.Tollgate, "scan", "--scanners", "secrets,iac", "--no-result-cache", "--fail-on", "none", "--quiet", "--sarif", out, t}
	}}}
	if cfg.Gitleaks != "" {
		tools = append(tools, tool{"gitleaks", func(t, out string) []string {
			return []string{cfg.Gitleaks, "dir", t, "--no-banner", "--exit-code", "0", "--log-level", "error", "--report-format", "json", "--report-path", out}
		}})
	}
	if cfg.Trivy != "" {
		tools = append(tools, tool{"trivy", func(t, out string) []string {
			return []string{cfg.Trivy, "config", "--quiet", "--skip-check-update", "--cache-dir", filepath.Join(cache, "trivy"), "--format", "json", "--output", out, t}
		}})
	}

	type treeSpec struct {
		name, dir string
		files     int
	}
	empty := filepath.Join(cfg.Work, "trees", "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return res, fmt.Errorf("work directory: %w", err)
	}
	specs := []treeSpec{{"empty (start-up)", empty, 0}, {"testdata/demo", filepath.Join(cfg.RepoRoot, "testdata", "demo"), -1}}
	for _, n := range cfg.Sizes {
		specs = append(specs, treeSpec{fmt.Sprintf("monorepo %d", n), filepath.Join(cfg.Work, "trees", fmt.Sprintf("mono-%d", n)), n})
	}
	changed := 0
	for _, s := range specs {
		if s.files > 0 {
			if err := generate(ctx, s.dir, s.files, cfg); err != nil {
				return res, err
			}
		}
		files, size, err := treeSize(s.dir)
		if err != nil {
			return res, err
		}
		row := Row{Tree: s.name, Files: files, Bytes: size, Measures: map[string]Measure{}}
		treeTools := tools
		if s.files > 0 {
			// The secret engine alone, for its throughput against gitleaks'.
			treeTools = append(slices.Clone(tools), tool{"tollgate-secrets", func(t, out string) []string {
				return []string{cfg.Tollgate, "scan", "--scanners", "secrets", "--no-result-cache", "--fail-on", "none", "--quiet", "--sarif", out, t}
			}}, tool{"tollgate-warm", func(t, out string) []string {
				// The warm-up run fills the result cache; the measured runs
				// find the unchanged tree in it.
				dir := filepath.Join(cache, "tollgate-"+filepath.Base(t))
				return []string{cfg.Tollgate, "scan", "--scanners", "secrets,iac", "--cache-dir", dir, "--fail-on", "none", "--quiet", "--sarif", out, t}
			}}, tool{"tollgate-warm-1changed", func(t, out string) []string {
				// The same warm cache with one file changed since the last
				// run: a new line in one source file each time.
				changed++
				dir := filepath.Join(cache, "tollgate-"+filepath.Base(t))
				if err := os.WriteFile(filepath.Join(t, "bench-changed.txt"), fmt.Appendf(nil, "run %d\n", changed), 0o644); err != nil {
					return []string{"false"}
				}
				return []string{cfg.Tollgate, "scan", "--scanners", "secrets,iac", "--cache-dir", dir, "--fail-on", "none", "--quiet", "--sarif", out, t}
			}})
			// Shards: each of ShardCount parts on its own (as parallel jobs
			// run them), then the merge of their logs.
			var shardLogs []string
			for k := 1; k <= ShardCount; k++ {
				name := fmt.Sprintf("tollgate-shard-%d", k)
				shardLogs = append(shardLogs, filepath.Join(cfg.Work, "out", name+".out"))
				treeTools = append(treeTools, tool{name, func(t, out string) []string {
					return []string{cfg.Tollgate, "scan", "--scanners", "secrets,iac", "--no-result-cache", "--shard", fmt.Sprintf("%d/%d", k, ShardCount), "--fail-on", "none", "--quiet", "--sarif", out, t}
				}})
			}
			treeTools = append(treeTools, tool{"tollgate-merge", func(t, out string) []string {
				return append([]string{cfg.Tollgate, "merge", "--path", t, "--fail-on", "none", "--quiet", "--sarif", out}, shardLogs...)
			}})
		}
		if err := measure(ctx, cfg, treeTools, s.dir, &row); err != nil {
			return res, err
		}
		res.Trees = append(res.Trees, row)
	}
	if cfg.ImagePackages > 0 {
		row, err := imageBench(ctx, cfg, cache, empty)
		if err != nil {
			return res, err
		}
		res.Image = &row
	}
	return res, nil
}

// generate writes a monorepo tree once; an existing complete one is reused.
// DIR.done records its tree.Stats (JSON).
func generate(ctx context.Context, dir string, files int, cfg Config) error {
	done := dir + ".done"
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("benchmark tree %s: %w", dir, err)
	}
	fmt.Fprintf(cfg.Log, "generating %s (%d files)\n", dir, files)
	st, err := tree.Generate(ctx, dir, tree.Options{Files: files, Seed: uint64(files), Fixtures: filepath.Join(cfg.RepoRoot, "scanners", "iac", "testdata", "parity")})
	if err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(done, b, 0o644)
}

func treeSize(dir string) (files int, size int64, err error) {
	err = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			files++
			size += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("benchmark tree %s: %w", dir, err)
	}
	return files, size, nil
}

// measure runs each tool once to warm the page cache, then Runs times,
// round-robin so that drift on the machine hits every tool alike.
func measure(ctx context.Context, cfg Config, tools []tool, dir string, row *Row) error {
	out := filepath.Join(cfg.Work, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	for i := -1; i < cfg.Runs; i++ {
		for _, t := range tools {
			s, err := run(ctx, t.args(dir, filepath.Join(out, t.name+".out")))
			if err != nil {
				return fmt.Errorf("%s on %s: %w", t.name, row.Tree, err)
			}
			if i < 0 {
				continue // warm-up
			}
			m := row.Measures[t.name]
			m.Tool = t.name
			m.Samples = append(m.Samples, s)
			row.Measures[t.name] = m
		}
	}
	fmt.Fprintf(cfg.Log, "%s: %s\n", row.Tree, summary(row))
	return nil
}

func summary(row *Row) string {
	var parts []string
	for _, name := range []string{"tollgate", "gitleaks", "trivy", "tollgate-secrets"} {
		if m, ok := row.Measures[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2fs %dMB", name, m.Wall().Seconds(), m.RSS()>>20))
		}
	}
	return strings.Join(parts, ", ")
}

// run executes one command and measures its wall time and peak RSS.
func run(ctx context.Context, argv []string) (Sample, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return Sample{}, err
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return Sample{}, fmt.Errorf("exit %d: %s", code, tail(stderr.String(), 2000))
	}
	rss, err := maxRSS(cmd.ProcessState)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Wall: wall, MaxRSS: rss}, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// imageBench scans a crafted image tarball with a warm fixture DB.
func imageBench(ctx context.Context, cfg Config, cache, empty string) (Row, error) {
	dir := filepath.Join(cfg.Work, "image")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Row{}, fmt.Errorf("work directory: %w", err)
	}
	archive := filepath.Join(dir, fmt.Sprintf("alpine-%d.tar", cfg.ImagePackages))
	img, err := imagetest.AlpineWith(imagetest.ManyAlpinePackages(cfg.ImagePackages))
	if err != nil {
		return Row{}, fmt.Errorf("crafting the image: %w", err)
	}
	if err := imagetest.WriteDockerArchive(archive, "bench/alpine:latest", img); err != nil {
		return Row{}, fmt.Errorf("crafting the image: %w", err)
	}
	dbCache := filepath.Join(dir, "cache")
	if err := vulndbtest.Write(vulndb.Dir(dbCache), vulndbtest.Default()); err != nil {
		return Row{}, fmt.Errorf("fixture DB: %w", err)
	}
	fi, err := os.Stat(archive)
	if err != nil {
		return Row{}, fmt.Errorf("crafted image: %w", err)
	}
	tools := []tool{{"tollgate", func(_, out string) []string {
		return []string{cfg.Tollgate, "scan", "--scanners", "image", "--image", "docker-archive:" + archive, "--offline",
			"--cache-dir", dbCache, "--no-result-cache", "--fail-on", "none", "--quiet", "--sarif", out, empty}
	}}}
	if cfg.Trivy != "" {
		tools = append(tools, tool{"trivy", func(_, out string) []string {
			return []string{cfg.Trivy, "image", "--input", archive, "--offline-scan", "--skip-db-update", "--skip-java-db-update",
				"--scanners", "vuln", "--cache-dir", dbCache, "--quiet", "--format", "json", "--output", out}
		}})
	}
	row := Row{Tree: fmt.Sprintf("image, %d packages", cfg.ImagePackages), Files: 1, Bytes: fi.Size(), Measures: map[string]Measure{}}
	return row, measure(ctx, cfg, tools, archive, &row)
}
