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
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	r := tollgate(t, nil, "scan", "--timeout", "1ms", "--sarif", sarifPath, demoDir(t))
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	failedRuns(t, sarifPath, "timeout")
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
}

func TestEngineTimeout(t *testing.T) {
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

func TestInterruptWritesACompleteLog(t *testing.T) {
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	cmd := exec.Command(binary, "scan", "--sarif", sarifPath, demoDir(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stderr, err := cmd.StderrPipe()
	must(t, err)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	must(t, cmd.Start())
	// Interrupt once the engines have started (the walk is logged first).
	sc := bufio.NewScanner(stderr)
	var logText strings.Builder
	for sc.Scan() {
		logText.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "msg=scanning") {
			must(t, cmd.Process.Signal(syscall.SIGINT))
			break
		}
	}
	for sc.Scan() {
		logText.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want 3\n%s%s", err, stdout.String(), logText.String())
	}
	if !strings.Contains(logText.String(), "interrupted") {
		t.Errorf("the log does not say it was interrupted:\n%s", logText.String())
	}
	failedRuns(t, sarifPath, "interrupted")
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
	// No temporary file is left next to the log.
	entries, _ := os.ReadDir(filepath.Dir(sarifPath))
	if len(entries) != 1 {
		t.Errorf("files next to the SARIF: %v", entries)
	}
}
