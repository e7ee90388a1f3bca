package progress

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/scanners"
)

// recorder keeps the log records a Lines display writes, with their times.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) lines() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), r.records...)
}

// work counts files on the meter until ctx ends, as the secrets engine does.
func work(ctx context.Context, m *scanners.Meter) {
	g := m.Gauge(scanners.EngineSecrets, "files")
	g.SetTotal(1000)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
			g.Add(1)
			g.AddBytes(512)
		}
	}
}

func TestLinesAtMostOnePerInterval(t *testing.T) {
	const interval = 150 * time.Millisecond
	m := &scanners.Meter{}
	rec := &recorder{}
	var percents []int
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	go work(ctx, m)
	start := time.Now()
	d := Start(context.Background(), m, nil, Options{Mode: Lines, Interval: interval, Log: slog.New(rec),
		SetProgress: func(p int) { mu.Lock(); percents = append(percents, p); mu.Unlock() }})
	// At least eight intervals and two lines, however late the ticks come
	// on a loaded machine.
	time.Sleep(8 * interval)
	for deadline := time.Now().Add(time.Minute); len(rec.lines()) < 2 && time.Now().Before(deadline); {
		time.Sleep(interval)
	}
	d.Stop()
	elapsed := time.Since(start)
	cancel()

	lines := rec.lines()
	if max := int(elapsed / interval); len(lines) == 0 || len(lines) > max {
		t.Fatalf("%d progress lines in %s at one per %s (want 1..%d)", len(lines), elapsed, interval, max)
	}
	for i := 1; i < len(lines); i++ {
		if gap := lines[i].Time.Sub(lines[i-1].Time); gap < interval {
			t.Errorf("lines %d and %d are %s apart, less than %s", i-1, i, gap, interval)
		}
	}
	var text strings.Builder
	lines[len(lines)-1].Attrs(func(a slog.Attr) bool {
		text.WriteString(a.Key + "=" + a.Value.String() + " ")
		return true
	})
	if !strings.Contains(text.String(), "secrets=") || !strings.Contains(text.String(), "/1000 files (") {
		t.Errorf("last line %q does not give the engine's count", text.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(percents) != len(lines) || percents[len(percents)-1] <= 0 || percents[len(percents)-1] > 100 {
		t.Errorf("set progress %v with %d lines", percents, len(lines))
	}
	if n := len(rec.lines()); n != len(lines) {
		t.Errorf("%d lines after Stop returned, %d before", n, len(lines))
	}
}

func TestLinesNoneForAShortScan(t *testing.T) {
	m := &scanners.Meter{}
	rec := &recorder{}
	called := false
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go work(ctx, m)
	// An interval no test run reaches: whatever the machine's load, a line
	// here could only come from logging at the start.
	d := Start(context.Background(), m, nil, Options{Mode: Lines, Interval: time.Hour, Log: slog.New(rec), SetProgress: func(int) { called = true }})
	time.Sleep(100 * time.Millisecond)
	d.Stop()
	if n := len(rec.lines()); n != 0 || called {
		t.Errorf("a 0.1 s scan logged %d progress lines (set progress: %v); the first is due after an hour", n, called)
	}
}

func TestOffShowsNothing(t *testing.T) {
	m := &scanners.Meter{}
	var out bytes.Buffer
	console := NewConsole(&out)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go work(ctx, m)
	d := Start(context.Background(), m, console, Options{Mode: Off, Interval: 10 * time.Millisecond, Log: slog.New(rec)})
	time.Sleep(100 * time.Millisecond)
	d.Stop()
	if out.Len() != 0 || len(rec.lines()) != 0 {
		t.Errorf("off mode wrote %q and %d log lines", out.String(), len(rec.lines()))
	}
}

func TestLiveDrawsALinePerEngineAndCarriesTheLog(t *testing.T) {
	m := &scanners.Meter{}
	var out syncBuffer
	console := NewConsole(&out)
	d := Start(context.Background(), m, console, Options{Mode: Live})
	sec := m.Gauge(scanners.EngineSecrets, "files")
	sec.SetTotal(40)
	iac := m.Gauge(scanners.EngineIaC, "groups")
	iac.SetTotal(7)
	for range 20 {
		sec.Add(1)
		time.Sleep(10 * time.Millisecond)
	}
	iac.Add(7)
	if _, err := console.Write([]byte("level=INFO msg=scanning\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	d.Stop()
	got := out.String()
	for _, want := range []string{"secrets", "/40 files", "iac", "7/7 groups", "msg=scanning"} {
		if !strings.Contains(got, want) {
			t.Errorf("live output lacks %q:\n%q", want, got)
		}
	}
	// After Stop the console writes straight through again.
	n := out.Len()
	if _, err := console.Write([]byte("after\n")); err != nil || out.String()[n:] != "after\n" {
		t.Errorf("after Stop a write gave %q, %v", out.String()[n:], err)
	}
}

func TestModeFor(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	var buf bytes.Buffer
	for _, c := range []struct {
		quiet bool
		env   func(string) string
		want  Mode
	}{
		{true, env(), Off},
		{false, env(), Lines}, // a buffer is not a terminal
		{false, env("TF_BUILD", "True"), Lines},
		{true, env("TF_BUILD", "True"), Off},
	} {
		if got := ModeFor(&buf, c.quiet, c.env); got != c.want {
			t.Errorf("quiet=%v tf_build=%q: %s, want %s", c.quiet, c.env("TF_BUILD"), got, c.want)
		}
	}
}

func TestPercentAndCount(t *testing.T) {
	rs := []scanners.Reading{
		{Engine: "secrets", Unit: "files", Done: 50, Total: 100, Bytes: 3 << 20},
		{Engine: "iac", Unit: "groups", Done: 1, Total: 4},
		{Engine: "image", Unit: "images", Done: 0, Total: 0}, // not counted yet
	}
	if got := Percent(rs); got != 37 {
		t.Errorf("Percent = %d, want 37 (the mean of 50 %% and 25 %%)", got)
	}
	if got := Count(rs[0]); got != "50/100 files (3.0 MiB)" {
		t.Errorf("Count = %q", got)
	}
	if got := Percent(nil); got != 0 {
		t.Errorf("Percent(nil) = %d", got)
	}
	var m *scanners.Meter // a nil meter counts nothing and reads empty
	m.Gauge("secrets", "files").Add(3)
	if m.Read() != nil {
		t.Error("a nil meter read something")
	}
}

// syncBuffer is a bytes.Buffer safe for mpb's goroutine and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
