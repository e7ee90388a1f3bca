package iac

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners/checkout"
)

// TestCustomChecksCompileWithoutIO: custom checks are compiled with OPA
// capabilities that leave out every non-deterministic built-in: a check
// that calls http.send, opa.runtime or net.lookup_ip_addr, or that swaps a
// harmless function for one of them with `with ... as` (which the AST
// screen this replaced did not see), is refused with a notification naming
// the file and the built-in; a plain check, and one that uses Trivy's
// libraries, load.
func TestCustomChecksCompileWithoutIO(t *testing.T) {
	dir := t.TempDir()
	checks := map[string]string{
		"send.rego":    "package user.a\ndeny[msg] {\n  resp := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:9/x\"})\n  msg := sprintf(\"%v\", [resp])\n}\n",
		"with.rego":    "package user.b\ndeny[msg] {\n  r := json.marshal({\"method\": \"GET\", \"url\": \"http://127.0.0.1:9/x\"}) with json.marshal as http.send\n  msg := sprintf(\"%v\", [r])\n}\n",
		"runtime.rego": "package user.c\ndeny[msg] {\n  t := time.now_ns() with time.now_ns as opa.runtime\n  msg := sprintf(\"%v\", [t])\n}\n",
		"dns.rego":     "package user.d\ndeny[msg] {\n  ips := net.lookup_ip_addr(\"example.com\")\n  msg := sprintf(\"%v\", [ips])\n}\n",
		"ok.rego":      "package user.e\ndeny[msg] {\n  input.kind == \"Pod\"\n  msg := \"a pod\"\n}\n",
		"lib.rego":     "package user.f\nimport data.lib.kubernetes\ndeny[msg] {\n  c := kubernetes.containers[_]\n  msg := c.name\n}\n",
		"broken.rego":  "package user.g\ndeny[msg] {\n",
	}
	for name, src := range checks {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := checkout.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	in := &inputs{tmp: t.TempDir(), digest: sha256.New()}
	notes, err := in.vetChecks(root, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]string{}
	for _, n := range notes {
		for name := range checks {
			if strings.Contains(n.Message, filepath.Join(dir, name)+" was not loaded") {
				refused[name] = n.Message
			}
		}
	}
	for name, builtin := range map[string]string{"send.rego": "http.send", "with.rego": "http.send", "runtime.rego": "opa.runtime", "dns.rego": "net.lookup_ip_addr", "broken.rego": "does not parse"} {
		if !strings.Contains(refused[name], builtin) {
			t.Errorf("%s: want refused naming %s, got %q", name, builtin, refused[name])
		}
	}
	for _, name := range []string{"ok.rego", "lib.rego"} {
		if msg, ok := refused[name]; ok {
			t.Errorf("%s was refused: %s", name, msg)
		}
	}
	loaded, _ := filepath.Glob(filepath.Join(in.checkDir, "*.rego"))
	if len(loaded) != 2 {
		t.Errorf("%d checks loaded, want 2 (ok.rego, lib.rego): %v", len(loaded), loaded)
	}
}

// TestCustomChecksWithinABudget: a folder of more check files than a scan
// compiles is not loaded, with an error naming the folder and the counts
// (each compile round costs a whole compile, and a folder of bad modules
// took one round each); the embedded checks still apply. One at the limit
// loads.
func TestCustomChecksWithinABudget(t *testing.T) {
	write := func(n int) string {
		dir := t.TempDir()
		for i := range n {
			src := fmt.Sprintf("package user.c%d\ndeny[msg] {\n  input.kind == \"Pod%d\"\n  msg := \"x\"\n}\n", i, i)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("c%d.rego", i)), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	root, err := checkout.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	over := write(maxCustomChecks + 1)
	in := &inputs{tmp: t.TempDir(), digest: sha256.New()}
	notes, err := in.vetChecks(root, []string{over})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Code != "checks-over-budget" || !strings.Contains(notes[0].Message, over) ||
		!strings.Contains(notes[0].Message, fmt.Sprintf("%d files", maxCustomChecks+1)) || in.checkDir != "" {
		t.Errorf("%d check files: notes %+v, check dir %q", maxCustomChecks+1, notes, in.checkDir)
	}
	at := write(maxCustomChecks)
	in = &inputs{tmp: t.TempDir(), digest: sha256.New()}
	if notes, err := in.vetChecks(root, []string{at}); err != nil || len(notes) != 0 || in.checkDir == "" {
		t.Errorf("%d check files: notes %+v, %v", maxCustomChecks, notes, err)
	}
}
