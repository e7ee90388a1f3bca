package isolate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

const workerEnv = "ISOLATE_TEST_WORKER"

// TestMain serves as the worker when the pool starts this test binary.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		Enter()
		log := Logger(os.Stderr, slog.LevelDebug)
		if err := Serve(context.Background(), os.Stdin, os.Stdout, func(ctx context.Context, req []byte) ([]byte, error) {
			return handle(log, req)
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var sink [][]byte

func handle(log *slog.Logger, req []byte) ([]byte, error) {
	cmd, arg, _ := strings.Cut(string(req), ":")
	switch cmd {
	case "echo":
		return []byte(arg), nil
	case "pid":
		return fmt.Appendf(nil, "%d", os.Getpid()), nil
	case "log":
		log.Info("from the worker", "file", arg)
		return nil, nil
	case "fail":
		return nil, errors.New("handler says " + arg)
	case "sleep":
		time.Sleep(time.Hour)
	case "nap":
		time.Sleep(300 * time.Millisecond)
		return nil, nil
	case "alloc":
		// Touch memory until something stops it.
		for {
			b := make([]byte, 32<<20)
			for i := range b {
				b[i] = 1
			}
			sink = append(sink, b)
		}
	case "huge":
		b := make([]byte, 1<<42)
		b[len(b)-1] = 1
		sink = append(sink, b)
	case "recurse":
		debug.SetMaxStack(32 << 20)
		return recurse(1), nil
	case "exit":
		os.Exit(7)
	}
	return nil, fmt.Errorf("unknown request %q", req)
}

func recurse(n int) []byte {
	var pad [256]byte
	pad[0] = byte(n)
	if n > 0 {
		return recurse(n + 1)
	}
	return pad[:]
}

func testPool(t *testing.T, lim Limits, log *slog.Logger) *Pool {
	t.Helper()
	p := NewPool(Config{Command: []string{os.Args[0]}, Env: []string{workerEnv + "=1"}, Size: 2, Limits: lim, Log: log})
	t.Cleanup(p.Close)
	return p
}

func do(t *testing.T, p *Pool, req string) (string, error) {
	t.Helper()
	b, err := p.Do(t.Context(), []byte(req), 0)
	return string(b), err
}

func TestRequestsAndReplies(t *testing.T) {
	p := testPool(t, Limits{Timeout: 30 * time.Second}, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			want := strings.Repeat(fmt.Sprint(i), 100_000)
			got, err := do(t, p, "echo:"+want)
			if err != nil || got != want {
				t.Errorf("echo %d: %d bytes, %v", i, len(got), err)
			}
		})
	}
	wg.Wait()
	// A handler's error is the request's; the worker goes on.
	first, _ := do(t, p, "pid")
	_, err := do(t, p, "fail:no")
	var herr *HandlerError
	if !errors.As(err, &herr) || herr.Message != "handler says no" {
		t.Fatalf("handler error: %v", err)
	}
	if again, _ := do(t, p, "pid"); again != first {
		// Two workers: the same one is taken back first (last in, first out).
		t.Errorf("a handler's error replaced the worker (%s, then %s)", first, again)
	}
}

// limitError runs req and returns its *LimitError, checking that the pool
// still serves afterwards.
func limitError(t *testing.T, p *Pool, req string) *LimitError {
	t.Helper()
	start := time.Now()
	_, err := do(t, p, req)
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("%s: got %v, want a *LimitError", req, err)
	}
	t.Logf("%s: %v after %s", req, err, time.Since(start).Round(time.Millisecond))
	if got, err := do(t, p, "echo:still here"); err != nil || got != "still here" {
		t.Fatalf("after %s the pool answers %q, %v", req, got, err)
	}
	return le
}

func TestTimeLimit(t *testing.T) {
	p := testPool(t, Limits{Timeout: 500 * time.Millisecond}, nil)
	start := time.Now()
	le := limitError(t, p, "sleep")
	if le.Kind != "time" || le.Limit != "500ms" || !strings.Contains(le.Error(), "took longer than 500ms") {
		t.Errorf("got %+v", le)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the deadline took %s to end the request", d)
	}
	// A request's own deadline.
	if _, err := p.Do(t.Context(), []byte("sleep"), 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "100ms") {
		t.Errorf("a request's own timeout: %v", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	p := testPool(t, Limits{Timeout: time.Minute, Memory: 256 << 20}, nil)
	for _, req := range []string{"alloc", "huge"} {
		le := limitError(t, p, req)
		if le.Kind != "memory" || le.Limit != "256MiB" {
			t.Errorf("%s: got %+v, want a memory limit of 256MiB", req, le)
		}
	}
}

func TestCrashes(t *testing.T) {
	p := testPool(t, Limits{Timeout: time.Minute, Memory: 1 << 30}, nil)
	le := limitError(t, p, "recurse")
	if le.Kind != "crash" || !strings.Contains(le.Detail, "stack") {
		t.Errorf("stack overflow: got %+v", le)
	}
	le = limitError(t, p, "exit")
	if le.Kind != "crash" || !strings.Contains(le.Detail, "exit status 7") {
		t.Errorf("exit: got %+v", le)
	}
}

// A request that comes while Warm prepares a worker waits for it rather
// than start another one.
func TestWarmWorkerIsUsed(t *testing.T) {
	p := testPool(t, Limits{}, nil)
	p.Warm(t.Context(), []byte("nap"), 1)
	for range 3 {
		if _, err := do(t, p, "pid"); err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.all) != 1 {
		t.Errorf("%d workers started for one at a time, want 1", len(p.all))
	}
}

// A worker whose pool is gone (the scan was killed) ends at its own
// deadline rather than run on.
func TestOrphanedWorkerEndsItself(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), workerEnv+"=1", timeoutEnv+"=200ms")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := writeFrame(stdin, 0, []byte("sleep")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if !strings.Contains(stderr.String(), "ran past its deadline") {
			t.Errorf("the worker ended (%v) without saying why: %q", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("an orphaned worker ran on past its deadline")
	}
}

func TestCancelKillsTheWorker(t *testing.T) {
	p := testPool(t, Limits{}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := p.Do(ctx, []byte("sleep"), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
	if got, err := do(t, p, "echo:x"); err != nil || got != "x" {
		t.Fatalf("after a cancel: %q, %v", got, err)
	}
}

func TestWorkerLogsReachTheLog(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := testPool(t, Limits{}, log)
	if _, err := do(t, p, "log:a.tf"); err != nil {
		t.Fatal(err)
	}
	p.Close() // the log is read to its end
	mu.Lock()
	defer mu.Unlock()
	if s := buf.String(); !strings.Contains(s, `msg="from the worker" file=a.tf`) {
		t.Errorf("the worker's record did not reach the log: %q", s)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
