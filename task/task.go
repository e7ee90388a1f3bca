// Package task runs Tollgate as an Azure Pipelines task: it reads the
// task's inputs the way the agent passes them (INPUT_* variables), runs the
// scan, and speaks the pipeline's language: the SARIF log published as the
// CodeAnalysisLogs artifact, one logged issue per failing finding, a markdown
// summary, optional JUnit results, output variables and the task result.
package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report/progress"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners"
)

// Task results, as ##vso[task.complete] takes them.
const (
	Succeeded           = "Succeeded"
	SucceededWithIssues = "SucceededWithIssues"
	Failed              = "Failed"
)

// DefaultArtifact is the artifact Microsoft Defender for Cloud and the SARIF
// SAST Scans Tab read.
const DefaultArtifact = "CodeAnalysisLogs"

// DefaultMaxIssues caps the logged issues; the rest are counted.
const DefaultMaxIssues = 100

// Task modes: one scan, one shard of a scan split over parallel jobs, or
// the merge of the shards' logs.
const (
	ModeScan  = "scan"
	ModeShard = "shard"
	ModeMerge = "merge"
)

// ShardArtifactPrefix starts the artifact name of a shard's log; the merge
// job finds the logs under Pipeline.Workspace by it.
const ShardArtifactPrefix = "tollgate-shard-"

// Run executes the task and returns the process exit code: 0 when the task
// succeeded (with or without issues), 1 on a policy failure, 2 on bad
// inputs, 3 when an engine failed and failOnScannerError is true.
func Run(ctx context.Context, log *slog.Logger, reg scan.Registry, stdout io.Writer, getenv func(string) string, version string) (code int) {
	cmds := NewCommands(stdout)
	defer func() {
		// A panic is an error the step reports (exit 3), never Go's exit 2.
		if p := recover(); p != nil {
			log.Error("internal error (a bug, please report it)", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			cmds.Complete(Failed, "Tollgate: internal error (a bug, please report it)")
			code = policy.ExitScannerFailed
		}
	}()
	settings, err := ReadSettings(getenv)
	if err != nil {
		cmds.Complete(Failed, "Tollgate: "+err.Error())
		return policy.ExitUsage
	}
	args, err := Args(reg.Infos(), getenv)
	var (
		opts config.Options
		logs []string
	)
	if err == nil {
		if settings.Mode == ModeMerge {
			opts, logs, err = config.ParseMerge(ctx, reg.Infos(), args, getenv)
		} else {
			opts, err = config.Parse(ctx, reg.Infos(), args, getenv)
		}
	}
	if err == nil && opts.Shard.String() != "" && Input(getenv, "artifactName") == "" {
		// Each shard job publishes its own artifact (1/1 too: the merge job
		// of a `parallel: 1` strategy looks for it); the merge job downloads
		// them all and publishes CodeAnalysisLogs.
		settings.ArtifactName = fmt.Sprintf("%s%d-of-%d", ShardArtifactPrefix, opts.Shard.Index, opts.Shard.Count)
	}
	if err != nil {
		cmds.LogIssue("error", "", 0, 0, "tollgate-input", "Tollgate: "+err.Error())
		cmds.Complete(Failed, "Tollgate: invalid task inputs")
		return policy.ExitUsage
	}
	defer opts.Close()
	if opts.Category == "" {
		opts.Category = "tollgate"
	}
	sarifPath, err := reserveSARIF(getenv, settings.SARIFFileName)
	if err != nil {
		cmds.Complete(Failed, "Tollgate: "+err.Error())
		return policy.ExitScannerFailed
	}
	opts.SARIF = sarifPath
	opts.Format = "table"
	opts.Output = ""

	var out *scan.Outcome
	if settings.Mode == ModeMerge {
		out, err = scan.Merge(ctx, log, opts, version, getenv, logs)
	} else {
		meter := &scanners.Meter{}
		// The agent shows a step's progress beside it; its log gets a
		// line at most every ten seconds, for a scan longer than that.
		display := progress.Start(ctx, meter, nil, progress.Options{Mode: progress.Lines, Log: log,
			SetProgress: func(p int) { cmds.SetProgress(p, "Tollgate scan") }})
		out, err = scan.Run(ctx, log, reg, opts, version, getenv, meter)
		display.Stop()
	}
	if err != nil {
		var ue *config.UsageError
		code := policy.ExitScannerFailed
		if errors.As(err, &ue) {
			code = policy.ExitUsage
		}
		_ = os.Remove(sarifPath)
		cmds.LogIssue("error", "", 0, 0, "tollgate-error", "Tollgate: "+err.Error())
		cmds.Complete(Failed, "Tollgate could not scan")
		return code
	}
	out.RunProperties["azuredevops/pipeline/task"] = "Tollgate"
	if err := scan.WriteReports(out, opts, stdout); err != nil {
		log.Error("could not write the reports", "error", err)
		cmds.LogIssue("error", "", 0, 0, "tollgate-error", "Tollgate: "+err.Error())
		cmds.Complete(Failed, "Tollgate could not write its reports")
		return policy.ExitScannerFailed
	}
	return finish(ctx, cmds, log, out, opts, settings, sarifPath, getenv)
}
