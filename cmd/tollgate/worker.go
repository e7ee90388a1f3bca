package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	trivylog "github.com/aquasecurity/trivy/pkg/log"

	"github.com/tollgate/tollgate/internal/isolate"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iac"
)

// workerCommand is the command line of an engine's worker process: this
// binary again (internal/isolate). nil when the binary cannot be found: the
// engine then runs its units in this process.
func workerCommand(engine string) []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return []string{exe, isolate.Arg, engine}
}

// serveWorker is `tollgate __worker ENGINE`: an engine's units, read from
// stdin one at a time, their results written to stdout (internal/isolate).
// Its log goes to stderr as JSON records, which the scan logs as its own.
func serveWorker(engine string) int {
	isolate.Enter()
	// The protocol has stdout to itself: a library that prints lands on
	// stderr, where the scan reads it as the worker's own lines.
	proto := os.Stdout
	os.Stdout = os.Stderr
	level := slog.LevelInfo
	if isolate.Debug() {
		level = slog.LevelDebug
	}
	log := isolate.Logger(os.Stderr, level)
	trivylog.InitLogger(isolate.Debug(), !isolate.Debug())
	if isolate.Debug() {
		slog.SetDefault(log.With("engine", "trivy"))
	} else {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	var err error
	switch engine {
	case scanners.EngineIaC:
		err = iac.ServeWorker(context.Background(), os.Stdin, proto, log)
	default:
		err = fmt.Errorf("no worker for engine %q", engine)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tollgate worker: %s\n", report.SafeText(err.Error()))
		return policy.ExitScannerFailed
	}
	return policy.ExitPass
}
