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
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/mattn/go-shellwords"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/paths"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
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

// Settings are the task's own inputs (the ones that are not scan flags).
type Settings struct {
	// Mode is scan, shard or merge.
	Mode               string
	ArtifactName       string
	Publish            bool
	FailOnScannerError bool
	SARIFFileName      string
	PublishJUnit       bool
	MaxIssues          int
}

// Input reads a task input as the agent passes it: INPUT_<NAME> with the
// name upper-cased and spaces as underscores.
func Input(getenv func(string) string, name string) string {
	return strings.TrimSpace(getenv("INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))))
}

func boolInput(getenv func(string) string, name string, def bool) (bool, error) {
	v := Input(getenv, name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("input %s: %q is not true or false", name, v)
	}
	return b, nil
}

// Args turns the task's inputs into `tollgate scan` arguments, so that they
// are validated exactly as the command line is.
func Args(getenv func(string) string) ([]string, error) {
	var args []string
	add := func(flag, input string) {
		if v := Input(getenv, input); v != "" {
			args = append(args, "--"+flag, v)
		}
	}
	add("scanners", "scanners")
	add("secrets-mode", "secretsMode")
	add("fail-on", "failOn")
	for input, engine := range map[string]string{"failOnSecrets": "secrets", "failOnIac": "iac", "failOnImage": "image"} {
		if v := Input(getenv, input); v != "" {
			args = append(args, "--fail-on", engine+"="+v)
		}
	}
	for _, line := range strings.FieldsFunc(Input(getenv, "images"), func(r rune) bool { return r == '\n' || r == '\r' }) {
		if line = strings.TrimSpace(line); line != "" {
			args = append(args, "--image", line)
		}
	}
	for _, b := range []struct{ flag, input string }{
		{"discover-images", "discoverImages"}, {"ignore-unfixed", "ignoreUnfixed"},
		{"new-only", "newOnly"}, {"offline", "offline"}, {"secrets-extra-rules", "secretsExtraRules"}, {"secrets-hardcoded", "secretsHardcoded"},
		{"pr-comments", "prComments"}, {"pr-comments-required", "prCommentsRequired"},
	} {
		if v := Input(getenv, b.input); v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				return nil, fmt.Errorf("input %s: %q is not true or false", b.input, v)
			}
			args = append(args, "--"+b.flag+"="+strings.ToLower(v))
		}
	}
	if on, err := boolInput(getenv, "resultCache", true); err != nil {
		return nil, err
	} else if !on {
		args = append(args, "--no-result-cache")
	}
	add("policy-from", "policySource")
	for _, h := range strings.FieldsFunc(Input(getenv, "discoverRegistries"), func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if h = strings.TrimSpace(h); h != "" {
			args = append(args, "--discover-registry", h)
		}
	}
	add("config", "configFile")
	add("max-pr-comments", "maxPrComments")
	add("baseline", "baseline")
	for _, repo := range strings.FieldsFunc(Input(getenv, "dbRepository"), func(r rune) bool { return r == '\n' || r == ',' }) {
		if repo = strings.TrimSpace(repo); repo != "" {
			args = append(args, "--db-repository", repo)
		}
	}
	cacheDir := Input(getenv, "cacheDir")
	if cacheDir == "" && getenv("TOLLGATE_CACHE_DIR") == "" && getenv("AGENT_TOOLSDIRECTORY") != "" {
		// A stable place the pipeline can cache between runs.
		cacheDir = filepath.Join(getenv("AGENT_TOOLSDIRECTORY"), "tollgate")
	}
	if cacheDir != "" {
		args = append(args, "--cache-dir", cacheDir)
	}
	if extra := Input(getenv, "extraArgs"); extra != "" {
		p := shellwords.NewParser() // never expands variables or runs commands
		words, err := p.Parse(extra)
		if err != nil {
			return nil, fmt.Errorf("input extraArgs: %w", err)
		}
		args = append(args, words...)
	}
	path := Input(getenv, "path")
	if path == "" {
		path = getenv("BUILD_SOURCESDIRECTORY")
	}
	if path == "" {
		path = "."
	}
	switch mode := strings.ToLower(Input(getenv, "mode")); mode {
	case "", ModeScan:
	case ModeShard:
		shard, err := shardOf(getenv)
		if err != nil {
			return nil, err
		}
		args = append(args, "--shard", shard.String())
	case ModeMerge:
		logs, err := ShardLogs(getenv)
		if err != nil {
			return nil, err
		}
		return append(append(args, "--path", path), logs...), nil
	default:
		return nil, fmt.Errorf("input mode: %q is not scan, shard or merge", mode)
	}
	return append(args, path), nil
}

// shardOf is the shard of a job of a parallel strategy: the input shard
// ("K/N"), else the job's position among the phase's jobs
// (System.JobPositionInPhase of System.TotalJobsInPhase).
func shardOf(getenv func(string) string) (scanners.Shard, error) {
	if v := Input(getenv, "shard"); v != "" {
		s, err := scanners.ParseShard(v)
		if err != nil {
			return s, fmt.Errorf("input shard: %w", err)
		}
		return s, nil
	}
	k, n := getenv("SYSTEM_JOBPOSITIONINPHASE"), getenv("SYSTEM_TOTALJOBSINPHASE")
	if k == "" || n == "" {
		return scanners.Shard{}, errors.New("mode shard: the job is not one of a parallel strategy (System.JobPositionInPhase and System.TotalJobsInPhase are not set); add `strategy: parallel: N` to the job, or give the shard input as K/N")
	}
	s, err := scanners.ParseShard(k + "/" + n)
	if err != nil {
		return s, fmt.Errorf("mode shard: the job's position: %w", err)
	}
	return s, nil
}

// ShardLogs lists the shard logs a merge reads: the files the shardLogs
// input's patterns (one per line, doublestar syntax, relative to
// Pipeline.Workspace) match, by default every shard artifact's logs as
// `download: current` puts them: tollgate-shard-*/*.sarif.
func ShardLogs(getenv func(string) string) ([]string, error) {
	base := getenv("PIPELINE_WORKSPACE")
	if base == "" {
		base = "."
	}
	patterns := strings.FieldsFunc(Input(getenv, "shardLogs"), func(r rune) bool { return r == '\n' || r == '\r' })
	if len(patterns) == 0 {
		patterns = []string{ShardArtifactPrefix + "*/*.sarif"}
	}
	var logs []string
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		found, err := doublestar.FilepathGlob(p, doublestar.WithFilesOnly())
		if err != nil {
			return nil, fmt.Errorf("input shardLogs: %q: %w", p, err)
		}
		logs = append(logs, found...)
	}
	slices.Sort(logs)
	logs = slices.Compact(logs)
	if len(logs) == 0 {
		return nil, fmt.Errorf("mode merge: no shard log matches %s (relative to %s): download the shard jobs' artifacts first (- download: current)", strings.Join(patterns, ", "), base)
	}
	return logs, nil
}

// ReadSettings reads the task's own inputs.
func ReadSettings(getenv func(string) string) (Settings, error) {
	s := Settings{
		Mode:          strings.ToLower(Input(getenv, "mode")),
		ArtifactName:  Input(getenv, "artifactName"),
		SARIFFileName: Input(getenv, "sarifFileName"),
		MaxIssues:     DefaultMaxIssues,
	}
	if s.Mode == "" {
		s.Mode = ModeScan
	}
	if s.ArtifactName == "" {
		s.ArtifactName = DefaultArtifact
	}
	var err error
	var errs []error
	s.Publish, err = boolInput(getenv, "publish", true)
	errs = append(errs, err)
	s.FailOnScannerError, err = boolInput(getenv, "failOnScannerError", true)
	errs = append(errs, err)
	s.PublishJUnit, err = boolInput(getenv, "publishJUnit", false)
	errs = append(errs, err)
	if v := Input(getenv, "maxIssues"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("input maxIssues: %q is not a number", v))
		}
		s.MaxIssues = n
	}
	if strings.ContainsAny(s.SARIFFileName, `/\`) || s.SARIFFileName == ".." {
		errs = append(errs, fmt.Errorf("input sarifFileName: %q must be a file name, not a path", s.SARIFFileName))
	}
	if strings.ContainsAny(s.ArtifactName, `/\;]`) {
		errs = append(errs, fmt.Errorf("input artifactName: %q is not a valid artifact name", s.ArtifactName))
	}
	return s, errors.Join(errs...)
}

// Run executes the task and returns the process exit code: 0 when the task
// succeeded (with or without issues), 1 on a policy failure, 2 on bad
// inputs, 3 when an engine failed and failOnScannerError is true.
func Run(ctx context.Context, log *slog.Logger, stdout io.Writer, getenv func(string) string, version string) int {
	cmds := NewCommands(stdout)
	settings, err := ReadSettings(getenv)
	if err != nil {
		cmds.Complete(Failed, "Tollgate: "+err.Error())
		return policy.ExitUsage
	}
	args, err := Args(getenv)
	var (
		opts config.Options
		logs []string
	)
	if err == nil {
		if settings.Mode == ModeMerge {
			opts, logs, err = config.ParseMerge(ctx, args, getenv)
		} else {
			opts, err = config.Parse(ctx, args, getenv)
		}
	}
	if err == nil && opts.Shard.Count > 0 && Input(getenv, "artifactName") == "" {
		// Each shard job publishes its own artifact; the merge job downloads
		// them all and publishes CodeAnalysisLogs.
		settings.ArtifactName = fmt.Sprintf("%s%d-of-%d", ShardArtifactPrefix, opts.Shard.Index, opts.Shard.Count)
	}
	if err != nil {
		cmds.LogIssue("error", "", 0, 0, "tollgate-input", "Tollgate: "+err.Error())
		cmds.Complete(Failed, "Tollgate: invalid task inputs")
		return policy.ExitUsage
	}
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
		out, err = scan.Run(ctx, log, opts, version, getenv, meter)
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

func finish(ctx context.Context, cmds *Commands, log *slog.Logger, out *scan.Outcome, opts config.Options, st Settings, sarifPath string, getenv func(string) string) int {
	v := out.Verdict

	for _, n := range out.Warnings {
		cmds.LogIssue("warning", n.Path, n.Line, 0, n.Code, "Tollgate configuration: "+n.Message)
	}
	shard := v.Shard != "" // a part of the findings: the merge job reports them
	logged := 0
	failing := 0
	for _, r := range out.Results {
		for i := range r.Findings {
			f := &r.Findings[i]
			if shard || !out.Gate.Fails(f) {
				continue
			}
			failing++
			if logged >= st.MaxIssues {
				continue
			}
			logged++
			cmds.LogIssue("error", f.Location.Path, f.Location.StartLine, f.Location.StartColumn, f.RuleID,
				fmt.Sprintf("[%s] %s: %s", f.Severity, f.Scanner, issueText(f)))
		}
		for _, n := range r.Status.Notifications {
			if n.Level == scanners.LevelError {
				cmds.LogIssue("warning", n.Path, n.Line, 0, n.Code, fmt.Sprintf("Tollgate %s engine: %s", r.Scanner, n.Message))
			}
		}
	}
	if failing > logged {
		cmds.LogIssue("error", "", 0, 0, "tollgate-more", fmt.Sprintf("... and %d more failing finding(s); see the SARIF log %s", failing-logged, filepath.Base(sarifPath)))
	}

	if st.Publish {
		cmds.UploadArtifact(st.ArtifactName, sarifPath)
	}
	base := strings.TrimSuffix(filepath.Base(sarifPath), ".sarif")
	summary := agentTempFile(getenv, paths.Native(), os.TempDir(), base+"-summary.md")
	if shard {
		log.Info("shard: the merge job writes the summary, the JUnit results and the pull request's comments")
	} else if err := scan.WriteFileAtomic(summary, func(w io.Writer) error { return WriteSummary(w, out, filepath.Base(sarifPath), st) }); err != nil {
		log.Warn("could not write the summary", "error", err)
	} else {
		cmds.UploadSummary(summary)
	}
	if st.PublishJUnit && !shard {
		junit := agentTempFile(getenv, paths.Native(), os.TempDir(), base+"-junit.xml")
		if err := scan.WriteFileAtomic(junit, func(w io.Writer) error { return WriteJUnit(w, out) }); err != nil {
			log.Warn("could not write the JUnit report", "error", err)
		} else {
			cmds.PublishJUnit(junit, "Tollgate security gate")
		}
	}

	verdict := verdictWord(v)
	cmds.SetOutput("sarifFile", sarifPath)
	cmds.SetOutput("verdict", verdict)
	cmds.SetOutput("findings", strconv.Itoa(v.Total))
	cmds.SetOutput("failing", strconv.Itoa(v.Failing))
	cmds.SetOutput("suppressed", strconv.Itoa(v.Suppressed))
	cmds.SetOutput("new", strconv.Itoa(v.New))
	for _, sev := range []scanners.Severity{scanners.SeverityCritical, scanners.SeverityHigh, scanners.SeverityMedium, scanners.SeverityLow, scanners.SeverityUnknown} {
		n := 0
		for _, counts := range v.Counts {
			n += counts[sev.String()]
		}
		cmds.SetOutput(strings.ToLower(sev.String()), strconv.Itoa(n))
	}
	for _, e := range scanners.Engines {
		n := 0
		for _, c := range v.Counts[e] {
			n += c
		}
		cmds.SetOutput(e+"Findings", strconv.Itoa(n))
	}

	line := report.VerdictLine(out.Scan)
	if opts.PR.Comments && !shard {
		d := DecoratePR(ctx, log, out, opts, getenv)
		switch {
		case d.Skipped != "":
			log.Info(d.Line())
		case d.Err != nil:
			cmds.LogIssue("warning", "", 0, 0, "tollgate-pr-comments", "Tollgate "+d.Line())
			if opts.PR.Required {
				cmds.Complete(Failed, "Tollgate: "+line+"; the pull request could not be decorated (prCommentsRequired)")
				return policy.ExitScannerFailed
			}
		default:
			log.Info(d.Line())
		}
	}
	switch {
	case len(v.FailedEngines) > 0 && st.FailOnScannerError:
		cmds.Complete(Failed, "Tollgate: "+line)
		return policy.ExitScannerFailed
	case !v.Pass && v.Shard == "":
		cmds.Complete(Failed, "Tollgate: "+line)
		return policy.ExitPolicyFailure
	case v.Total > 0 || len(v.FailedEngines) > 0 || len(v.PartialEngines) > 0:
		cmds.Complete(SucceededWithIssues, "Tollgate: "+line)
	default:
		cmds.Complete(Succeeded, "Tollgate: "+line)
	}
	return policy.ExitPass
}

// verdictWord is the run's verdict in one word: pass, fail, error (an
// engine failed), or deferred (a shard: the merge decides).
func verdictWord(v policy.Verdict) string {
	switch {
	case len(v.FailedEngines) > 0:
		return "error"
	case v.Shard != "":
		return "deferred" // the merge job applies the gate
	case !v.Pass:
		return "fail"
	}
	return "pass"
}

func issueText(f *scanners.Finding) string {
	if f.Vuln != nil {
		return f.Message
	}
	if f.Title != "" && f.Title != f.Message && f.Secret == nil {
		return strings.TrimSuffix(f.Title, ".") + ": " + f.Message
	}
	return f.Message
}

// reserveSARIF picks the SARIF path in the staging directory's
// CodeAnalysisLogs folder and creates it, so that a second Tollgate step in
// the same job (or a re-run) never overwrites another's log.
func reserveSARIF(getenv func(string) string, name string) (string, error) {
	dir := sarifFolder(getenv, paths.Native(), os.TempDir())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("SARIF folder: %w", err)
	}
	if name == "" {
		job := sanitizeName(getenv("SYSTEM_JOBID"))
		if job == "" {
			job = "local"
		}
		attempt := sanitizeName(getenv("SYSTEM_JOBATTEMPT"))
		if attempt == "" {
			attempt = "1"
		}
		name = fmt.Sprintf("tollgate-%s-%s.sarif", job, attempt)
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; i < 1000; i++ {
		candidate := name
		if i > 1 {
			candidate = fmt.Sprintf("%s-%d%s", stem, i, ext)
		}
		p := filepath.Join(dir, candidate)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("SARIF file: %w", err)
		}
		_ = f.Close()
		return p, nil
	}
	return "", fmt.Errorf("SARIF file: too many logs named %s in %s", name, dir)
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sarifFolder is where the task writes its SARIF log: the CodeAnalysisLogs
// folder of the build's staging directory (Build.ArtifactStagingDirectory),
// of the agent's temp folder when there is none, else of tmp.
func sarifFolder(getenv func(string) string, s paths.Style, tmp string) string {
	dir := getenv("BUILD_ARTIFACTSTAGINGDIRECTORY")
	if dir == "" {
		dir = getenv("AGENT_TEMPDIRECTORY")
	}
	if dir == "" {
		dir = tmp
	}
	return s.Join(dir, DefaultArtifact)
}

// agentTempFile names a file (the build summary, the JUnit report) in the
// agent's temp folder (Agent.TempDirectory), else in tmp.
func agentTempFile(getenv func(string) string, s paths.Style, tmp, name string) string {
	dir := getenv("AGENT_TEMPDIRECTORY")
	if dir == "" {
		dir = tmp
	}
	return s.Join(dir, name)
}
