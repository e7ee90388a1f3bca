package scanners

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"
)

// Scanner is one engine.
type Scanner interface {
	// Name is the engine name: secrets, iac or image.
	Name() string
	// Scan reads the target and returns its findings. An error means the
	// engine could not run at all; file-level problems go in Result.Status.
	Scan(ctx context.Context, t *Target) (Result, error)
}

// Run scans the target with every engine side by side. One engine failing,
// panicking or timing out never stops the others: its Result comes back with
// State Failed and a notification naming the cause. Results keep the order of
// engines.
func Run(ctx context.Context, log *slog.Logger, t *Target, engines []Scanner) []Result {
	results := make([]Result, len(engines))
	var g errgroup.Group
	for i, e := range engines {
		g.Go(func() error {
			results[i] = runOne(ctx, log, t, e)
			return nil
		})
	}
	_ = g.Wait()
	return results
}

func runOne(ctx context.Context, log *slog.Logger, t *Target, e Scanner) (res Result) {
	start := time.Now()
	log = log.With("engine", e.Name())
	log.Debug("engine started")
	defer func() {
		if p := recover(); p != nil {
			log.Error("engine panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = Result{Scanner: e.Name()}
			res.Status.Fail("engine-panic", fmt.Errorf("%s engine crashed: %v", e.Name(), p))
		}
		res.Scanner = e.Name()
		if res.Started.IsZero() {
			res.Started = start
		}
		res.Finished = time.Now()
		res.Normalize()
		log.Debug("engine finished", "state", res.Status.State.String(), "findings", len(res.Findings),
			"seconds", res.Finished.Sub(start).Seconds())
	}()
	res, err := e.Scan(ctx, t)
	if err != nil {
		code := "engine-error"
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			code = "timeout"
		case errors.Is(err, context.Canceled):
			code = "canceled"
		}
		res.Status.Fail(code, fmt.Errorf("%s engine: %w", e.Name(), err))
		log.Error("engine failed", "error", err)
	}
	return res
}

// SkippedNotifications turns the walk's skipped entries into notifications
// for an engine; allEngines selects only those that concern every engine.
func (t *Target) SkippedNotifications(allEnginesOnly bool, relevant func(path string) bool) []Notification {
	var out []Notification
	for _, s := range t.Skipped {
		if allEnginesOnly && !s.AllEngines {
			continue
		}
		if relevant != nil && !relevant(s.Path) {
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
func Excluding(e Scanner, exclude func(path string, dir bool) bool) Scanner {
	if exclude == nil {
		return e
	}
	return excluding{Scanner: e, exclude: exclude}
}

type excluding struct {
	Scanner
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
	return x.Scanner.Scan(ctx, &sub)
}

func underExcludedDir(p string, exclude func(string, bool) bool) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && exclude(p[:i], true) {
			return true
		}
	}
	return false
}
