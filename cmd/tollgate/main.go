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
	"os/exec"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	trivylog "github.com/aquasecurity/trivy/pkg/log"
	"github.com/rs/zerolog"
	gitleakslog "github.com/zricethezav/gitleaks/v8/logging"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/isolate"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/report/progress"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iac"
	"github.com/tollgate/tollgate/scanners/imageref"
	"github.com/tollgate/tollgate/task"
	"github.com/tollgate/tollgate/vulndb"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `Tollgate scans a checkout for secrets, IaC misconfigurations and vulnerable
container images, writes one SARIF 2.1.0 log, and fails the build by severity.

Usage:
  tollgate scan [flags] [PATH]   scan PATH (default .)
  tollgate baseline FILE [flags] [PATH]
                                 scan and write the SARIF log to FILE, for --baseline (exit 0 unless an engine failed)
  tollgate scan --shard K/N [flags] [PATH]
                                 scan the K-th of N parts, for N parallel jobs (exit 0 unless an engine failed; 1/1 is the whole scan)
  tollgate merge --sarif OUT [flags] SHARD.sarif...
                                 merge the N shards' logs and apply the gate once (--fail-on, --baseline,
                                 --new-only, the repository policy of --path, default .); exit 2 if a
                                 shard is missing or given twice
  tollgate explain ID            print a rule's, check's or vulnerability's full help, offline
  tollgate task                  run as the Azure Pipelines task (inputs from INPUT_* variables)
  tollgate db download [flags]   download the vulnerability DB (for --offline scans)
  tollgate db info [flags]       show the vulnerability DB's location and age
  tollgate version               print the versions of Tollgate, its engines and the DB
  tollgate help                  print this help

Exit codes:
  0  pass: no finding at or above the threshold
  1  policy failure: a finding at or above the threshold
  2  usage or configuration error
  3  an engine failed (the results of the others are still written)

Scan flags:
`

func main() { os.Exit(start(defaultRegistry())) }

// defaultRegistry is the engines Tollgate runs: the built-in ones, the IaC
// engine's units in worker processes.
func defaultRegistry() scan.Registry { return scan.Builtin().Isolated(workerCommand) }

// start runs the process's command line with the engines of reg: a worker
// of an engine (internal/isolate), else a command, once the credentials are
// out of the environment. The tests' binary starts here too, with its
// engines slowed down (slow_test.go).
func start(reg scan.Registry) int {
	if len(os.Args) == 3 && os.Args[1] == isolate.Arg {
		iac.SkipRuleRegistry()
		return serveWorker(os.Args[2])
	}
	if err := reexec(); err != nil {
		fmt.Fprintf(os.Stderr, "tollgate: %s\n", err)
	}
	iac.SkipRuleRegistry() // before any goroutine: it replaces a Trivy package variable
	return run(reg, os.Args[1:], os.Stdout, os.Stderr, holdSecrets())
}

// subcommandUsage is what --help prints for the commands without flags of
// their own (scan, merge and db print their flags themselves).
func subcommandUsage(cmd string) (string, bool) {
	switch cmd {
	case "baseline":
		return "usage: tollgate baseline FILE [scan flags] [PATH]\n\nScans PATH as tollgate scan does and writes the results to FILE, a SARIF baseline for\n--baseline (exit 0 unless an engine failed). The scan flags: tollgate help.", true
	case "explain":
		return "usage: tollgate explain ID\n\nPrints a rule offline: a gitleaks or Tollgate secret rule, a Trivy check (KSV-0017, KSV017,\nAVD-...) or a CVE (from the vulnerability DB on disk).", true
	case "task":
		return "usage: tollgate task\n\nRuns as the Azure Pipelines task: the inputs come from the agent's INPUT_* variables\n(task.json), the logging commands go to stdout.", true
	case "version":
		return "usage: tollgate version\n\nPrints Tollgate's version, the engines' and the vulnerability DB's.", true
	}
	return "", false
}

func run(reg scan.Registry, args []string, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	// A panic of the main goroutine is an error (exit 3), never Go's exit
	// 2, which is Tollgate's usage error; every other goroutine recovers
	// its own (internal/crash).
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "tollgate: internal error (a bug, please report it): %s\n%s", report.SafeText(fmt.Sprint(p)), debug.Stack())
			code = policy.ExitScannerFailed
		}
	}()
	if len(args) == 0 {
		printUsage(stderr)
		return policy.ExitUsage
	}
	if u, ok := subcommandUsage(args[0]); ok && len(args) > 1 && (args[1] == "-h" || args[1] == "--help") {
		fmt.Fprintln(stdout, u)
		return policy.ExitPass
	}
	switch args[0] {
	case "scan":
		return runScan(reg, args[1:], stdout, stderr, getenv)
	case "baseline":
		if len(args) < 2 || strings.HasPrefix(args[1], "-") {
			fmt.Fprintln(stderr, "tollgate: usage: tollgate baseline FILE [scan flags] [PATH]")
			return policy.ExitUsage
		}
		return runBaseline(reg, args[1], args[2:], stdout, stderr, getenv)
	case "merge":
		return runMerge(reg, args[1:], stdout, stderr, getenv)
	case "explain":
		return runExplain(reg, args[1:], stdout, stderr, getenv)
	case "task":
		if len(args) > 1 {
			// The task takes its inputs from INPUT_* variables: an argument
			// would be ignored, and the scan run on whatever the working
			// directory holds.
			u, _ := subcommandUsage("task")
			fmt.Fprintf(stderr, "tollgate: task takes no arguments (got %q)\n%s\n", report.SafeText(args[1]), u)
			return policy.ExitUsage
		}
		return runTask(reg, stdout, stderr, getenv)
	case "version", "--version":
		if len(args) > 1 {
			// version takes nothing: a flag it does not know (--json) is
			// refused, not ignored.
			fmt.Fprintf(stderr, "tollgate: version takes no arguments (got %q)\n", report.SafeText(args[1]))
			return policy.ExitUsage
		}
		fmt.Fprintf(stdout, "tollgate %s\n", version)
		if m, err := vulndb.ReadJavaMetadata(mustCacheDir(getenv)); err == nil {
			defer fmt.Fprintf(stdout, "Java DB: updated %s\n", m.UpdatedAt.UTC().Format("2006-01-02T15:04Z"))
		}
		for _, l := range reg.VersionLines() {
			fmt.Fprintln(stdout, l)
		}
		dbOpts, _ := config.ParseDB(nil, getenv)
		fmt.Fprintf(stdout, "vulnerability DB: %s\n", report.SafeText(dbSummary(dbOpts.CacheDir)))
		return policy.ExitPass
	case "db":
		return runDB(args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		printUsage(stdout)
		return policy.ExitPass
	default:
		if getenv("TOLLGATE_EXEC_FALLBACK") == "1" {
			return execFallback(reg, args, stdout, stderr, getenv)
		}
		fmt.Fprintf(stderr, "tollgate: unknown command %q\n\n", report.SafeText(args[0]))
		printUsage(stderr)
		return policy.ExitUsage
	}
}

// mustCacheDir is the cache directory `db` and `version` read (flags
// aside): TOLLGATE_CACHE_DIR, else the default.
func mustCacheDir(getenv func(string) string) string {
	o, _ := config.ParseDB(nil, getenv)
	return o.CacheDir
}

// execFallback makes tollgate a well-behaved image entrypoint (the image
// sets TOLLGATE_EXEC_FALLBACK=1): `docker run IMAGE scan /src` runs a
// subcommand, while a command that is not one (an Azure Pipelines container
// job's keep-alive, `sleep infinity`, `bash`) is executed in its place.
func execFallback(reg scan.Registry, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if args[0] == "tollgate" || args[0] == "/usr/local/bin/tollgate" {
		if len(args) == 1 {
			printUsage(stdout)
			return policy.ExitPass
		}
		return run(reg, args[1:], stdout, stderr, getenv)
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "tollgate: %q is neither a tollgate command nor an executable: %v\n", report.SafeText(args[0]), err)
		return policy.ExitUsage
	}
	err = syscall.Exec(path, args, os.Environ())
	fmt.Fprintf(stderr, "tollgate: exec %s: %v\n", report.SafeText(path), err)
	return 126
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	config.Usage(w, scan.Builtin().Infos())
	fmt.Fprint(w, "\nMerge flags (with the scan flags above that apply to the gate and the reports):\n")
	config.MergeUsage(w)
	fmt.Fprint(w, "\nDB flags:\n")
	config.DBUsage(w)
}

func runDB(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || (args[0] != "download" && args[0] != "info") {
		fmt.Fprintln(stderr, "tollgate: usage: tollgate db download|info [flags]")
		return policy.ExitUsage
	}
	opts, err := config.ParseDB(args[1:], getenv)
	if errors.Is(err, config.ErrHelp) {
		config.DBUsage(stdout)
		return policy.ExitPass
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate: %s\n", report.SafeText(err.Error()))
		return policy.ExitUsage
	}
	log := setupLogging(stderr, opts.Debug, opts.Quiet)
	if args[0] == "info" {
		fmt.Fprintf(stdout, "%s\n", report.SafeText(dbSummary(opts.CacheDir)))
		java := "not available"
		if m, err := vulndb.ReadJavaMetadata(opts.CacheDir); err == nil {
			java = fmt.Sprintf("updated %s, in %s", m.UpdatedAt.UTC().Format("2006-01-02T15:04Z"), vulndb.JavaDir(opts.CacheDir))
		} else {
			java = fmt.Sprintf("%s (%v)", java, err)
		}
		fmt.Fprintf(stdout, "Java DB: %s\n", report.SafeText(java))
		return policy.ExitPass
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The registry credentials go only to the repositories named for each
	// DB (--db-repository, --java-db-repository): the public defaults get
	// none (the docker config's own, per host, still apply).
	namedOnly := func(named []string) func(string) bool {
		return func(repo string) bool {
			return slices.ContainsFunc(named, func(r string) bool { return imageref.RepositoryOf(r) == repo })
		}
	}
	meta, err := vulndb.Download(ctx, opts.CacheDir, vulndb.DownloadOptions{
		Repositories:    opts.Repositories,
		Username:        opts.Username,
		Password:        opts.Password,
		SendCredentials: namedOnly(opts.Repositories),
		Log:             log,
	})
	if err != nil {
		log.Error("could not download the vulnerability DB", "error", err)
		return policy.ExitScannerFailed
	}
	fmt.Fprintf(stdout, "vulnerability DB updated %s, in %s\n", meta.UpdatedAt.UTC().Format(time.RFC3339), report.SafeText(vulndb.Dir(opts.CacheDir)))
	if opts.SkipJava {
		return policy.ExitPass
	}
	// The Java DB names the JAR files of images by their SHA-1.
	jmeta, err := vulndb.DownloadJava(ctx, opts.CacheDir, vulndb.DownloadOptions{
		Repositories:    opts.JavaRepositories,
		Username:        opts.Username,
		Password:        opts.Password,
		SendCredentials: namedOnly(opts.JavaRepositories),
		Log:             log,
	})
	if err != nil {
		log.Error("could not download the Java DB (--skip-java-db downloads the vulnerability DB alone)", "error", err)
		return policy.ExitScannerFailed
	}
	fmt.Fprintf(stdout, "Java DB updated %s, in %s\n", jmeta.UpdatedAt.UTC().Format(time.RFC3339), report.SafeText(vulndb.JavaDir(opts.CacheDir)))
	return policy.ExitPass
}

// runTask runs the Azure Pipelines task; the agent passes inputs as INPUT_*.
func runTask(reg scan.Registry, stdout, stderr io.Writer, getenv func(string) string) int {
	debug := strings.EqualFold(getenv("SYSTEM_DEBUG"), "true")
	log := setupLogging(stderr, debug, false)
	ctx, stop := interruptible(log)
	defer stop()
	return task.Run(ctx, log, reg, stdout, getenv, version)
}

// runExplain prints the help of a rule of one of the engines (a gitleaks
// rule, a Trivy check, a vulnerability from the DB on disk), offline.
func runExplain(reg scan.Registry, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "tollgate: usage: tollgate explain ID   (a gitleaks rule, a Trivy check such as KSV-0017, or a CVE)")
		return policy.ExitUsage
	}
	id := args[0]
	_ = setupLogging(stderr, false, true)
	engine, r, ok, errs := reg.Explain(id, getenv)
	if ok {
		return explained(stdout, engine, r)
	}
	for _, err := range errs {
		fmt.Fprintf(stderr, "tollgate: %s\n", report.SafeText(err.Error()))
	}
	if len(errs) == 0 {
		dbOpts, _ := config.ParseDB(nil, getenv)
		fmt.Fprintf(stderr, "tollgate: unknown ID %q: not a gitleaks rule, a Tollgate secret rule, a Trivy check, or a vulnerability in the DB at %s\n",
			report.SafeText(id), report.SafeText(vulndb.Dir(dbOpts.CacheDir)))
	}
	return policy.ExitUsage
}

func explained(w io.Writer, engine string, r scanners.Rule) int {
	if err := report.WriteRuleHelp(w, engine, r); err != nil {
		return policy.ExitScannerFailed
	}
	return policy.ExitPass
}

// dbSummary describes the DB in a cache directory in one line.
func dbSummary(cacheDir string) string {
	dir := vulndb.Dir(cacheDir)
	meta, err := vulndb.ReadMetadata(dir)
	if err != nil {
		return fmt.Sprintf("not available (%v)", err)
	}
	age := time.Since(meta.UpdatedAt)
	return fmt.Sprintf("updated %s (%d days old), next update %s, in %s",
		meta.UpdatedAt.UTC().Format("2006-01-02T15:04Z"), int(age.Hours()/24), meta.NextUpdate.UTC().Format("2006-01-02T15:04Z"), dir)
}

func runScan(reg scan.Registry, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return scanWith(reg, args, stdout, stderr, getenv, nil)
}

// runBaseline scans and writes the SARIF log to file, for later --baseline
// runs: it passes whatever it finds (exit 0), unless an engine failed.
func runBaseline(reg scan.Registry, file string, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return scanWith(reg, args, stdout, stderr, getenv, func(o *config.Options) {
		o.SARIF = file
		o.Baseline = ""
		o.Gate.Thresholds = policy.Thresholds{Default: policy.Threshold{Never: true}}
		o.Gate.NewOnly = false
	})
}

// runMerge merges the logs of a scan's shards and applies the gate.
func runMerge(reg scan.Registry, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var logs []string
	return runWith(args, stdout, stderr, getenv, nil,
		func(ctx context.Context, args []string) (config.Options, error) {
			opts, files, err := config.ParseMerge(ctx, reg.Infos(), args, getenv)
			logs = files
			return opts, err
		},
		func(ctx context.Context, log *slog.Logger, opts config.Options, _ *scanners.Meter) (*scan.Outcome, error) {
			return scan.Merge(ctx, log, opts, version, getenv, logs)
		})
}

func scanWith(reg scan.Registry, args []string, stdout, stderr io.Writer, getenv func(string) string, adjust func(*config.Options)) int {
	return runWith(args, stdout, stderr, getenv, adjust,
		func(ctx context.Context, args []string) (config.Options, error) {
			return config.Parse(ctx, reg.Infos(), args, getenv)
		},
		func(ctx context.Context, log *slog.Logger, opts config.Options, meter *scanners.Meter) (*scan.Outcome, error) {
			return scan.Run(ctx, log, reg, opts, version, getenv, meter)
		})
}

// runWith parses the options, runs the scan (or the merge), writes the
// reports and decorates the pull request.
func runWith(args []string, stdout, stderr io.Writer, getenv func(string) string, adjust func(*config.Options),
	parse func(context.Context, []string) (config.Options, error),
	do func(context.Context, *slog.Logger, config.Options, *scanners.Meter) (*scan.Outcome, error)) int {
	pctx, pstop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	opts, err := parse(pctx, args)
	pstop()
	if errors.Is(err, config.ErrHelp) {
		printUsage(stdout)
		return policy.ExitPass
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate: %s\n", report.SafeText(err.Error()))
		fmt.Fprintln(stderr, "Run 'tollgate help' for usage.")
		return policy.ExitUsage
	}
	defer opts.Close()
	if adjust != nil {
		adjust(&opts)
	}
	// Progress goes to stderr with the log (live lines on a terminal, a
	// line every ten seconds otherwise); stdout is the report's alone.
	console := progress.NewConsole(stderr)
	log := setupLogging(console, opts.Debug, opts.Quiet)
	if !opts.Debug && !opts.Quiet && progress.ModeFor(stderr, false, getenv) == progress.Live {
		// On a terminal the progress display says what the scan is doing:
		// the informational lines (scanning root=... files=N) are for
		// pipeline logs and --debug, not for a person watching.
		log = setupLoggingAt(report.NewSafeWriter(console), slog.LevelWarn)
	}

	ctx, stop := interruptible(log)
	defer stop()
	defer profile(log, getenv)()

	meter := &scanners.Meter{}
	display := progress.Start(ctx, meter, console, progress.Options{Mode: progress.ModeFor(stderr, opts.Quiet, getenv), Log: log})
	out, err := do(ctx, log, opts, meter)
	display.Stop()
	var usage *config.UsageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "tollgate: %s\n", report.SafeText(err.Error()))
		return policy.ExitUsage
	}
	if err != nil {
		log.Error("scan failed", "error", err)
		return policy.ExitScannerFailed
	}
	if err := scan.WriteReports(out, opts, stdout); err != nil {
		log.Error("could not write the reports", "error", err)
		return policy.ExitScannerFailed
	}
	if opts.PR.Comments && adjust == nil && !opts.Shard.Split() {
		// One shard sees a part of the findings: the merge decorates.
		d := task.DecoratePR(ctx, log, out, opts, getenv)
		switch {
		case d.Err != nil && opts.PR.Required:
			log.Error(d.Line())
			return policy.ExitScannerFailed
		case d.Err != nil:
			log.Warn(d.Line())
		default:
			log.Info(d.Line())
		}
	}
	return out.ExitCode()
}

// profile writes pprof profiles of the scan when TOLLGATE_CPUPROFILE or
// TOLLGATE_MEMPROFILE name files (diagnostics, as gitleaks' --diagnostics;
// bench/RESULTS.md shows how they are used). The returned func stops it.
func profile(log *slog.Logger, getenv func(string) string) func() {
	var stops []func()
	if p := getenv("TOLLGATE_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Warn("cpu profile not written", "file", p, "error", err)
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); _ = f.Close() })
		}
	}
	if p := getenv("TOLLGATE_MEMPROFILE"); p != "" {
		stops = append(stops, func() {
			f, err := os.Create(p)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
			if err != nil {
				log.Warn("memory profile not written", "file", p, "error", err)
			}
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// interruptible is cancelled by the first SIGINT or SIGTERM: the engines
// stop and the reports are still written (exit 3). A second signal quits at
// once (exit 130).
func interruptible(log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			log.Warn("interrupted: stopping the engines and writing the reports; interrupt again to quit now", "signal", s.String())
			cancel(fmt.Errorf("the scan was interrupted (%s)", signalName(s)))
		case <-done:
			return
		}
		select {
		case <-sigs:
			os.Exit(130)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel(nil)
		})
	}
}

// signalName is a stop signal as users know it.
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
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
		// Only the verdict line, and what made the run an error: warnings
		// stay in the SARIF log's notifications.
		level = slog.LevelError
	}
	log := setupLoggingAt(safe, level)

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

// setupLoggingAt is Tollgate's logger at one level on w, a SafeWriter
// (escaped, URLs redacted); the engines' loggers are set by setupLogging.
func setupLoggingAt(w *report.SafeWriter, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
