package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// failedRuns checks that every run of the log failed and says why.
func failedRuns(t *testing.T, path string, want string) {
	t.Helper()
	log, _ := readSARIF(t, path)
	if len(log.Runs) == 0 {
		t.Fatal("no runs")
	}
	for _, run := range log.Runs {
		if run.Invocations[0].ExecutionSuccessful {
			t.Errorf("%s: executionSuccessful is true", run.Tool.Driver.Name)
		}
	}
	if n := strings.Join(log.notifications(), "\n"); !strings.Contains(n, want) {
		t.Errorf("no notification containing %q:\n%s", want, n)
	}
}

func TestScanTimeout(t *testing.T) {
	t.Parallel()
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	r := tollgate(t, nil, "scan", "--timeout", "1ms", "--sarif", sarifPath, demoDir(t))
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Whichever phase 1 ms falls in on this machine (listing the files or
	// an engine at work), the notification names the limit and its value;
	// scan's TestTimeoutNamesItsLimitInEveryPhase drives each phase.
	failedRuns(t, sarifPath, "the scan's --timeout (1ms) was reached")
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
}

func TestEngineTimeout(t *testing.T) {
	t.Parallel()
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	r := tollgate(t, nil, "scan", "--engine-timeout", "iac=1ms", "--sarif", sarifPath, demoDir(t))
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	log, _ := readSARIF(t, sarifPath)
	if !log.Runs[0].Invocations[0].ExecutionSuccessful || log.Runs[1].Invocations[0].ExecutionSuccessful {
		t.Error("want secrets to succeed and iac to fail")
	}
	if n := strings.Join(log.notifications(), "\n"); !strings.Contains(n, "iac engine stopped: its --engine-timeout (iac=1ms) was reached") {
		t.Errorf("notifications:\n%s", n)
	}
	if !log.where()["gitleaks github-pat app/settings.py:6"] {
		t.Error("the secrets engine's results are missing")
	}
	if r := tollgate(t, nil, "scan", "--engine-timeout", "sast=1m", demoDir(t)); r.code != 2 {
		t.Errorf("unknown engine in --engine-timeout: exit %d", r.code)
	}
}

// interrupt scans the demo and sends sig once the engines have started,
// and again (times 2) once the first was handled: two pending signals of
// one kind would merge into one. It returns the exit code, the log and the
// SARIF path.
func interrupt(t *testing.T, sig syscall.Signal, times int) (int, string, string) {
	t.Helper()
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	cmd := exec.Command(binary, "scan", "--sarif", sarifPath, demoDir(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stderr, err := cmd.StderrPipe()
	must(t, err)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	must(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	var logText strings.Builder
	sent := 0
	for sent < times && sc.Scan() {
		logText.WriteString(sc.Text() + "\n")
		if (sent == 0 && strings.Contains(sc.Text(), "msg=scanning")) || (sent == 1 && strings.Contains(sc.Text(), "interrupted")) {
			must(t, cmd.Process.Signal(sig))
			sent++
		}
	}
	for sc.Scan() {
		logText.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("exit %v, want a failure\n%s%s", err, stdout.String(), logText.String())
	}
	return ee.ExitCode(), logText.String(), sarifPath
}

func TestInterruptWritesACompleteLog(t *testing.T) {
	t.Parallel()
	code, logText, sarifPath := interrupt(t, syscall.SIGINT, 1)
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, logText)
	}
	if !strings.Contains(logText, "interrupted") {
		t.Errorf("the log does not say it was interrupted:\n%s", logText)
	}
	failedRuns(t, sarifPath, "interrupted")
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
	// No temporary file is left next to the log.
	entries, _ := os.ReadDir(filepath.Dir(sarifPath))
	if len(entries) != 1 {
		t.Errorf("files next to the SARIF: %v", entries)
	}
}
