package scanners

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate/internal/crash"
)

// Engine is one engine.
type Engine interface {
	// Name is the engine name: secrets, iac or image.
	Name() string
	// Tool describes the engine for reports, even when it could not run.
	Tool() Tool
	// Scan reads the target and returns its findings. An error means the
	// engine could not run at all; file-level problems go in Result.Status.
	Scan(ctx context.Context, t *Target) (Result, error)
}

// Limits bound how long engines may take.
type Limits struct {
	// PerEngine caps each engine's time by name (absent or 0: no cap of its own).
	PerEngine map[string]time.Duration
	// Grace is how long an engine may take to stop once its time is up or
	// the scan is cancelled, before it is abandoned (0: 10 seconds).
	Grace time.Duration
}

// DefaultGrace is the default Limits.Grace.
const DefaultGrace = 10 * time.Second

// Run scans the target with every engine side by side. One engine failing,
// panicking, timing out or hanging never stops the others: its Result comes
// back with State Failed and a notification naming the cause. Results keep
// the order of engines.
func Run(ctx context.Context, log *slog.Logger, t *Target, engines []Engine, limits Limits) []Result {
	results := make([]Result, len(engines))
	var g errgroup.Group
	for i, e := range engines {
		g.Go(func() error {
			var err error
			defer func() {
				if err != nil { // runOne itself panicked, outside the engine
					results[i] = Result{Engine: e.Name(), Tool: e.Tool()}
					results[i].Status.Fail("panic", err)
					log.Error("engine panicked", "engine", e.Name(), "error", err, "stack", string(err.(*crash.PanicError).Stack))
				}
			}()
			defer crash.Recover("the "+e.Name()+" engine's run", &err)
			results[i] = runOne(ctx, log, t, e, limits)
			return nil
		})
	}
	_ = g.Wait()
	return results
}

func runOne(ctx context.Context, log *slog.Logger, t *Target, e Engine, limits Limits) Result {
	start := time.Now()
	name := e.Name()
	log = log.With("engine", name)
	log.Debug("engine started")
	ectx := ctx
	own := limits.PerEngine[name]
	if own > 0 {
		var cancel context.CancelFunc
		ectx, cancel = context.WithTimeoutCause(ctx, own, fmt.Errorf("its --engine-timeout (%s=%s) was reached", name, own))
		defer cancel()
	}
	grace := limits.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	done := make(chan Result, 1)
	go func() { done <- scanSafely(ectx, log, t, e) }() // scanSafely recovers

	var res Result
	select {
	case res = <-done:
	case <-ectx.Done():
		select {
		case res = <-done:
		case <-time.After(grace):
			res = Result{Engine: name}
			res.Status.Fail("abandoned", fmt.Errorf("%s engine did not stop within %s after %s; its results are lost",
				name, grace, StopReason(ectx)))
			log.Error("engine abandoned", "grace", grace.String())
		}
	}
	if ectx.Err() != nil && res.Status.State != Failed {
		// The engine said it finished, but its time was up before it
		// returned: a library that stops early on cancellation and returns
		// no error (Trivy's Helm scanner logs "Skipping chart") would make a
		// cut-short scan pass. What it found is kept; it is not a result.
		code := "timeout"
		if errors.Is(ectx.Err(), context.Canceled) {
			code = "canceled"
		}
		res.Status.Fail(code, fmt.Errorf("%s engine stopped: %s", name, StopReason(ectx)))
		log.Error("engine returned after its context ended; its results are incomplete", "cause", StopReason(ectx))
	}
	if res.Status.State == Failed && ectx.Err() != nil {
		// Say which limit stopped it, in the engine's own notification.
		for i := range res.Status.Notifications {
			n := &res.Status.Notifications[i]
			if n.Code == "timeout" || n.Code == "canceled" {
				n.Message = fmt.Sprintf("%s engine stopped: %s", name, StopReason(ectx))
			}
		}
	}
	if res.Status.State == StateUnspecified {
		// An engine that returned without saying how it ended has not
		// shown that it scanned anything.
		res.Status.Fail("engine-error", fmt.Errorf("%s engine ended without a status (an engine must call Status.Finish or Fail): its results are not trusted", name))
		log.Error("engine ended without a status")
	}
	res.Engine = name
	if res.Tool.Name == "" {
		res.Tool = e.Tool()
	}
	if res.Started.IsZero() {
		res.Started = start
	}
	res.Finished = time.Now()
	res.Normalize()
	log.Debug("engine finished", "state", res.Status.State.String(), "findings", len(res.Findings),
		"seconds", res.Finished.Sub(start).Seconds())
	return res
}

// scanSafely runs the engine, turning a panic or an error into a failed result.
func scanSafely(ctx context.Context, log *slog.Logger, t *Target, e Engine) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("engine panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = Result{Engine: e.Name()}
			res.Status.Fail("engine-panic", fmt.Errorf("%s engine crashed: %v", e.Name(), p))
		}
	}()
	res, err := e.Scan(ctx, t)
	if err != nil {
		code := "engine-error"
		var pe *crash.PanicError
		switch {
		case errors.As(err, &pe):
			// A goroutine of the engine panicked and recovered (crash.Recover).
			code = "engine-panic"
			log.Error("engine panicked", "where", pe.Where, "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
		case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
			code = "timeout"
		case errors.Is(err, context.Canceled) || ctx.Err() == context.Canceled:
			code = "canceled"
		}
		res.Status.Fail(code, fmt.Errorf("%s engine: %w", e.Name(), err))
		log.Error("engine failed", "error", err)
	}
	return res
}

// StopReason says why ctx ended, in the words of the limit that ended it:
// the cause its maker gave (the scan's --timeout, an engine's
// --engine-timeout, an interrupt, each with its value), which a context
// derived from it shares, else its error.
func StopReason(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil {
		return c.Error()
	}
	return "its context has not ended"
}

// SkippedNotifications turns the walk's skipped entries into notifications
// for an engine; allEngines selects only those that concern every engine.
func (t *Target) SkippedNotifications(allEnginesOnly bool, relevant func(path string) bool) []Notification {
	var out []Notification
	for _, s := range t.Skipped {
		if allEnginesOnly && !s.AllEngines {
			continue
		}
		if relevant != nil && !relevant(s.Path) || !t.Shard.Owns(s.Path) {
			continue
		}
		level := LevelWarning
		if s.Code == "symlink-unresolvable" || s.Code == "symlink-outside-root" {
			level = LevelNote
		}
		out = append(out, Notification{Level: level, Code: s.Code, Path: s.Path, Message: s.Message})
	}
	return out
}

// Excluding wraps an engine so that it does not see the paths excluded for
// it alone (the walk already dropped those excluded for every engine).
func Excluding(e Engine, exclude func(path string, dir bool) bool) Engine {
	if exclude == nil {
		return e
	}
	return excluding{Engine: e, exclude: exclude}
}

type excluding struct {
	Engine
	exclude func(path string, dir bool) bool
}

func (x excluding) Scan(ctx context.Context, t *Target) (Result, error) {
	sub := *t
	sub.Files = make([]File, 0, len(t.Files))
	for _, f := range t.Files {
		if !x.exclude(f.Path, false) && !underExcludedDir(f.Path, x.exclude) {
			sub.Files = append(sub.Files, f)
		}
	}
	res, err := x.Engine.Scan(ctx, &sub)
	if len(t.Files) > 0 && len(sub.Files) == 0 {
		// Fail loud: an exclude that leaves an engine nothing to read is a
		// scan that cannot find anything.
		res.Status.Config = append(res.Status.Config, Notification{Level: LevelWarning, Code: "excluded-everything",
			Message: fmt.Sprintf("the %s engine's excludes leave none of the %d files to scan: it could not find anything", x.Name(), len(t.Files))})
	}
	return res, err
}

func underExcludedDir(p string, exclude func(string, bool) bool) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && exclude(p[:i], true) {
			return true
		}
	}
	return false
}
