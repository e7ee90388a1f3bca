package iac

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	tg "github.com/tollgate/tollgate/scanners"
)

// moduleCall is a module block of a Terraform file whose source is a local
// directory.
type moduleCall struct {
	from, to string // directories
	file     string
	rng      hcl.Range
}

// breakModuleCycles makes every Terraform directory of a group reachable
// from a root module. Trivy evaluates root modules only (directories no
// other directory calls as a local module) and the modules they call, so a
// directory that calls itself (`source = "./"`) or a cycle of directories
// that call each other has no root: nothing in it would be checked, and a
// pull request could take a directory out of the gate with one module
// block. Terraform itself refuses such a configuration. For each directory
// no root reaches, the module blocks that call it from inside its cycle are
// blanked (spaces, line breaks kept, so every line stays where it is) in a
// copy of the contents, which makes it a root; a warning names each block.
// The contents are returned as given when every directory is reachable.
func breakModuleCycles(paths []string, contents map[string][]byte) (map[string][]byte, []tg.Notification) {
	dirs := map[string]bool{}
	var calls []moduleCall
	for _, p := range paths {
		lower := strings.ToLower(p)
		if !strings.HasSuffix(lower, ".tf") && !strings.HasSuffix(lower, ".tofu") {
			continue
		}
		dir := path.Dir(p)
		dirs[dir] = true
		found, _ := localModuleCalls(p, contents[p])
		calls = append(calls, found...)
	}
	reached := map[string]bool{}
	var reach func(string)
	reach = func(d string) {
		if reached[d] || !dirs[d] {
			return
		}
		reached[d] = true
		for _, c := range calls {
			if c.from == d {
				reach(c.to)
			}
		}
	}
	called := map[string]bool{}
	for _, c := range calls {
		called[c.to] = true
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for d := range dirs {
			if !yield(d) {
				return
			}
		}
	})
	for _, d := range sorted {
		if !called[d] {
			reach(d)
		}
	}
	var (
		cut   []moduleCall
		notes []tg.Notification
	)
	for _, d := range sorted {
		if reached[d] {
			continue
		}
		// Every call of d comes from a directory no root reaches (one a root
		// reached would have reached d): cut them, and d is a root.
		kept := calls[:0:0]
		for _, c := range calls {
			if c.to == d {
				cut = append(cut, c)
				continue
			}
			kept = append(kept, c)
		}
		calls = kept
		reach(d)
	}
	if len(cut) == 0 {
		return contents, nil
	}
	out := make(map[string][]byte, len(contents))
	for k, v := range contents {
		out[k] = v
	}
	for _, c := range cut {
		b := []byte(string(out[c.file])) // a copy: contents are shared
		for i := c.rng.Start.Byte; i < c.rng.End.Byte && i < len(b); i++ {
			if b[i] != '\n' && b[i] != '\r' {
				b[i] = ' '
			}
		}
		out[c.file] = b
		what := fmt.Sprintf("calls %s, which calls it back", c.to)
		if c.to == c.from {
			what = "calls its own directory"
		}
		notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "terraform-module-cycle", Path: c.file, Line: c.rng.Start.Line,
			Message: fmt.Sprintf("the module block at %s line %d %s: a cycle of local modules has no root module, which Terraform refuses and where Trivy would check nothing; %s was checked as a root module without this call",
				c.file, c.rng.Start.Line, what, c.to)})
	}
	return out, notes
}

// localModuleCalls lists the module blocks of a Terraform file whose
// source is a literal local path ("./x", "../x"), as Trivy's root search
// reads them (the source joined to the file's directory). ok is false when
// the file does not parse or a module's source is not a literal string
// (Trivy cannot follow it either, but a source it evaluates may still join
// two trees); the literal ones are listed all the same.
func localModuleCalls(p string, content []byte) (calls []moduleCall, ok bool) {
	file, diags := hclsyntax.ParseConfig(content, p, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, false
	}
	body, isBody := file.Body.(*hclsyntax.Body)
	if !isBody {
		return nil, false
	}
	dir := path.Dir(p)
	ok = true
	for _, b := range body.Blocks {
		if b.Type != "module" {
			continue
		}
		attr, found := b.Body.Attributes["source"]
		if !found {
			continue
		}
		v, d := attr.Expr.Value(nil)
		if d.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
			ok = false
			continue
		}
		if src := v.AsString(); strings.HasPrefix(src, ".") {
			calls = append(calls, moduleCall{from: dir, to: path.Join(dir, src), file: p, rng: b.Range()})
		}
	}
	return calls, ok
}
