package config

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestPipelineFilesArePinnedToTheTarget: in a pull-request build every
// file the pipeline names inside the repository (a custom checks folder,
// value files) is read from the target branch's commit: the options name
// private copies of the target's files, a check the pull request adds is
// not among them, and each change is a warning naming the setting. Files
// outside the checkout and branch builds are left as named.
func TestPipelineFilesArePinnedToTheTarget(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	gitIn(t, top, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(top, "checks", "a.rego"), "package user.a\n")
	writeFile(t, filepath.Join(top, "vars", "prod.tfvars"), "public = false\n")
	writeFile(t, filepath.Join(top, "infra", "main.tf"), "\n")
	gitIn(t, top, "add", "-A")
	gitIn(t, top, "commit", "-q", "-m", "main")
	gitIn(t, top, "update-ref", "refs/remotes/origin/main", "HEAD")
	gitIn(t, top, "checkout", "-q", "-b", "pr")
	writeFile(t, filepath.Join(top, "checks", "a.rego"), "package user.a\n# weakened\n")
	writeFile(t, filepath.Join(top, "checks", "b.rego"), "package user.b\n")
	writeFile(t, filepath.Join(top, "vars", "prod.tfvars"), "public = true\n")
	gitIn(t, top, "add", "-A")
	gitIn(t, top, "commit", "-q", "-m", "pr")
	outside := filepath.Join(t.TempDir(), "outside.tfvars")
	writeFile(t, outside, "x = 1\n")

	args := []string{"--iac-checks", filepath.Join(top, "checks"), "--tf-vars", filepath.Join(top, "vars", "prod.tfvars") + "," + outside, filepath.Join(top, "infra")}
	o, err := Parse(context.Background(), testEngines, args, env(map[string]string{"SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/main"}))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	io := iacOf(o)
	if len(io.CheckPaths) != 1 || strings.HasPrefix(io.CheckPaths[0], top) {
		t.Fatalf("checks %v: want a private copy, not the checkout's folder", io.CheckPaths)
	}
	var got []string
	_ = filepath.WalkDir(io.CheckPaths[0], func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			got = append(got, filepath.Base(p)+"="+string(b))
		}
		return nil
	})
	if !slices.Equal(got, []string{"a.rego=package user.a\n"}) {
		t.Errorf("checks read %q, want the target's a.rego alone", got)
	}
	if len(io.TFVars) != 2 || io.TFVars[1] != outside {
		t.Fatalf("tf-vars %v: want a private copy, then %s as named", io.TFVars, outside)
	}
	if b, _ := os.ReadFile(io.TFVars[0]); string(b) != "public = false\n" {
		t.Errorf("tf-vars read %q, want the target's", b)
	}
	warned := map[string]bool{}
	for _, w := range o.Warnings {
		if w.Code == "policy-changed" {
			warned[w.Path] = strings.Contains(w.Message, "--iac-checks") || strings.Contains(w.Message, "--tf-vars")
		}
	}
	if !warned["checks"] || !warned["vars/prod.tfvars"] {
		t.Errorf("warnings %v: want checks and vars/prod.tfvars, naming their settings", o.Warnings)
	}
	dir := filepath.Dir(filepath.Dir(io.TFVars[0]))
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", dir, err)
	}

	// A branch build reads the checkout's files as named.
	o, err = Parse(context.Background(), testEngines, args, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := iacOf(o).CheckPaths; !slices.Equal(got, []string{filepath.Join(top, "checks")}) {
		t.Errorf("branch build: checks %v, want the checkout's folder", got)
	}
}

// A file the pipeline names that does not exist is a usage error naming
// the setting, in a branch build and in a pull-request build: a typo used
// to leave the engine partial and the run passing.
func TestMissingPipelineFilesAreUsageErrors(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, getenv := range []map[string]string{nil, {"SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/main"}} {
		for _, flag := range []string{"--tf-vars", "--helm-values", "--cf-params", "--baseline", "--secrets-config", "--iac-checks", "--config"} {
			missing := filepath.Join(t.TempDir(), "nope.file")
			_, err := Parse(context.Background(), testEngines, []string{flag, missing, root}, env(getenv))
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "no such file") {
				t.Errorf("%s %s (env %v): %v, want a usage error naming the file", flag, missing, getenv, err)
			}
			if flag != "--config" && !strings.Contains(err.Error(), flag) {
				t.Errorf("%s: %v does not name the setting", flag, err)
			}
		}
	}
}
