package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// progressLine matches the Lines mode's log line.
var progressLine = regexp.MustCompile(`(?m)^time=\S+ level=INFO msg=progress elapsed=(\d+)s .*$`)

// TestProgressLiveOnATerminal runs a scan with stderr on a pseudo-terminal:
// it draws a live line per engine there, and stdout is the same report as
// without one.
func TestProgressLiveOnATerminal(t *testing.T) {
	t.Parallel()
	got, stdout := scanOnTerminal(t, pty.Winsize{Rows: 40, Cols: 120}, "1s")
	for _, want := range []string{"secrets", "7/7 files", "iac", "6/6 groups"} {
		if !strings.Contains(got, want) {
			t.Errorf("the terminal shows no %q:\n%q", want, got)
		}
	}
	// The informational log lines are for logs, not a person watching:
	// the progress display says what the scan does.
	if strings.Contains(got, "level=INFO") {
		t.Errorf("the terminal shows INFO log lines:\n%q", got)
	}
	// Redrawn in place: the cursor goes back up over the engines' lines.
	if !regexp.MustCompile(`\x1b\[\d*A`).MatchString(got) {
		t.Errorf("no cursor movement: the lines were not redrawn live:\n%q", got)
	}
	if strings.Contains(stdout, "\x1b") || strings.Contains(stdout, "files") {
		t.Errorf("progress reached stdout:\n%s", stdout)
	}
	plain := tollgate(t, nil, "scan", "--no-result-cache", "--sarif", filepath.Join(t.TempDir(), "o.sarif"), demoDir(t))
	if !strings.Contains(plain.stderr, "level=INFO msg=scanning") {
		t.Errorf("a log (not a terminal) lost its INFO lines:\n%s", plain.stderr)
	}
	if plain.stdout != stdout {
		t.Errorf("stdout differs with stderr on a terminal:\n--- terminal\n%s\n--- pipe\n%s", stdout, plain.stdout)
	}
}

// TestProgressOnATerminalWithoutASize: a terminal that reports its size as
// 0x0 (some containers' and CI runners' ptys) gets the progress lines of a
// log, since live bars would draw nothing there.
func TestProgressOnATerminalWithoutASize(t *testing.T) {
	t.Parallel()
	got, _ := scanOnTerminal(t, pty.Winsize{Rows: 0, Cols: 0}, "11s")
	if !strings.Contains(got, "level=INFO msg=progress") {
		t.Errorf("a 0x0 terminal shows no progress line:\n%q", got)
	}
	if regexp.MustCompile(`\x1b\[\d*A`).MatchString(got) {
		t.Errorf("live redraws on a 0x0 terminal:\n%q", got)
	}
}

// TestProgressLinesInLogs: with stderr in a log, a scan slowed to over
// 21 s logs a progress line every 10 s (at 10 s, 20 s, ... and never more
// than its run time allows), in a pipeline (TF_BUILD) too; the same scan
// with --quiet logs none; the same scan without the delay logs none when it
// takes under 10 s; stdout is in each case what the scan without the delay
// prints.
func TestProgressLinesInLogs(t *testing.T) {
	t.Parallel()
	type run struct {
		name                string
		env, args           []string
		slow, plain         runResult
		slowTook, plainTook time.Duration
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
			start := time.Now()
			r.slow = slowTollgate(t, "21s", r.env, args...)
			r.slowTook = time.Since(start)
		}()
		go func() {
			defer func() { done <- struct{}{} }()
			start := time.Now()
			r.plain = tollgate(t, r.env, args...)
			r.plainTook = time.Since(start)
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
			checkProgressLines(t, r.name, lines, r.slowTook, r.slow.stderr)
			if len(lines) < 2 {
				t.Errorf("%s: a scan of %s logged %d progress line(s), want one at 10 s and one at 20 s at least:\n%s", r.name, r.slowTook, len(lines), r.slow.stderr)
			}
			// Each line counts each engine's work against its total, and
			// the counts only grow (how far an engine has come by 10 s
			// depends on the machine's load).
			counts := regexp.MustCompile(`secrets="(\d+)/7 files.* iac="(\d+)/6 groups"`)
			last := [2]int{}
			for _, l := range lines {
				m := counts.FindStringSubmatch(l[0])
				if m == nil {
					t.Errorf("%s: the line does not count each engine's work: %s", r.name, l[0])
					continue
				}
				now := [2]int{atoi(t, m[1]), atoi(t, m[2])}
				if now[0] < last[0] || now[1] < last[1] {
					t.Errorf("%s: the counts went back from %v to %v: %s", r.name, last, now, l[0])
				}
				last = now
			}
		}
		plainLines := progressLine.FindAllStringSubmatch(r.plain.stderr, -1)
		checkProgressLines(t, r.name+" without the delay", plainLines, r.plainTook, r.plain.stderr)
		if r.plainTook < 10*time.Second && len(plainLines) > 0 {
			t.Errorf("%s: a scan of %s (under 10 s) logged progress:\n%s", r.name, r.plainTook, r.plain.stderr)
		}
		if r.slow.stdout != r.plain.stdout || r.slow.code != r.plain.code {
			t.Errorf("%s: stdout (exit %d) differs from the same scan's without the delay (exit %d):\n%s\n---\n%s", r.name, r.slow.code, r.plain.code, r.slow.stdout, r.plain.stdout)
		}
	}
}

// checkProgressLines: the lines come every 10 s of the run, the k-th in
// the k-th ten seconds (10 s, 20 s, ..., later on a loaded machine, but
// never in the next slot), never more of them than a run of took allows.
func checkProgressLines(t *testing.T, name string, lines [][]string, took time.Duration, stderr string) {
	t.Helper()
	for i, l := range lines {
		if s, _ := strconv.Atoi(l[1]); s < 10*(i+1) || s >= 10*(i+2) {
			t.Errorf("%s: progress line %d at %s s, want %d s to %d s:\n%s", name, i+1, l[1], 10*(i+1), 10*(i+2)-1, stderr)
		}
	}
	if most := int(took / (10 * time.Second)); len(lines) > most {
		t.Errorf("%s: %d progress lines in a run of %s, at most %d allowed:\n%s", name, len(lines), took, most, stderr)
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
	}{
		{"slow", "12s"},
		{"fast", "0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, _, _ := agentEnv(t, demoDir(t), "1", map[string]string{"failOn": "none", "scanners": "secrets,iac"})
			start := time.Now()
			r := slowTollgate(t, tc.delay, env, "task")
			took := time.Since(start)
			var set []agentCommand
			for _, c := range parseAgentCommands(r.stdout) {
				if c.Name == "task.setprogress" {
					set = append(set, c)
				}
			}
			lines := progressLine.FindAllStringSubmatch(r.stderr, -1)
			checkProgressLines(t, tc.name, lines, took, r.stderr)
			switch {
			case tc.name == "slow" && len(set) == 0:
				t.Errorf("a task of %s set no progress:\n%s", took, r.stdout)
			case tc.name == "fast" && took < 10*time.Second && len(set) > 0:
				t.Errorf("a task of %s (under 10 s) set progress:\n%s", took, r.stdout)
			case len(set) != len(lines):
				t.Errorf("%d task.setprogress commands for %d progress lines in the log:\n%s\n%s", len(set), len(lines), r.stdout, r.stderr)
			}
			last := 0
			for _, c := range set {
				v, err := strconv.Atoi(c.Props["value"])
				if err != nil || v < last || v > 100 || c.Message != "Tollgate scan" {
					t.Errorf("setprogress %+v: want a value from %d to 100 and the message Tollgate scan", c, last)
				}
				last = v
			}
			if tc.name == "slow" && len(set) > 0 && took-12*time.Second < 10*time.Second && last != 100 {
				// The work took under 10 s, so every engine had finished it
				// when the line came.
				t.Errorf("setprogress ended at %d, want 100: every engine had finished its work", last)
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// scanOnTerminal scans the demo with stderr on a pty of the given size and
// each engine slowed by delay; it returns what the terminal showed and
// stdout.
func scanOnTerminal(t *testing.T, size pty.Winsize, delay string) (screen, stdout string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &size); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := slowCommand(ctx, t, delay, []string{"TERM=xterm"}, "scan", "--no-result-cache", "--sarif", filepath.Join(t.TempDir(), "o.sarif"), demoDir(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now
	var shown bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&shown, ptmx) // ends with EIO when the child exits
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	<-read
	return shown.String(), out.String()
}
