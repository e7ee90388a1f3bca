package iac

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"

	"github.com/tollgate/tollgate/internal/isolate"
	tg "github.com/tollgate/tollgate/scanners"
)

// Each unit's default budget: the largest units of the public corpora and
// of the 50,000-file bench tree take a few seconds and a few hundred MiB
// (bench/RESULTS.md); two workers at the limit and the scan itself fit a
// 2-core, 8 GiB agent.
const (
	DefaultUnitTimeout = time.Minute
	DefaultUnitMemory  = 1 << 30
)

// isolatedBatch bounds a batch of per-file units sent to one worker: a
// batch that fails its budget is checked again file by file, so that only
// the file that fails loses its checks.
const isolatedBatch = 64

// unitRequest is one unit of work as a worker reads it: the options and
// inputs the engine runs with and the unit's files. A request without a
// type only prepares the worker (compiles the checks).
type unitRequest struct {
	Options  Options           `json:"options"`
	Inputs   wireInputs        `json:"inputs"`
	Type     string            `json:"type,omitempty"`
	Paths    []string          `json:"paths,omitempty"`
	Contents map[string][]byte `json:"contents,omitempty"`
}

// wireInputs are the inputs a worker needs: the value files' bytes, and
// the private copies of the Helm values and the vetted checks, which the
// worker reads where the scan wrote them.
type wireInputs struct {
	TFVars     []namedBytes `json:"tfVars,omitempty"`
	CFParams   []namedBytes `json:"cfParams,omitempty"`
	HelmValues []string     `json:"helmValues,omitempty"`
	CheckDir   string       `json:"checkDir,omitempty"`
}

type namedBytes struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

func wireValues(v valueFiles) []namedBytes {
	out := make([]namedBytes, 0, len(v.names))
	for _, n := range v.names {
		out = append(out, namedBytes{n, v.content[n]})
	}
	return out
}

func (w wireInputs) inputs() *inputs {
	in := &inputs{helmValues: w.HelmValues, checkDir: w.CheckDir}
	for _, v := range w.TFVars {
		in.tfVars.add(v.Name, v.Data)
	}
	for _, v := range w.CFParams {
		in.cfParams.add(v.Name, v.Data)
	}
	return in
}

// ServeWorker is the IaC engine's worker (`tollgate __worker iac`): it
// checks the units it reads from r, one at a time, and writes each unit's
// findings, rules and notifications to w as the result cache encodes them.
// The checks are compiled once, for the first request, and again only when
// a request names other checks.
func ServeWorker(ctx context.Context, r io.Reader, w io.Writer, log *slog.Logger) error {
	var (
		rs     *rego.Scanner
		regoOf string
	)
	return isolate.Serve(ctx, r, w, func(ctx context.Context, b []byte) ([]byte, error) {
		var req unitRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("reading a unit: %w", err)
		}
		s := New(req.Options, log)
		in := req.Inputs.inputs()
		if k := req.Inputs.CheckDir + "\x00" + strings.Join(req.Options.Namespaces, "\x00"); rs == nil || k != regoOf {
			var err error
			if rs, err = s.initRego(in); err != nil {
				return nil, fmt.Errorf("loading Trivy checks: %w", err)
			}
			regoOf = k
		}
		if req.Type == "" {
			return nil, nil
		}
		var res tg.Result
		if err := s.scanGroup(ctx, in, req.Contents, detection.FileType(req.Type), req.Paths, rs, newLineCache(nil, req.Contents), &res); err != nil {
			return nil, err
		}
		return tg.EncodeUnit(tg.Unit{Findings: res.Findings, Rules: res.Rules, Notifications: res.Status.Notifications})
	})
}

// workers is the pool of worker processes of one scan (nil: units run in
// this process).
func (s *Engine) workers(in *inputs) (*isolate.Pool, []byte) {
	if len(s.opts.Worker) == 0 {
		return nil, nil
	}
	pool := isolate.NewPool(isolate.Config{
		Command: s.opts.Worker,
		Size:    runtime.GOMAXPROCS(0),
		Limits:  isolate.Limits{Timeout: s.opts.UnitTimeout, Memory: s.opts.UnitMemory},
		Log:     s.log,
		Debug:   s.log.Enabled(context.Background(), slog.LevelDebug),
	})
	hello, _ := json.Marshal(s.request(in, nil, job{}))
	return pool, hello
}

// request is the unit request of job j.
func (s *Engine) request(in *inputs, contents map[string][]byte, j job) unitRequest {
	req := unitRequest{
		Options: s.opts,
		Inputs: wireInputs{TFVars: wireValues(in.tfVars), CFParams: wireValues(in.cfParams),
			HelmValues: in.helmValues, CheckDir: in.checkDir},
		Type:  string(j.ft),
		Paths: j.paths,
	}
	if len(j.paths) > 0 {
		req.Contents = make(map[string][]byte, len(j.paths))
		for _, p := range j.paths {
			if b, ok := contents[p]; ok {
				req.Contents[p] = b
			}
		}
	}
	return req
}

// splitBatches cuts the batches of per-file units to isolatedBatch files.
func splitBatches(jobs []job) []job {
	var out []job
	for _, j := range jobs {
		for perFile(j.ft) && len(j.paths) > isolatedBatch {
			out = append(out, job{j.ft, j.paths[:isolatedBatch:isolatedBatch]})
			j.paths = j.paths[isolatedBatch:]
		}
		out = append(out, j)
	}
	return out
}

// maxUnitInput is the most bytes a unit's files may hold: a sixteenth of
// its memory budget (Trivy's parsers hold several times their input, and
// the request to the worker a copy of it); 0 without a budget.
func (s *Engine) maxUnitInput() int64 { return s.opts.UnitMemory / 16 }

// tooLarge says, for a unit whose files hold more than maxUnitInput, why
// it is not checked ("" when it fits): it could not be within its memory
// budget, and the scan itself would hold its bytes twice over to send it.
func (s *Engine) tooLarge(size int64) string {
	if limit := s.maxUnitInput(); limit > 0 && size > limit {
		return fmt.Sprintf("holds %s, more than the %s a unit's files may hold (a sixteenth of --iac-unit-memory, default %s)",
			isolate.Size(size), isolate.Size(limit), isolate.Size(DefaultUnitMemory))
	}
	return ""
}

// runJob checks one job within the unit budget: in a worker when the
// engine has them, else in this process.
func (s *Engine) runJob(ctx context.Context, pool *isolate.Pool, in *inputs, contents map[string][]byte, j job, rs *rego.Scanner,
	lines *lineCache, res *tg.Result) error {
	size := int64(0)
	for _, p := range j.paths {
		size += int64(len(contents[p]))
	}
	if why := s.tooLarge(size); why != "" {
		if perFile(j.ft) && len(j.paths) > 1 {
			for _, p := range j.paths {
				if err := s.runJob(ctx, pool, in, contents, job{j.ft, []string{p}}, rs, lines, res); err != nil {
					return err
				}
			}
			return nil
		}
		s.notChecked(j, "over-budget", why, res)
		return nil
	}
	if pool != nil {
		return s.runIsolated(ctx, pool, in, contents, j, res)
	}
	uctx := ctx
	if s.opts.UnitTimeout > 0 {
		var cancel context.CancelFunc
		uctx, cancel = context.WithTimeout(ctx, s.opts.UnitTimeout)
		defer cancel()
	}
	var part tg.Result
	err := s.scanGroup(uctx, in, contents, j.ft, j.paths, rs, lines, &part)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if uctx.Err() != nil {
		// Past the unit's deadline, what the library returns is not a
		// result, whether it stopped or not.
		s.overBudget(j, &isolate.LimitError{Kind: "time", Limit: s.opts.UnitTimeout.String()}, res)
		return nil
	}
	if err != nil {
		return err
	}
	addPart(res, part)
	return nil
}

// runIsolated checks a job in a worker. A batch of per-file units that
// fails its budget is checked again one file at a time, so that only the
// file that fails it goes unchecked; the retries share one deadline each,
// the batch half of one.
func (s *Engine) runIsolated(ctx context.Context, pool *isolate.Pool, in *inputs, contents map[string][]byte, j job, res *tg.Result) error {
	req, err := json.Marshal(s.request(in, contents, j))
	if err != nil {
		return fmt.Errorf("a unit of %s: %w", j.ft, err)
	}
	batch := perFile(j.ft) && len(j.paths) > 1
	timeout := s.opts.UnitTimeout
	if batch {
		timeout /= 2
	}
	start := time.Now()
	b, err := pool.Do(ctx, req, timeout)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var le *isolate.LimitError
	switch {
	case errors.As(err, &le) && batch:
		s.log.Debug("a batch of IaC files failed its budget; checking them one by one", "type", j.ft, "files", len(j.paths), "error", le)
		for _, p := range j.paths {
			if err := s.runIsolated(ctx, pool, in, contents, job{j.ft, []string{p}}, res); err != nil {
				return err
			}
		}
		return nil
	case errors.As(err, &le):
		s.overBudget(j, le, res)
		return nil
	case err != nil:
		return fmt.Errorf("the IaC worker: %w", err)
	}
	u, err := tg.DecodeUnit(b)
	if err != nil {
		return fmt.Errorf("the IaC worker's reply: %w", err)
	}
	if !perFile(j.ft) {
		s.log.Debug("checked an IaC unit", "type", j.ft, "unit", unitName(j), "seconds", time.Since(start).Seconds())
	}
	addPart(res, tg.Result{Findings: u.Findings, Rules: u.Rules, Status: tg.Status{Notifications: u.Notifications}})
	return nil
}

// addPart adds a part's findings, rules and notifications to res.
func addPart(res *tg.Result, part tg.Result) {
	res.Findings = append(res.Findings, part.Findings...)
	for _, r := range part.Rules {
		if !slices.ContainsFunc(res.Rules, func(x tg.Rule) bool { return x.ID == r.ID }) {
			res.Rules = append(res.Rules, r)
		}
	}
	for _, n := range part.Status.Notifications {
		res.Status.Add(n)
	}
}

// overBudget reports a unit that did not finish within its budget: an
// error notification for each of its files, which in a pull-request build
// makes each file the pull request touches a failing finding (policy
// Unchecked), as any file that could not be checked.
func (s *Engine) overBudget(j job, le *isolate.LimitError, res *tg.Result) {
	code, raise := "over-budget", ""
	switch le.Kind {
	case "time":
		raise = fmt.Sprintf(" (each unit's limit; --iac-unit-timeout raises it, the default is %s)", DefaultUnitTimeout)
	case "memory":
		raise = fmt.Sprintf(" (each unit's limit; --iac-unit-memory raises it, the default is %s)", isolate.Size(DefaultUnitMemory))
	default:
		code = "unit-crashed"
	}
	s.notChecked(j, code, le.Error()+raise, res)
}

// notChecked adds an error notification for each file of a unit that was
// not checked, saying why.
func (s *Engine) notChecked(j job, code, why string, res *tg.Result) {
	msg := fmt.Sprintf("%s was not checked: it %s; the rest of the scan went on", unitName(j), why)
	s.log.Warn("an IaC unit was not checked", "unit", unitName(j), "why", why)
	for _, p := range j.paths {
		res.Status.Add(tg.Notification{Level: tg.LevelError, Code: code, Path: p, Message: msg})
	}
}

// unitName names a unit for a person: its type and where it is.
func unitName(j job) string {
	if len(j.paths) == 0 {
		return string(j.ft)
	}
	first := j.paths[0]
	switch j.ft {
	case detection.FileTypeTerraform:
		return fmt.Sprintf("the Terraform module group of %s (%d files)", path.Dir(first), len(j.paths))
	case detection.FileTypeHelm:
		if charts := helmCharts(j.paths); len(charts) > 0 {
			dirs := make([]string, 0, len(charts))
			for d := range charts {
				dirs = append(dirs, d)
			}
			slices.Sort(dirs)
			return "the Helm chart " + dirs[0]
		}
	case fileTypeKustomize:
		return "the kustomization " + first
	case detection.FileTypeAnsible:
		return fmt.Sprintf("the Ansible playbooks of %s (%d files)", path.Dir(first), len(j.paths))
	}
	if len(j.paths) == 1 {
		return fmt.Sprintf("%s (%s)", first, j.ft)
	}
	return fmt.Sprintf("%d %s files from %s", len(j.paths), j.ft, first)
}
