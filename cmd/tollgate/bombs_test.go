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
			files := map[string]string{b.file: b.content()}
			maps.Copy(files, b.others)
			log := scanBomb(t, name, files)
			if !strings.Contains(log, b.note) || !strings.Contains(log, filepath.Base(b.file)) {
				t.Errorf("no notification names %s and says %q", b.file, b.note)
			}
		})
	}
}

// budgetBombs are checkouts of a few kilobytes (a few megabytes where the
// name says so) that a library evaluates or renders without a bound: a
// Terraform count of a hundred million, dynamic blocks nested a hundred
// million times, a string doubled forty times, modules calling each other
// or fanning out a million times, Helm templates that repeat a string four
// billion times or render sixty megabytes, YAML streams and templates of
// a hundred thousand objects. Before units ran in worker processes, each
// ran past two minutes or took 4-8 GiB (the table). Now the unit is
// stopped at its budget, named, and the rest of the scan is kept.
var budgetBombs = map[string]struct {
	files map[string]func() string
	unit  string // a file of the unit the notification names
}{
	"terraform count": {map[string]func() string{
		"infra/main.tf": func() string {
			return "resource \"aws_s3_bucket\" \"b\" {\n  count = 100000000\n  acl   = \"public-read-write\"\n}\n"
		}}, "infra/main.tf"},
	"terraform nested dynamic blocks": {map[string]func() string{
		"infra/main.tf": func() string {
			return `resource "aws_security_group" "sg" {
  dynamic "ingress" {
    for_each = range(1000)
    content {
      dynamic "a" {
        for_each = range(1000)
        content {
          dynamic "b" {
            for_each = range(100)
            content {
              cidr_blocks = ["0.0.0.0/0"]
            }
          }
        }
      }
    }
  }
}
`
		}}, "infra/main.tf"},
	"terraform string doubled 40 times": {map[string]func() string{
		"infra/main.tf": func() string {
			var b strings.Builder
			b.WriteString("locals {\n  s0 = \"xxxxxxxx\"\n")
			for i := 1; i <= 40; i++ {
				fmt.Fprintf(&b, "  s%d = \"${local.s%d}${local.s%d}\"\n", i, i-1, i-1)
			}
			b.WriteString("}\nresource \"aws_s3_bucket\" \"b\" {\n  bucket = local.s40\n}\n")
			return b.String()
		}}, "infra/main.tf"},
	"terraform module fan-out 2^20": {func() map[string]func() string {
		files := map[string]func() string{
			"infra/main.tf": func() string { return "module \"m\" {\n  source = \"./m0\"\n}\n" },
		}
		for i := range 20 {
			files[fmt.Sprintf("infra/m%d/main.tf", i)] = func() string {
				return fmt.Sprintf("module \"a\" {\n  source = \"../m%d\"\n}\nmodule \"b\" {\n  source = \"../m%d\"\n}\n", i+1, i+1)
			}
		}
		files["infra/m20/main.tf"] = func() string { return "resource \"aws_s3_bucket\" \"b\" {\n  acl = \"public-read-write\"\n}\n" }
		return files
	}(), "infra/main.tf"},
	"helm repeat": {map[string]func() string{
		"chart/Chart.yaml": func() string { return "apiVersion: v2\nname: x\nversion: 0.1.0\n" },
		"chart/templates/cm.yaml": func() string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ repeat 4000000000 \"x\" | quote }}\n"
		}}, "chart/templates/cm.yaml"},
	"helm string doubled 34 times": {map[string]func() string{
		"chart/Chart.yaml": func() string { return "apiVersion: v2\nname: x\nversion: 0.1.0\n" },
		"chart/templates/cm.yaml": func() string {
			return "{{- $s := \"x\" }}{{- range until 34 }}{{- $s = print $s $s }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ $s | quote }}\n"
		}}, "chart/templates/cm.yaml"},
	"helm until 100000000": {map[string]func() string{
		"chart/Chart.yaml": func() string { return "apiVersion: v2\nname: x\nversion: 0.1.0\n" },
		"chart/templates/cm.yaml": func() string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"{{ range until 100000000 }}x{{ end }}\"\n"
		}}, "chart/templates/cm.yaml"},
	"helm chart rendering 3,000,000 lines": {map[string]func() string{
		"chart/Chart.yaml": func() string { return "apiVersion: v2\nname: x\nversion: 0.1.0\n" },
		"chart/templates/cm.yaml": func() string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n{{- range until 3000000 }}\n  k{{ . }}: v\n{{- end }}\n"
		}}, "chart/templates/cm.yaml"},
	"YAML stream of 1,000,000 documents (4 MB)": {map[string]func() string{
		"k8s/stream.yaml": func() string {
			return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: nginx\n" + strings.Repeat("---\n", 1_000_000)
		}}, "k8s/stream.yaml"},
	"100,000 Kubernetes objects (9 MB)": {map[string]func() string{
		"k8s/many.yaml": func() string {
			var b strings.Builder
			for i := range 100_000 {
				fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p%d\nspec:\n  containers:\n    - name: c\n      image: nginx\n", i)
			}
			return b.String()
		}}, "k8s/many.yaml"},
	"CloudFormation template of 100,000 resources (10 MB)": {map[string]func() string{
		"cfn/template.yaml": func() string {
			var b strings.Builder
			b.WriteString("AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n")
			for i := range 100_000 {
				fmt.Fprintf(&b, "  Bucket%d:\n    Type: AWS::S3::Bucket\n    Properties:\n      AccessControl: PublicReadWrite\n", i)
			}
			return b.String()
		}}, "cfn/template.yaml"},
	"Dockerfile of 1,000,000 lines (9 MB)": {map[string]func() string{
		"Dockerfile": func() string { return "FROM alpine:3.18\n" + strings.Repeat("RUN true\n", 1_000_000) }}, "Dockerfile"},
}

// TestBudgetBombsEndWithinTheirBudget: each budget bomb ends its unit at
// the unit's budget (here 10 s and 512 MiB, so that the test is quick;
// the defaults are a minute and 1 GiB), without a crash and under 2 GiB in
// all; the unit's file is in the log (its findings, or the notification
// that says why it was not checked), and the token in another file is
// still reported (exit 1).
func TestBudgetBombsEndWithinTheirBudget(t *testing.T) {
	t.Parallel()
	for name, b := range budgetBombs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{}
			for p, content := range b.files {
				files[p] = content()
			}
			log := scanBomb(t, name, files, "--iac-unit-timeout", "10s", "--iac-unit-memory", "512MiB")
			if !strings.Contains(log, `"uri": "`+b.unit+`"`) {
				t.Errorf("%s is not in the log: neither its findings nor a notification naming it", b.unit)
			}
		})
	}
}

// scanBomb scans a checkout of files and a token in app.py with the
// secrets and IaC engines, and checks that the scan ended within 120 s and
// 2 GiB (the scan's peak and every worker's it waited for), without a
// crash, with exit 1 and the token reported. It returns the SARIF log.
func scanBomb(t *testing.T, name string, files map[string]string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644))
	}
	token := fakeToken(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3)))
	must(t, os.WriteFile(filepath.Join(dir, "app.py"), []byte("TOKEN = \""+token+"\"\n"), 0o644))
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(append([]string{"scan", "-q", "--offline", "--no-result-cache", "--scanners", "secrets,iac"}, args...),
		"--sarif", sarifPath, dir)...)
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
	return log
}
