//go:build linux

package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nestingBombs are checkouts of a few hundred kilobytes that nest deeper
// than any parser should recurse (HCL's, go-toml's overflowed Go's stack: a
// fatal error that no recover() sees, exit 2 and every result of the scan
// lost), that make a third-party parser recurse without end (a Dockerfile
// RUN of 700,000 chained commands, a Helm value that renders itself with
// tpl, Ansible includes and role dependencies in a cycle: each a fatal
// stack overflow after 24-120 s), and a gitleaks configuration too large
// to compile. Each is a generator, not a file in git: a file
// name and its content.
var nestingBombs = map[string]struct {
	file    string
	content func() string
	note    string // what the notification naming the file says
	others  map[string]string
}{
	"terraform brackets": {"infra/main.tf", func() string {
		return "locals {\n  x = " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n}\n"
	}, "nests deeper than", nil},
	"tfvars parentheses": {"env/prod.tfvars", func() string {
		return "a = " + strings.Repeat("(", 100_000) + "1" + strings.Repeat(")", 100_000) + "\n"
	}, "nests deeper than", nil},
	"terraform interpolations": {"infra/vars.tf", func() string {
		return "locals {\n  x = " + strings.Repeat(`"${`, 50_000) + strings.Repeat(`}"`, 50_000) + "\n}\n"
	}, "nests deeper than", nil},
	"terraform JSON": {"infra/main.tf.json", func() string {
		return `{"locals": {"x": ` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "}}"
	}, "nests deeper than", nil},
	"ARM expression": {"arm/azuredeploy.json", func() string {
		return `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": [{"type": "Microsoft.Storage/storageAccounts", "name": "[` +
			strings.Repeat("concat(", 100_000) + strings.Repeat(")", 100_000) + `]", "apiVersion": "2023-01-01"}]}`
	}, "nests deeper than", nil},
	"Dockerfile of 700,000 chained commands": {"Dockerfile", func() string {
		return "FROM alpine:3.18\nRUN true" + strings.Repeat(" \\\n && true", 700_000) + "\nUSER app\n"
	}, "chains 700000 shell commands", nil},
	"Helm value that renders itself": {"chart/values.yaml", func() string {
		return "x: \"{{ tpl .Values.x . }}\"\n"
	}, "calls tpl", map[string]string{
		"chart/Chart.yaml":        "apiVersion: v2\nname: x\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ tpl .Values.x . | quote }}\n",
	}},
	"Ansible tasks that include each other": {"b.yml", func() string { return "- include_tasks: a.yml\n" }, "leads back to it", map[string]string{
		"site.yml": "- hosts: all\n  tasks:\n    - include_tasks: a.yml\n",
		"a.yml":    "- include_tasks: b.yml\n",
	}},
	"Ansible tasks that include themselves": {"t.yml", func() string { return "- name: again\n  include_tasks: t.yml\n" }, "leads back to it", map[string]string{
		"site.yml": "- hosts: all\n  tasks:\n    - include_tasks:\n        file: t.yml\n",
	}},
	"Ansible roles whose dependencies loop": {"roles/b/meta/main.yml", func() string { return "dependencies:\n  - a\n" }, "leads back to it", map[string]string{
		"site.yml":               "- hosts: all\n  roles:\n    - a\n",
		"roles/a/meta/main.yml":  "dependencies:\n  - role: b\n",
		"roles/a/tasks/main.yml": "- name: x\n  debug: msg=a\n",
		"roles/b/tasks/main.yml": "- name: y\n  debug: msg=b\n",
	}},
	"Ansible role that includes itself": {"roles/r/tasks/main.yml", func() string { return "- include_role:\n    name: r\n" }, "leads back to it", map[string]string{
		"site.yml": "- hosts: all\n  tasks:\n    - include_role:\n        name: r\n",
	}},
	"gitleaks config arrays": {".gitleaks.toml", func() string {
		return "title = \"x\"\na = " + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + "\n"
	}, "nests deeper than", nil},
	"gitleaks config of 5,000 rules": {".gitleaks.toml", func() string {
		var b strings.Builder
		b.WriteString("title = \"many\"\n")
		for i := range 5000 {
			fmt.Fprintf(&b, "[[rules]]\nid = \"r%d\"\nregex = '''(?i)secret%d[a-z]{%d,40}[0-9]+'''\n", i, i, i%30)
		}
		return b.String()
	}, "5000 rules", nil},
}

// TestNestingBombsEndWithANotification: each bomb ends within its budget
// (seconds, not minutes; under 2 GiB of memory), without a crash; the file
// is named in a notification that says why it was not checked, and a
// token in another file of the checkout is still reported (exit 1).
func TestNestingBombsEndWithANotification(t *testing.T) {
	t.Parallel()
	for name, b := range nestingBombs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{b.file: b.content()}
			maps.Copy(files, b.others)
			for p, content := range files {
				must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755))
				must(t, os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644))
			}
			token := fakeToken(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3)))
			must(t, os.WriteFile(filepath.Join(dir, "app.py"), []byte("TOKEN = \""+token+"\"\n"), 0o644))
			sarifPath := filepath.Join(t.TempDir(), "out.sarif")
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "scan", "-q", "--offline", "--no-result-cache", "--scanners", "secrets,iac", "--sarif", sarifPath, dir)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			start := time.Now()
			r := runCommand(t, cmd)
			took := time.Since(start)
			peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
			t.Logf("%s: exit %d in %s, peak RSS %d MiB", name, r.code, took.Round(time.Millisecond), peak>>20)
			if ctx.Err() != nil {
				t.Fatalf("still running after 120 s")
			}
			if strings.Contains(r.stderr, "goroutine stack exceeds") || strings.Contains(r.stderr, "fatal error") {
				t.Fatalf("crashed:\n%s", tailOf(r.stderr))
			}
			if peak > 2<<30 {
				t.Errorf("peak RSS %d MiB, over 2 GiB", peak>>20)
			}
			if r.code != 1 {
				t.Errorf("exit %d, want 1 (the token in app.py)\n%s", r.code, tailOf(r.stderr))
			}
			log := string(mustRead(t, sarifPath))
			if !strings.Contains(log, "github-pat") {
				t.Errorf("the token in app.py is not reported")
			}
			if !strings.Contains(log, b.note) || !strings.Contains(log, filepath.Base(b.file)) {
				t.Errorf("no notification names %s and says %q", b.file, b.note)
			}
		})
	}
}
