package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners"
)

// slowEnv makes this test binary, started with it, Tollgate itself with
// every engine slowed down: each waits the variable's duration once its
// work is done, so that a test can watch a long scan's progress (or a
// running process) on a small tree. Only the test binary knows it: the
// binary that ships reads no such variable.
const slowEnv = "TOLLGATE_TEST_SLOW_ENGINES"

// runSlowed runs Tollgate as main does, with its engines slowed by the
// duration slowEnv gives; ok is false when the variable is not set (the
// test binary then runs the tests).
func runSlowed() (code int, ok bool) {
	v, set := os.LookupEnv(slowEnv)
	if !set {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: %v\n", slowEnv, v, err)
		return 2, true
	}
	return start(slowed(defaultRegistry(), d)), true
}

// slowed is reg with each engine waiting d, once its work is done, before
// it returns (or until its context ends).
func slowed(reg scan.Registry, d time.Duration) scan.Registry {
	out := make(scan.Registry, len(reg))
	for i, e := range reg {
		build := e.New
		e.New = func(ctx context.Context, o config.Options, log *slog.Logger, rc *scanners.ResultCache) scanners.Engine {
			return slowEngine{Engine: build(ctx, o, log, rc), d: d}
		}
		out[i] = e
	}
	return out
}

type slowEngine struct {
	scanners.Engine
	d time.Duration
}

func (e slowEngine) Scan(ctx context.Context, t *scanners.Target) (scanners.Result, error) {
	res, err := e.Engine.Scan(ctx, t)
	select {
	case <-time.After(e.d):
	case <-ctx.Done():
	}
	return res, err
}

// slowCommand is a command that runs Tollgate (this test binary) with its
// engines slowed by delay, in a clean environment plus env, as tollgate
// runs the binary.
func slowCommand(ctx context.Context, t *testing.T, delay string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), slowEnv + "=" + delay}, env...)
	return cmd
}

// slowTollgate is tollgate with every engine slowed by delay.
func slowTollgate(t *testing.T, delay string, env []string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return runCommand(t, slowCommand(ctx, t, delay, env, args...))
}
