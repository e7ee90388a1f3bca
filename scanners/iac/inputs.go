package iac

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/open-policy-agent/opa/v1/ast"

	tg "github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
)

// maxInputFile bounds a value file or a custom check.
const maxInputFile = 16 << 20

// inputs are the files a scan's options name, read once before Trivy runs:
// value files and custom checks. A file in the checkout is read through its
// confined reader (the checkout is the pull request's: a value file there
// may be a link to a host file, a FIFO, or /dev/zero); one elsewhere, as the
// pipeline author named it. Trivy then only ever reads Tollgate's copies.
type inputs struct {
	tfVars, cfParams valueFiles
	// helmValues are private copies of the Helm values files, in order.
	helmValues []string
	// checkDir holds the custom checks that passed vetting ("" when none).
	checkDir string
	tmp      string
	// digest covers every input as read (kind, name, bytes), in order: with
	// the options it names the rules and values a scan ran with.
	digest hash.Hash
}

// record adds an input to the digest.
func (in *inputs) record(kind, name string, b []byte) {
	fmt.Fprintf(in.digest, "%s %q %d:", kind, name, len(b))
	in.digest.Write(b)
}

// readInputs reads the value files and vets the custom checks. Every file
// that is refused is a notification naming it; the scan goes on without it.
func (s *Engine) readInputs(t *tg.Target) (*inputs, []tg.Notification, error) {
	in := &inputs{digest: sha256.New()}
	var notes []tg.Notification
	refuse := func(kind, p string, err error) {
		notes = append(notes, tg.Notification{Level: tg.LevelError, Code: "input-refused",
			Message: fmt.Sprintf("%s %s was not read: %v", kind, p, err)})
	}
	for _, p := range s.opts.TFVars {
		if b, err := readNamed(t.Checkout(), p); err != nil {
			refuse("Terraform variables file", p, err)
		} else {
			in.tfVars.add(p, b)
			in.record("tfvars", p, b)
		}
	}
	for _, p := range s.opts.CFParams {
		if b, err := readNamed(t.Checkout(), p); err != nil {
			refuse("CloudFormation parameters file", p, err)
		} else {
			in.cfParams.add(p, b)
			in.record("cf-params", p, b)
		}
	}
	needTmp := len(s.opts.HelmValueFiles) > 0 || len(s.opts.CheckPaths) > 0
	if needTmp {
		tmp, err := os.MkdirTemp("", "tollgate-iac-")
		if err != nil {
			return nil, nil, fmt.Errorf("temporary directory: %w", err)
		}
		in.tmp = tmp
	}
	for i, p := range s.opts.HelmValueFiles {
		b, err := readNamed(t.Checkout(), p)
		if err != nil {
			refuse("Helm values file", p, err)
			continue
		}
		in.record("helm-values", p, b)
		cp := filepath.Join(in.tmp, fmt.Sprintf("values-%d.yaml", i))
		if err := os.WriteFile(cp, b, 0o600); err != nil {
			in.close()
			return nil, nil, fmt.Errorf("Helm values file %s: %w", p, err)
		}
		in.helmValues = append(in.helmValues, cp)
	}
	if len(s.opts.CheckPaths) > 0 {
		checkNotes, err := in.vetChecks(t.Checkout(), s.opts.CheckPaths)
		if err != nil {
			in.close()
			return nil, nil, err
		}
		notes = append(notes, checkNotes...)
	}
	return in, notes, nil
}

// valueFiles are value files in the order given, with their contents.
type valueFiles struct {
	names   []string
	content map[string][]byte
}

func (v *valueFiles) add(name string, b []byte) {
	if v.content == nil {
		v.content = map[string][]byte{}
	}
	if _, dup := v.content[name]; !dup {
		v.names = append(v.names, name)
	}
	v.content[name] = b
}

func (in *inputs) close() {
	if in != nil && in.tmp != "" {
		_ = os.RemoveAll(in.tmp)
	}
}

// readNamed reads a file named by an option: through the checkout's
// confined reader when it lies in the checkout, else as named.
func readNamed(root *checkout.Root, p string) ([]byte, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	if rel, err := root.Rel(abs, ""); err == nil {
		return root.ReadFile(rel, maxInputFile)
	}
	return checkout.ReadTrusted(abs, maxInputFile)
}

// forbiddenBuiltins are the OPA built-in functions that reach the network or
// the process environment. A custom check is code: it may compute anything
// over the configuration it is given, but it never sends a request (Trivy
// compiles checks with every built-in, http.send included) and never reads
// the environment, where the pipeline's credentials are. The net.cidr_*
// functions are pure computation and stay available.
func forbiddenBuiltins() []string {
	return []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}
}

// vetChecks reads every .rego file under the check paths, refuses the ones
// that call a forbidden built-in (a notification naming the check and the
// built-in) or do not parse, and copies the rest into checkDir.
func (in *inputs) vetChecks(root *checkout.Root, paths []string) ([]tg.Notification, error) {
	var notes []tg.Notification
	dir := filepath.Join(in.tmp, "checks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("custom checks: %w", err)
	}
	n := 0
	for _, p := range paths {
		files, err := regoFiles(p)
		if err != nil {
			notes = append(notes, tg.Notification{Level: tg.LevelError, Code: "check-refused",
				Message: fmt.Sprintf("custom checks %s were not loaded: %v", p, err)})
			continue
		}
		for _, f := range files {
			b, err := readNamed(root, f)
			if err == nil {
				err = vetModule(f, b)
			}
			if err != nil {
				notes = append(notes, tg.Notification{Level: tg.LevelError, Code: "check-refused",
					Message: fmt.Sprintf("custom check %s was not loaded: %v", f, err)})
				continue
			}
			n++
			in.record("check", f, b)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("check-%04d.rego", n)), b, 0o600); err != nil {
				return nil, fmt.Errorf("custom check %s: %w", f, err)
			}
		}
	}
	if n > 0 {
		in.checkDir = dir
	}
	return notes, nil
}

// regoFiles lists the .rego files a check path names (a file, or a
// directory walked without following links), tests left out as Trivy does.
func regoFiles(p string) ([]string, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if fi.Mode().IsRegular() {
		return []string{p}, nil
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("not a file or directory")
	}
	var out []string
	err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(f, ".rego") && !strings.HasSuffix(f, "_test.rego") {
			out = append(out, f)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// vetModule parses a check as Trivy will and names the first forbidden
// built-in it calls.
func vetModule(name string, src []byte) error {
	mod, err := rego.ParseRegoModule(name, string(src))
	if err != nil {
		return fmt.Errorf("it does not parse: %w", err)
	}
	if used := forbiddenCalls(mod); len(used) > 0 {
		return fmt.Errorf("it calls %s, which custom checks may not use (no network, no environment)", strings.Join(used, ", "))
	}
	return nil
}

// forbiddenCalls lists the forbidden built-ins a module calls, sorted.
func forbiddenCalls(mod *ast.Module) []string {
	forbidden := forbiddenBuiltins()
	found := map[string]bool{}
	check := func(op ast.Ref) {
		name := op.String()
		if slices.Contains(forbidden, name) {
			found[name] = true
		}
	}
	ast.WalkExprs(mod, func(e *ast.Expr) bool {
		if e.IsCall() {
			check(e.Operator())
		}
		return false
	})
	ast.WalkTerms(mod, func(t *ast.Term) bool {
		if c, ok := t.Value.(ast.Call); ok && len(c) > 0 {
			if ref, ok := c[0].Value.(ast.Ref); ok {
				check(ref)
			}
		}
		return false
	})
	out := make([]string, 0, len(found))
	for name := range found {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
