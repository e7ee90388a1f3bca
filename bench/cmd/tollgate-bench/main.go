// Command tollgate-bench runs the side-by-side benchmark (see bench/run.sh,
// which builds the binaries it needs) and prints the results table.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tollgate/tollgate/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	var cfg bench.Config
	var out string
	fs := pflag.NewFlagSet("tollgate-bench", pflag.ContinueOnError)
	fs.StringVar(&cfg.Tollgate, "tollgate", "", "tollgate binary (required)")
	fs.StringVar(&cfg.Gitleaks, "gitleaks", "", "gitleaks binary (empty: left out)")
	fs.StringVar(&cfg.Trivy, "trivy", "", "trivy binary (empty: left out)")
	fs.StringVar(&cfg.Work, "work", "", "scratch directory for trees, caches and outputs (required; outside the repository)")
	fs.StringVar(&cfg.RepoRoot, "repo", ".", "the Tollgate checkout")
	fs.IntSliceVar(&cfg.Sizes, "sizes", []int{1000, 10000, 50000}, "monorepo sizes in files")
	fs.IntVar(&cfg.Runs, "runs", 5, "measured runs per tool and tree (the median is reported)")
	fs.IntVar(&cfg.ImagePackages, "image-packages", 500, "packages in the crafted image (0: no image benchmark)")
	fs.StringVar(&out, "output", "", "also write the markdown table to this file")
	if err := fs.Parse(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if cfg.Tollgate == "" || cfg.Work == "" {
		fmt.Fprintln(os.Stderr, "tollgate-bench: --tollgate and --work are required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Log = os.Stderr
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tollgate-bench:", err)
		return 3
	}
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "%s, %s, %d CPUs.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU())
	res.Markdown(&b)
	fmt.Print(b.String())
	if out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "tollgate-bench:", err)
			return 3
		}
		abs, _ := filepath.Abs(out)
		fmt.Fprintln(os.Stderr, "wrote", abs)
	}
	return 0
}
