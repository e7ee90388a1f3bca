package task

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/mattn/go-shellwords"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/scanners"
)

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

// DefaultTimeout is the time limit of a scan in a pipeline (the timeout
// input's default): past it the scan stops and the step fails (exit 3).
const DefaultTimeout = "30m"

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
func Args(engines scanners.Registry, getenv func(string) string) ([]string, error) {
	var args []string
	// Every setting that has a task input, Tollgate's and the engines'.
	for _, st := range config.Settings(engines) {
		if st.TaskInput == "" {
			continue
		}
		v := Input(getenv, st.TaskInput)
		switch {
		case v == "":
		case st.Bool:
			on, err := boolInput(getenv, st.TaskInput, false)
			if err != nil {
				return nil, err
			}
			args = append(args, "--"+st.Flag+"="+strconv.FormatBool(on))
		case st.TaskLines:
			for _, item := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
				if item = strings.TrimSpace(item); item != "" {
					args = append(args, "--"+st.Flag, item)
				}
			}
		default:
			args = append(args, "--"+st.Flag, v)
		}
	}
	// Each engine's threshold, after failOn's.
	for _, e := range engines {
		if e.TaskInput == "" {
			continue
		}
		if v := Input(getenv, e.TaskInput); v != "" {
			args = append(args, "--fail-on", e.Name+"="+v)
		}
	}
	if Input(getenv, "timeout") == "" && getenv("TOLLGATE_TIMEOUT") == "" {
		// A scan in a pipeline always ends: task.json's default, for a run
		// without the input (the agent passes the default itself).
		args = append(args, "--timeout", DefaultTimeout)
	}
	if on, err := boolInput(getenv, "resultCache", true); err != nil {
		return nil, err
	} else if !on {
		args = append(args, "--no-result-cache")
	}
	if v := Input(getenv, "configFile"); v != "" {
		args = append(args, "--config", v)
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
