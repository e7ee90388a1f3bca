// Package tollgate_test holds checks on the repository itself rather than on
// one package: here, that `bash .ci/run` (the README's test command) installs
// every external command the tests and the scripts they run execute, so that
// the suite passes on a fresh machine and not only on one where a tool was
// once installed by hand.
package tollgate_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// notInstalledByCI are commands the sources name that .ci/run deliberately
// does not install, with the reason.
func notInstalledByCI() map[string]string {
	return map[string]string{
		"sudo": ".ci/run's as_root uses it only when not run as root; CI runs as root",
	}
}

// TestCIInstallsEveryCommand lists the external commands that Go code
// (exec.Command, exec.CommandContext, exec.LookPath), the shell scripts the
// tests run (and .ci/run itself) and the task shim execute, and fails for
// each one that is neither in .ci/run's REQUIRED_COMMANDS table, nor a shell
// builtin, nor provided by one of Debian's Essential or required packages
// (present on every Debian system).
func TestCIInstallsEveryCommand(t *testing.T) {
	required, err := requiredCommands(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"git", "node", "docker", "dockerd", "debootstrap"} {
		if _, ok := required[cmd]; !ok {
			t.Errorf(".ci/run REQUIRED_COMMANDS lacks %s, which the tests run", cmd)
		}
	}
	calls, err := externalCommands(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 10 {
		t.Fatalf("found only %d external commands; the collector is broken: %v", len(calls), calls)
	}
	for _, want := range []string{"git", "docker", "debootstrap", "node", "go", "npm"} {
		if _, ok := calls[want]; !ok {
			t.Errorf("the collector did not find %q, which the repository calls", want)
		}
	}
	for _, problem := range uncovered(calls, required, debianBase) {
		t.Error(problem)
	}
}

// TestCICheckCatchesAMissingInstall proves the check above can fail: a
// script that calls a command from a non-essential package, with a table that
// lacks it, is reported with the file that calls it.
func TestCICheckCatchesAMissingInstall(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".ci/run", "REQUIRED_COMMANDS=(\n  \"git git\"\n)\ngo test ./...\n")
	write("image/base.sh", "set -e\nx=$(mktemp -d)\nas_root debootstrap --variant=minbase bookworm \"$x\"\nsh -c 'docker save a | gzip -6 | wc -c'\n")
	write("x/x_test.go", `package x
import "os/exec"
func f() { exec.Command("bash", "image/base.sh").Run(); exec.Command("git", "status").Run() }
`)
	required, err := requiredCommands(filepath.Join(dir, ".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	calls, err := externalCommands(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"git", "go", "bash", "debootstrap", "docker", "gzip", "wc", "mktemp"} {
		if _, ok := calls[want]; !ok {
			t.Errorf("collector missed %q: %v", want, calls)
		}
	}
	base := func(cmd string) bool {
		return slices.Contains([]string{"set", "bash", "sh", "mktemp", "gzip", "wc", "go"}, cmd)
	}
	problems := uncovered(calls, required, base)
	joined := strings.Join(problems, "\n")
	for _, want := range []string{"debootstrap (image/base.sh)", "docker (image/base.sh)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems do not name %q:\n%s", want, joined)
		}
	}
	if len(problems) != 2 {
		t.Errorf("want exactly the 2 uncovered commands, got %d:\n%s", len(problems), joined)
	}
}

// requiredCommands reads REQUIRED_COMMANDS=( "cmd pkg" ... ) from .ci/run.
func requiredCommands(runPath string) (map[string]string, error) {
	src, err := os.ReadFile(runPath)
	if err != nil {
		return nil, err
	}
	file, err := syntax.NewParser().Parse(bytes.NewReader(src), runPath)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", runPath, err)
	}
	out := map[string]string{}
	found := false
	syntax.Walk(file, func(n syntax.Node) bool {
		a, ok := n.(*syntax.Assign)
		if !ok || a.Name == nil || a.Name.Value != "REQUIRED_COMMANDS" || a.Array == nil {
			return true
		}
		found = true
		for _, el := range a.Array.Elems {
			fields := strings.Fields(wordText(el.Value))
			if len(fields) == 2 {
				out[fields[0]] = fields[1]
			}
		}
		return false
	})
	if !found || len(out) == 0 {
		return nil, fmt.Errorf("%s has no REQUIRED_COMMANDS=(\"command package\" ...) table", runPath)
	}
	return out, nil
}

// externalCommands maps each external command the repository executes to the
// files that execute it.
func externalCommands(root string) (map[string][]string, error) {
	c := collector{root: root, calls: map[string][]string{}, seen: map[string]bool{}}
	var scripts []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			base := d.Name()
			if rel != "." && (strings.HasPrefix(base, ".") && rel != ".ci" || base == "testdata" || base == "node_modules" || base == "tools") {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasSuffix(rel, ".go"):
			return c.goFile(rel)
		case strings.HasSuffix(rel, ".js"):
			return c.jsFile(rel)
		case rel == ".ci/run" || strings.HasSuffix(rel, ".sh"):
			scripts = append(scripts, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range scripts {
		if err := c.script(s); err != nil {
			return nil, err
		}
	}
	return c.calls, nil
}

type collector struct {
	root  string
	calls map[string][]string
	seen  map[string]bool
}

func (c *collector) add(cmd, where string) {
	cmd = strings.TrimSpace(cmd)
	if cmd == "" || strings.ContainsAny(cmd, "/$ ") {
		return // a path (the built binary, a tool under .ci/tools) or not a literal
	}
	if !slices.Contains(c.calls[cmd], where) {
		c.calls[cmd] = append(c.calls[cmd], where)
	}
}

// goFile records exec.Command("x", ...), exec.CommandContext(ctx, "x", ...)
// and exec.LookPath("x"); for sh/bash -c the command line is parsed as shell.
func (c *collector) goFile(rel string) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(c.root, rel), nil, 0)
	if err != nil {
		return err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "exec" {
			return true
		}
		first := 0
		switch sel.Sel.Name {
		case "Command", "LookPath":
		case "CommandContext":
			first = 1
		default:
			return true
		}
		if len(call.Args) <= first {
			return true
		}
		args := make([]string, 0, len(call.Args)-first)
		for _, a := range call.Args[first:] {
			args = append(args, goString(a))
		}
		c.add(args[0], rel)
		if (args[0] == "sh" || args[0] == "bash") && len(args) > 2 && args[1] == "-c" {
			c.shellText(args[2], rel)
		}
		return true
	})
	return nil
}

// goString evaluates a string literal or a + of literals; anything else
// becomes "$".
func goString(e ast.Expr) string {
	switch v := e.(type) {
	case *ast.BasicLit:
		if s, err := strconv.Unquote(v.Value); err == nil {
			return s
		}
	case *ast.BinaryExpr:
		if v.Op == token.ADD {
			return goString(v.X) + goString(v.Y)
		}
	}
	return "$"
}

var jsSpawn = regexp.MustCompile(`\bspawn(?:Sync)?\(\s*'([^']+)'`)

func (c *collector) jsFile(rel string) error {
	src, err := os.ReadFile(filepath.Join(c.root, rel))
	if err != nil {
		return err
	}
	for _, m := range jsSpawn.FindAllSubmatch(src, -1) {
		c.add(string(m[1]), rel)
	}
	return nil
}

func (c *collector) script(rel string) error {
	if c.seen[rel] {
		return nil
	}
	c.seen[rel] = true
	src, err := os.ReadFile(filepath.Join(c.root, rel))
	if err != nil {
		return err
	}
	return c.shell(string(src), rel)
}

func (c *collector) shellText(src, where string) {
	_ = c.shell(src, where) // a command line built at run time may not parse; its literal parts were recorded
}

// isWrapper tells the commands that run their arguments as a command.
func isWrapper(name string) bool {
	switch name {
	case "exec", "nohup", "sudo", "as_root", "env", "time":
		return true
	}
	return false
}

func (c *collector) shell(src, where string) error {
	file, err := syntax.NewParser().Parse(strings.NewReader(src), where)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", where, err)
	}
	funcs := map[string]bool{}
	syntax.Walk(file, func(n syntax.Node) bool {
		if f, ok := n.(*syntax.FuncDecl); ok {
			funcs[f.Name.Value] = true
		}
		return true
	})
	syntax.Walk(file, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		words := make([]string, len(call.Args))
		for i, w := range call.Args {
			words[i] = wordText(w)
		}
		for len(words) > 0 {
			name := words[0]
			if name == "command" && len(words) > 1 && strings.HasPrefix(words[1], "-") {
				return true // command -v: a check, not a run
			}
			if isWrapper(name) {
				if name == "sudo" {
					c.add(name, where)
				}
				words = words[1:]
				for len(words) > 0 && (strings.Contains(words[0], "=") || strings.HasPrefix(words[0], "-")) {
					if name == "env" && (words[0] == "-u" || words[0] == "--unset") && len(words) > 1 {
						words = words[1:] // env -u NAME: NAME is not the command
					}
					words = words[1:]
				}
				continue
			}
			if funcs[name] || name == "" {
				return true
			}
			c.add(name, where)
			if (name == "sh" || name == "bash") && len(words) > 2 && words[1] == "-c" {
				c.shellText(words[2], where)
			} else if (name == "sh" || name == "bash") && len(words) > 1 && strings.HasSuffix(words[1], ".sh") {
				if s := c.resolve(words[1]); s != "" {
					_ = c.script(s)
				}
			}
			return true
		}
		return true
	})
	return nil
}

// resolve finds a script named in another script by its path's tail.
func (c *collector) resolve(p string) string {
	p = path.Clean(strings.TrimPrefix(p, "./"))
	for strings.HasPrefix(p, "../") {
		p = strings.TrimPrefix(p, "../")
	}
	if _, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(p))); err == nil {
		return p
	}
	return ""
}

// wordText is a word's literal text, with quotes removed and anything
// expanded at run time written as "$".
func wordText(w *syntax.Word) string {
	var b strings.Builder
	var part func(p syntax.WordPart)
	part = func(p syntax.WordPart) {
		switch v := p.(type) {
		case *syntax.Lit:
			b.WriteString(v.Value)
		case *syntax.SglQuoted:
			b.WriteString(v.Value)
		case *syntax.DblQuoted:
			for _, q := range v.Parts {
				part(q)
			}
		default:
			b.WriteString("$")
		}
	}
	for _, p := range w.Parts {
		part(p)
	}
	return b.String()
}

// uncovered lists, sorted, each command that is neither required by .ci/run,
// nor exempt, nor part of the base system.
func uncovered(calls map[string][]string, required map[string]string, base func(string) bool) []string {
	exempt := notInstalledByCI()
	var out []string
	for cmd, where := range calls {
		if _, ok := required[cmd]; ok {
			continue
		}
		if _, ok := exempt[cmd]; ok {
			continue
		}
		if base(cmd) {
			continue
		}
		sort.Strings(where)
		out = append(out, fmt.Sprintf("%s (%s) is executed but .ci/run does not install it: add \"%s <debian-package>\" to REQUIRED_COMMANDS", cmd, strings.Join(where, ", "), cmd))
	}
	sort.Strings(out)
	return out
}

// debianBase reports whether cmd is a bash builtin or keyword, or a file of
// a Debian package that every Debian system has (Essential: yes or
// Priority: required).
func debianBase(cmd string) bool {
	if out, err := exec.Command("bash", "-c", `type -t "$1"`, "bash", cmd).Output(); err == nil {
		switch strings.TrimSpace(string(out)) {
		case "builtin", "keyword":
			return true
		}
	}
	p, err := exec.LookPath(cmd)
	if err != nil {
		return false
	}
	candidates := []string{p}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		candidates = append(candidates, real)
	}
	for _, c := range slices.Clone(candidates) {
		// Merged /usr: dpkg records /bin/x for what lives at /usr/bin/x.
		if rest, ok := strings.CutPrefix(c, "/usr"); ok {
			candidates = append(candidates, rest)
		} else {
			candidates = append(candidates, "/usr"+c)
		}
	}
	for _, c := range candidates {
		out, err := exec.Command("dpkg", "-S", c).Output()
		if err != nil {
			continue
		}
		pkg, _, ok := strings.Cut(strings.SplitN(string(out), "\n", 2)[0], ":")
		if !ok {
			continue
		}
		info, err := exec.Command("dpkg-query", "-W", "-f=${Essential} ${Priority}", pkg).Output()
		if err != nil {
			continue
		}
		f := strings.Fields(string(info))
		if slices.Contains(f, "yes") || slices.Contains(f, "required") {
			return true
		}
	}
	return false
}
