package task

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tollgate/tollgate/internal/paths"
)

// reserveSARIF picks the SARIF path in the staging directory's
// CodeAnalysisLogs folder and creates it, so that a second Tollgate step in
// the same job (or a re-run) never overwrites another's log.
func reserveSARIF(getenv func(string) string, name string) (string, error) {
	dir := sarifFolder(getenv, paths.Native(), os.TempDir())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("SARIF folder: %w", err)
	}
	if name == "" {
		job := sanitizeName(getenv("SYSTEM_JOBID"))
		if job == "" {
			job = "local"
		}
		attempt := sanitizeName(getenv("SYSTEM_JOBATTEMPT"))
		if attempt == "" {
			attempt = "1"
		}
		name = fmt.Sprintf("tollgate-%s-%s.sarif", job, attempt)
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; i < 1000; i++ {
		candidate := name
		if i > 1 {
			candidate = fmt.Sprintf("%s-%d%s", stem, i, ext)
		}
		p := filepath.Join(dir, candidate)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("SARIF file: %w", err)
		}
		_ = f.Close()
		return p, nil
	}
	return "", fmt.Errorf("SARIF file: too many logs named %s in %s", name, dir)
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sarifFolder is where the task writes its SARIF log: the CodeAnalysisLogs
// folder of the build's staging directory (Build.ArtifactStagingDirectory),
// of the agent's temp folder when there is none, else of tmp.
func sarifFolder(getenv func(string) string, s paths.Style, tmp string) string {
	dir := getenv("BUILD_ARTIFACTSTAGINGDIRECTORY")
	if dir == "" {
		dir = getenv("AGENT_TEMPDIRECTORY")
	}
	if dir == "" {
		dir = tmp
	}
	return s.Join(dir, DefaultArtifact)
}

// agentTempFile names a file (the build summary, the JUnit report) in the
// agent's temp folder (Agent.TempDirectory), else in tmp.
func agentTempFile(getenv func(string) string, s paths.Style, tmp, name string) string {
	dir := getenv("AGENT_TEMPDIRECTORY")
	if dir == "" {
		dir = tmp
	}
	return s.Join(dir, name)
}
