package scanners

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/fifo"
)

func mkfile(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("x", size)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWalk(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	mkfile(t, filepath.Join(root, "a.txt"), 3)
	mkfile(t, filepath.Join(root, "sub/b.txt"), 3)
	mkfile(t, filepath.Join(root, ".git/config"), 3)
	mkfile(t, filepath.Join(root, "vendor/lib.go"), 3)
	mkfile(t, filepath.Join(root, "big.bin"), 2048)
	mkfile(t, filepath.Join(root, "d1/d2/d3/deep.txt"), 3)
	mkfile(t, filepath.Join(base, "outside.txt"), 3)
	if err := fifo.Make(filepath.Join(root, "pipe")); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"in-link":  "a.txt",
		"out-link": filepath.Join(base, "outside.txt"),
		"loop1":    "loop2",
		"loop2":    "loop1",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}

	tg, err := Walk(context.Background(), root, WalkOptions{
		MaxFileSize: 1024,
		MaxDepth:    2,
		Exclude:     func(p string, dir bool) bool { return dir && p == "vendor" },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	var files []string
	for _, f := range tg.Files {
		files = append(files, f.Path)
	}
	if got := strings.Join(files, ","); got != "a.txt,sub/b.txt" {
		t.Errorf("files = %s", got)
	}
	skipped := map[string]string{}
	for _, s := range tg.Skipped {
		skipped[s.Path] = s.Code
	}
	want := map[string]string{
		"big.bin":  "file-too-large",
		"d1/d2/d3": "too-deep",
		"pipe":     "not-regular",
		"out-link": "symlink-outside-root",
		"loop1":    "symlink-unresolvable",
		"loop2":    "symlink-unresolvable",
	}
	for p, code := range want {
		if skipped[p] != code {
			t.Errorf("skipped[%s] = %q, want %q", p, skipped[p], code)
		}
	}
	if _, ok := skipped["in-link"]; ok {
		t.Error("a symlink inside the root is reported")
	}
	if n := len(tg.SkippedNotifications(true, nil)); n != 3 {
		t.Errorf("%d notifications concern every engine, want 3 (size, depth, pipe)", n)
	}

	// Open never follows a symlink nor blocks on a FIFO.
	if _, err := tg.Open("out-link"); err == nil {
		t.Error("Open followed a symlink out of the root")
	}
	if _, err := tg.Open("pipe"); err == nil {
		t.Error("Open accepted a FIFO")
	}
	if _, err := tg.Open("../outside.txt"); err == nil {
		t.Error("Open left the root")
	}
	f, err := tg.Open("sub/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestWalkRootErrors(t *testing.T) {
	if _, err := Walk(context.Background(), filepath.Join(t.TempDir(), "nope"), WalkOptions{}); err == nil {
		t.Error("missing root accepted")
	}
	file := filepath.Join(t.TempDir(), "f")
	mkfile(t, file, 1)
	if _, err := Walk(context.Background(), file, WalkOptions{}); err == nil {
		t.Error("a file as root accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Walk(ctx, t.TempDir(), WalkOptions{}); err == nil {
		t.Error("a cancelled walk succeeded")
	}
}

type fakeEngine struct {
	name string
	scan func(*Target) (Result, error)
}

func (f fakeEngine) Name() string { return f.name }
func (f fakeEngine) Tool() Tool   { return Tool{Name: "fake-" + f.name} }
func (f fakeEngine) Scan(_ context.Context, t *Target) (Result, error) {
	return f.scan(t)
}

func TestRunIsolatesEngines(t *testing.T) {
	root := t.TempDir()
	mkfile(t, filepath.Join(root, "keep/a"), 1)
	mkfile(t, filepath.Join(root, "drop/b"), 1)
	tg, err := Walk(context.Background(), root, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	var seen []string
	engines := []Engine{
		fakeEngine{"boom", func(*Target) (Result, error) { panic("kaboom") }},
		fakeEngine{"err", func(*Target) (Result, error) { return Result{}, context.DeadlineExceeded }},
		Excluding(fakeEngine{"ok", func(t *Target) (Result, error) {
			for _, f := range t.Files {
				seen = append(seen, f.Path)
			}
			r := Result{Findings: []Finding{{RuleID: "b", Fingerprint: "x"}, {RuleID: "a", Fingerprint: "x"}}}
			r.Status.Finish()
			return r, nil
		}}, func(p string, dir bool) bool { return dir && p == "drop" }),
		// Returns findings and no error, but never says it finished.
		fakeEngine{"mute", func(*Target) (Result, error) {
			return Result{Findings: []Finding{{RuleID: "a", Fingerprint: "y"}}}, nil
		}},
		// An error-level notification on the way makes it partial.
		fakeEngine{"partial", func(*Target) (Result, error) {
			var r Result
			r.Status.Add(Notification{Level: LevelError, Code: "unreadable", Message: "could not read"})
			r.Status.Finish()
			return r, nil
		}},
	}
	res := Run(context.Background(), discard(), tg, engines, Limits{})
	if res[0].Status.State != Failed || !strings.Contains(res[0].Status.Notifications[0].Message, "kaboom") {
		t.Errorf("panic not turned into a failed result: %+v", res[0].Status)
	}
	if res[1].Status.State != Failed || res[1].Status.Notifications[0].Code != "timeout" {
		t.Errorf("timeout not reported: %+v", res[1].Status)
	}
	if res[2].Status.State != Succeeded || strings.Join(seen, ",") != "keep/a" {
		t.Errorf("ok engine: %+v saw %v", res[2].Status, seen)
	}
	if res[2].Findings[0].RuleID != "a" || res[2].Findings[1].Fingerprint != "x:2" {
		t.Errorf("findings not normalised: %+v", res[2].Findings)
	}
	if st := res[3].Status; st.State != Failed || len(st.Notifications) != 1 || !strings.Contains(st.Notifications[0].Message, "mute engine ended without a status") {
		t.Errorf("an engine that never set its status passed as %s: %+v", st.State, st.Notifications)
	}
	if st := res[4].Status; st.State != Partial {
		t.Errorf("an error notification then Finish: state %s, want partial", st.State)
	}
}
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// An engine that returns success after its time ran out (a library that
// stops early on cancellation and reports nothing) has not scanned
// everything: it fails, naming the limit, with what it found kept.
func TestResultAfterTheDeadlineIsNotAResult(t *testing.T) {
	tg, err := Walk(context.Background(), t.TempDir(), WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	quiet := slowEngine{name: "quiet"}
	ctx, cancel := context.WithTimeoutCause(context.Background(), time.Hour, errors.New("the scan's --timeout (1h) was reached"))
	defer cancel()
	res := Run(ctx, discard(), tg, []Engine{quiet}, Limits{PerEngine: map[string]time.Duration{"quiet": 50 * time.Millisecond}})
	st := res[0].Status
	if st.State != Failed || len(st.Notifications) == 0 || st.Notifications[len(st.Notifications)-1].Code != "timeout" ||
		!strings.Contains(st.Notifications[len(st.Notifications)-1].Message, "--engine-timeout (quiet=50ms)") {
		t.Errorf("state %s, notifications %+v; want failed, naming the engine timeout", st.State, st.Notifications)
	}
	if len(res[0].Findings) != 1 {
		t.Errorf("findings %v: what it found is kept", res[0].Findings)
	}
}

// slowEngine waits for its context to end, then reports success with one
// finding, as Trivy's Helm scanner does on cancellation.
type slowEngine struct{ name string }

func (e slowEngine) Name() string { return e.name }
func (e slowEngine) Tool() Tool   { return Tool{Name: "fake-" + e.name} }
func (e slowEngine) Scan(ctx context.Context, _ *Target) (Result, error) {
	<-ctx.Done()
	r := Result{Findings: []Finding{{RuleID: "a", Fingerprint: "x"}}}
	r.Status.Finish()
	return r, nil
}
