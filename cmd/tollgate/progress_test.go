package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tollgate/tollgate/scan"
)

// progressLine matches the Lines mode's log line.
var progressLine = regexp.MustCompile(`(?m)^time=\S+ level=INFO msg=progress elapsed=(\d+)s .*$`)

// TestProgressLiveOnATerminal runs a scan with stderr on a pseudo-terminal:
// it draws a live line per engine there, and stdout is the same report as
// without one.
func TestProgressLiveOnATerminal(t *testing.T) {
	t.Parallel()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "scan", "--no-result-cache", "--sarif", filepath.Join(t.TempDir(), "o.sarif"), demoDir(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=xterm", scan.EngineDelayEnv + "=1s"}
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&screen, ptmx) // ends with EIO when the child exits
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	<-read
	got := screen.String()
	for _, want := range []string{"secrets", "7/7 files", "iac", "6/6 groups", "msg=scanning"} {
		if !strings.Contains(got, want) {
			t.Errorf("the terminal shows no %q:\n%q", want, got)
		}
	}
	// Redrawn in place: the cursor goes back up over the engines' lines.
	if !regexp.MustCompile(`\x1b\[\d*A`).MatchString(got) {
		t.Errorf("no cursor movement: the lines were not redrawn live:\n%q", got)
	}
	if strings.Contains(stdout.String(), "\x1b") || strings.Contains(stdout.String(), "files") {
		t.Errorf("progress reached stdout:\n%s", stdout.String())
	}
	plain := tollgate(t, nil, "scan", "--no-result-cache", "--sarif", filepath.Join(t.TempDir(), "o.sarif"), demoDir(t))
	if plain.stdout != stdout.String() {
		t.Errorf("stdout differs with stderr on a terminal:\n--- terminal\n%s\n--- pipe\n%s", stdout.String(), plain.stdout)
	}
}

// TestProgressLinesInLogs: with stderr in a log, a scan slowed to ~21 s
// logs a progress line at 10 s and at 20 s and no more, in a pipeline
// (TF_BUILD) too; the same scan with --quiet logs none; stdout is in each
// case what the same scan without the delay prints.
func TestProgressLinesInLogs(t *testing.T) {
	t.Parallel()
	type run struct {
		name        string
		env, args   []string
		slow, plain runResult
	}
	runs := []*run{
		{name: "log"},
		{name: "quiet", args: []string{"--quiet"}},
		{name: "pipeline", env: []string{"TF_BUILD=True"}},
	}
	done := make(chan struct{}, 2*len(runs))
	for _, r := range runs {
		args := append([]string{"scan", "--no-result-cache"}, r.args...)
		args = append(args, "--sarif", filepath.Join(t.TempDir(), "o.sarif"), demoDir(t))
		go func() {
			defer func() { done <- struct{}{} }()
			r.slow = tollgate(t, append([]string{scan.EngineDelayEnv + "=21s"}, r.env...), args...)
		}()
		go func() {
			defer func() { done <- struct{}{} }()
			r.plain = tollgate(t, r.env, args...)
		}()
	}
	for range 2 * len(runs) {
		<-done
	}
	for _, r := range runs {
		lines := progressLine.FindAllStringSubmatch(r.slow.stderr, -1)
		if r.name == "quiet" {
			if strings.Contains(r.slow.stderr, "progress") {
				t.Errorf("--quiet logged progress:\n%s", r.slow.stderr)
			}
		} else {
			if len(lines) != 2 || lines[0][1] != "10" || lines[1][1] != "20" {
				t.Errorf("%s: want a progress line at 10 s and at 20 s of a 21 s scan, got %d:\n%s", r.name, len(lines), r.slow.stderr)
			}
			for _, l := range lines {
				if !strings.Contains(l[0], `secrets="7/7 files`) || !strings.Contains(l[0], `iac="6/6 groups"`) {
					t.Errorf("%s: the line does not count each engine's work: %s", r.name, l[0])
				}
			}
		}
		if strings.Contains(r.plain.stderr, "progress") {
			t.Errorf("%s: a scan shorter than 10 s logged progress:\n%s", r.name, r.plain.stderr)
		}
		if r.slow.stdout != r.plain.stdout || r.slow.code != r.plain.code {
			t.Errorf("%s: stdout (exit %d) differs from the same scan's without the delay (exit %d):\n%s\n---\n%s", r.name, r.slow.code, r.plain.code, r.slow.stdout, r.plain.stdout)
		}
	}
}

// TestTaskSetsProgress: the task of a scan that runs longer than 10 s tells
// the agent how far it is (##vso[task.setprogress]) with each progress line
// of its log, and not at all for a short scan.
func TestTaskSetsProgress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		delay string
		want  int
	}{
		{"slow", "12s", 1},
		{"fast", "0s", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, _, _ := agentEnv(t, demoDir(t), "1", map[string]string{"failOn": "none", "scanners": "secrets,iac"})
			r := tollgate(t, append(env, scan.EngineDelayEnv+"="+tc.delay), "task")
			var set []agentCommand
			for _, c := range parseAgentCommands(r.stdout) {
				if c.Name == "task.setprogress" {
					set = append(set, c)
				}
			}
			if len(set) != tc.want {
				t.Fatalf("%d task.setprogress commands, want %d:\n%s", len(set), tc.want, r.stdout)
			}
			for _, c := range set {
				if c.Props["value"] != "100" || c.Message != "Tollgate scan" {
					t.Errorf("setprogress %+v: every engine had finished its work, want value 100", c)
				}
			}
			if lines := progressLine.FindAllString(r.stderr, -1); len(lines) != tc.want {
				t.Errorf("%d progress lines in the log, want %d:\n%s", len(lines), tc.want, r.stderr)
			}
		})
	}
}
