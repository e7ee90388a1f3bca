package iac

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
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

// A scan compiles at most maxCustomChecks custom check files of at most
// maxCustomRules rules in all (Trivy embeds about 560 checks), in at most
// maxCompileRounds rounds: a folder of checks is the pipeline's, but it may
// lie in the checkout, and OPA's compiler takes time with the size of what
// it compiles, again for each round.
const (
	maxCustomChecks  = 1000
	maxCustomRules   = 20000
	maxCompileRounds = 8
)

// vetChecks reads every .rego file under the check paths and compiles them
// together, with Trivy's libraries, against checkCapabilities: a check
// that calls a built-in outside them, or names one in a `with ... as`
// replacement, does not compile and is not loaded (a notification names the
// file and the compiler's error, which names the built-in), nor is one that
// does not parse. The rest are copied into checkDir.
func (in *inputs) vetChecks(root *checkout.Root, paths []string) ([]tg.Notification, error) {
	var notes []tg.Notification
	refuse := func(f string, err error) {
		notes = append(notes, tg.Notification{Level: tg.LevelError, Code: "check-refused",
			Message: fmt.Sprintf("custom check %s was not loaded: %v", f, err)})
	}
	dir := filepath.Join(in.tmp, "checks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("custom checks: %w", err)
	}
	type check struct {
		name string
		src  []byte
		mod  *ast.Module
	}
	var checks []check
	for _, p := range paths {
		files, err := regoFiles(p)
		if err != nil {
			notes = append(notes, tg.Notification{Level: tg.LevelError, Code: "check-refused",
				Message: fmt.Sprintf("custom checks %s were not loaded: %v", p, err)})
			continue
		}
		for _, f := range files {
			b, err := readNamed(root, f)
			if err != nil {
				refuse(f, err)
				continue
			}
			mod, err := rego.ParseRegoModule(f, string(b))
			if err != nil {
				refuse(f, fmt.Errorf("it does not parse: %w", err))
				continue
			}
			checks = append(checks, check{f, b, mod})
		}
	}
	rules, size := 0, 0
	for _, c := range checks {
		rules += len(c.mod.Rules)
		size += len(c.src)
	}
	if len(checks) > maxCustomChecks || rules > maxCustomRules {
		notes = append(notes, tg.Notification{Level: tg.LevelError, Code: "checks-over-budget",
			Message: fmt.Sprintf("the custom checks (%s) were not loaded: %d files of %d rules (%d bytes), more than the %d files or %d rules a scan compiles; Trivy's embedded checks still apply",
				strings.Join(paths, ", "), len(checks), rules, size, maxCustomChecks, maxCustomRules)})
		return notes, nil
	}
	libs, err := rego.LoadEmbeddedLibraries()
	if err != nil {
		return nil, fmt.Errorf("Trivy's Rego libraries: %w", err)
	}
	// Compile what is left until it compiles: a module the compiler names in
	// an error is refused with that error, and the others compiled again,
	// for at most maxCompileRounds rounds (each costs a whole compile).
	for round := 0; len(checks) > 0; round++ {
		if round == maxCompileRounds {
			for _, c := range checks {
				refuse(c.name, fmt.Errorf("the custom checks still did not compile after %d rounds of leaving out the modules the compiler named", maxCompileRounds))
			}
			checks = nil
			break
		}
		modules := maps.Clone(libs)
		for _, c := range checks {
			modules[c.name] = c.mod
		}
		compiler := ast.NewCompiler().WithCapabilities(checkCapabilities())
		compiler.SetErrorLimit(0)
		compiler.Compile(modules)
		if !compiler.Failed() {
			break
		}
		bad := map[string][]string{}
		for _, e := range compiler.Errors {
			file := ""
			if e.Location != nil {
				file = e.Location.File
			}
			bad[file] = append(bad[file], e.Message)
		}
		kept := checks[:0]
		for _, c := range checks {
			if msgs, ok := bad[c.name]; ok {
				why := "it does not compile with the built-ins a custom check may use (none that reaches the network or the environment, or is random)"
				if names := excludedBuiltins(c.mod); len(names) > 0 {
					why = fmt.Sprintf("it uses %s, which a custom check may not (no network, no environment, nothing random): OPA's compiler refuses it", strings.Join(names, ", "))
				}
				refuse(c.name, fmt.Errorf("%s: %s", why, strings.Join(msgs, "; ")))
				continue
			}
			kept = append(kept, c)
		}
		if len(kept) == len(checks) { // an error in no custom check: refuse them all
			for _, c := range checks {
				refuse(c.name, fmt.Errorf("the checks do not compile together: %v", compiler.Errors))
			}
			kept = nil
		}
		checks = kept
	}
	for i, c := range checks {
		in.record("check", c.name, c.src)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("check-%04d.rego", i+1)), c.src, 0o600); err != nil {
			return nil, fmt.Errorf("custom check %s: %w", c.name, err)
		}
	}
	if len(checks) > 0 {
		in.checkDir = dir
	}
	return notes, nil
}

// excludedBuiltins names the built-ins outside checkCapabilities that a
// module refers to (called, or named in a `with`), for the message: the
// compiler is what refuses them.
func excludedBuiltins(mod *ast.Module) []string {
	allowed := map[string]bool{}
	for _, b := range checkCapabilities().Builtins {
		allowed[b.Name] = true
	}
	found := map[string]bool{}
	ast.WalkRefs(mod, func(r ast.Ref) bool {
		name := r.String()
		if _, builtin := ast.BuiltinMap[name]; builtin && !allowed[name] {
			found[name] = true
		}
		return false
	})
	out := make([]string, 0, len(found))
	for n := range found {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// checkCapabilities are the OPA built-ins a custom check may use: this
// OPA's, less every one OPA marks non-deterministic (http.send,
// net.lookup_ip_addr, opa.runtime, rand.intn, uuid.rfc4122, the JWT
// signers) but the clock (time.now_ns: Trivy's own libraries read it, to
// compare certificate and key expiry dates): a check is code that computes
// over the configuration it is given, and never sends a request or reads
// the process's environment, where the pipeline's credentials are. OPA's
// compiler refuses a call of any other, and a `with` that replaces a
// function by one.
func checkCapabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	kept := c.Builtins[:0]
	for _, b := range c.Builtins {
		if !b.Nondeterministic || b.Name == ast.NowNanos.Name {
			kept = append(kept, b)
		}
	}
	c.Builtins = kept
	c.AllowNet = []string{}
	return c
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
