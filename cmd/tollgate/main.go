// Command tollgate scans a checkout for secrets, IaC misconfigurations and
// vulnerable container images, writes one SARIF log, and fails the build by
// severity thresholds.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	trivylog "github.com/aquasecurity/trivy/pkg/log"
	"github.com/rs/zerolog"
	gitleakslog "github.com/zricethezav/gitleaks/v8/logging"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners/iac"
	"github.com/tollgate/tollgate/scanners/secrets"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `Tollgate scans a checkout for secrets, IaC misconfigurations and vulnerable
container images, writes one SARIF 2.1.0 log, and fails the build by severity.

Usage:
  tollgate scan [flags] [PATH]   scan PATH (default .)
  tollgate version               print the versions of Tollgate and its engines
  tollgate help                  print this help

Exit codes:
  0  pass: no finding at or above the threshold
  1  policy failure: a finding at or above the threshold
  2  usage or configuration error
  3  an engine failed (the results of the others are still written)

Scan flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		printUsage(stderr)
		return policy.ExitUsage
	}
	switch args[0] {
	case "scan":
		return runScan(args[1:], stdout, stderr, getenv)
	case "version", "--version":
		fmt.Fprintf(stdout, "tollgate %s\ngitleaks %s\ntrivy %s\n", version, secrets.GitleaksVersion, iac.TrivyVersion)
		return policy.ExitPass
	case "help", "-h", "--help":
		printUsage(stdout)
		return policy.ExitPass
	default:
		fmt.Fprintf(stderr, "tollgate: unknown command %q\n\n", report.SafeText(args[0]))
		printUsage(stderr)
		return policy.ExitUsage
	}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	config.Usage(w)
}

func runScan(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	opts, err := config.Parse(args, getenv)
	if errors.Is(err, config.ErrHelp) {
		printUsage(stdout)
		return policy.ExitPass
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate: %s\n", report.SafeText(err.Error()))
		fmt.Fprintln(stderr, "Run 'tollgate help' for usage.")
		return policy.ExitUsage
	}
	log := setupLogging(stderr, opts.Debug, opts.Quiet)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out, err := scan.Run(ctx, log, opts, version, getenv)
	if err != nil {
		log.Error("scan failed", "error", err)
		return policy.ExitScannerFailed
	}
	if err := scan.WriteReports(out, opts, stdout); err != nil {
		log.Error("could not write the reports", "error", err)
		return policy.ExitScannerFailed
	}
	return out.ExitCode()
}

// setupLogging returns Tollgate's logger and points the engines' own
// loggers (Trivy's slog default, gitleaks' zerolog) at the same escaped
// stderr, at debug level only when asked: their messages name scanned files.
func setupLogging(stderr io.Writer, debug, quiet bool) *slog.Logger {
	safe := report.NewSafeWriter(stderr)
	level := slog.LevelInfo
	switch {
	case debug:
		level = slog.LevelDebug
	case quiet:
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(safe, &slog.HandlerOptions{Level: level}))

	// Trivy buffers log records until its logger is initialised.
	trivylog.InitLogger(debug, !debug)
	if debug {
		slog.SetDefault(slog.New(slog.NewTextHandler(safe, &slog.HandlerOptions{Level: slog.LevelDebug})).With("engine", "trivy"))
		gitleakslog.Logger = zerolog.New(zerolog.ConsoleWriter{Out: safe, NoColor: true}).Level(zerolog.DebugLevel)
	} else {
		slog.SetDefault(slog.New(slog.DiscardHandler))
		gitleakslog.Logger = zerolog.Nop()
	}
	return log
}
