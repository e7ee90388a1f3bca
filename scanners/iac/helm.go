package iac

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"text/template/parse"

	helmparser "github.com/aquasecurity/trivy/pkg/iac/scanners/helm/parser"
	"github.com/aquasecurity/trivy/pkg/mapfs"

	tg "github.com/tollgate/tollgate/scanners"
)

// renderableCharts renders each chart the way Trivy's Helm scanner will
// and leaves out the ones that fail, with a notification naming the chart
// and the cause: Trivy itself only logs "Skipping chart". Only a cancelled
// context is an error.
func (s *Engine) renderableCharts(ctx context.Context, in *inputs, fsys fs.FS, paths []string, res *tg.Result) ([]string, error) {
	charts := helmCharts(paths)
	failed := map[string]bool{}
	for _, dir := range slices.Sorted(maps.Keys(charts)) {
		if tg.UnderDir(dir, charts) {
			continue // a subchart renders with its parent
		}
		p, err := helmparser.New(helmparser.OptionWithValuesFile(in.helmValues...))
		if err == nil {
			_, err = p.ParseFS(ctx, fsys, dir)
		}
		if err == nil {
			if calls := lookupCalls(fsys, dir); len(calls) > 0 {
				if len(calls) > 10 {
					calls = append(calls[:10], fmt.Sprintf("and %d more", len(calls)-10))
				}
				res.Status.Add(tg.Notification{Level: tg.LevelWarning, Code: "helm-lookup", Path: path.Join(dir, "Chart.yaml"),
					Message: fmt.Sprintf("Helm chart %s calls lookup (%s): offline, lookup finds nothing in a cluster, so the parts of its templates that depend on what the cluster holds were not rendered and not checked", dir, strings.Join(calls, ", "))})
			}
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		failed[dir] = true
		res.Status.Add(tg.Notification{Level: tg.LevelWarning, Code: "helm-render", Path: path.Join(dir, "Chart.yaml"),
			Message: fmt.Sprintf("Helm chart %s could not be rendered, so its checks did not run: %v", dir, err)})
	}
	if len(failed) == 0 {
		return paths, nil
	}
	kept := paths[:0:0]
	for _, p := range paths {
		if !tg.UnderDir(p, failed) {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// valueFilesFS serves the value files Tollgate read (readInputs) under
// the names they were given, the way Trivy's misconf package serves files
// it reads itself; it returns the names in the order given (later files
// override earlier ones).
func valueFilesFS(files valueFiles) (fs.FS, []string, error) {
	mfs := mapfs.New()
	names := files.names
	for _, p := range names {
		if err := mfs.MkdirAll(filepath.Dir(p), 0o700); err != nil && !isExist(err) {
			return nil, nil, fmt.Errorf("value file %s: %w", p, err)
		}
		if err := mfs.WriteVirtualFile(p, files.content[p], 0o600); err != nil {
			return nil, nil, fmt.Errorf("value file %s: %w", p, err)
		}
	}
	return mfs, names, nil
}

func isExist(err error) bool { return errors.Is(err, fs.ErrExist) }

// lookupCalls finds the templates of the chart in dir (its subcharts too)
// that call Helm's lookup function, as "path:line" in file order. Offline,
// lookup returns an empty map, so a branch that depends on what is in the
// cluster is never rendered and never checked. Templates are parsed with
// Go's text/template parser (as Helm parses them), function names
// unchecked; a template that does not parse is Helm's to report.
func lookupCalls(fsys fs.FS, dir string) []string {
	var out []string
	_ = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !inTemplates(dir, p) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil || !bytes.Contains(b, []byte("lookup")) {
			return nil
		}
		t := parse.New(p)
		t.Mode = parse.SkipFuncCheck | parse.ParseComments
		trees := map[string]*parse.Tree{}
		if _, err := t.Parse(string(b), "{{", "}}", trees); err != nil {
			return nil
		}
		lines := map[int]bool{}
		for _, tr := range trees {
			walkTemplate(tr.Root, func(n parse.Node) {
				if id, ok := n.(*parse.IdentifierNode); ok && id.Ident == "lookup" {
					lines[1+strings.Count(string(b[:min(int(id.Pos), len(b))]), "\n")] = true
				}
			})
		}
		for _, l := range slices.Sorted(maps.Keys(lines)) {
			out = append(out, fmt.Sprintf("%s:%d", p, l))
		}
		return nil
	})
	return out
}

// inTemplates tells whether p is a file of a templates folder of the chart
// in dir or of one of its subcharts.
func inTemplates(dir, p string) bool {
	rel := strings.TrimPrefix(p, dir+"/")
	if dir == "." {
		rel = p
	}
	return strings.HasPrefix(rel, "templates/") || strings.Contains(rel, "/templates/")
}

// walkTemplate calls fn for every node of a template's parse tree.
func walkTemplate(n parse.Node, fn func(parse.Node)) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return
	}
	fn(n)
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			walkTemplate(c, fn)
		}
	case *parse.ActionNode:
		walkTemplate(n.Pipe, fn)
	case *parse.PipeNode:
		for _, c := range n.Cmds {
			walkTemplate(c, fn)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkTemplate(a, fn)
		}
	case *parse.ChainNode:
		walkTemplate(n.Node, fn)
	case *parse.IfNode:
		walkTemplate(n.Pipe, fn)
		walkTemplate(n.List, fn)
		walkTemplate(n.ElseList, fn)
	case *parse.RangeNode:
		walkTemplate(n.Pipe, fn)
		walkTemplate(n.List, fn)
		walkTemplate(n.ElseList, fn)
	case *parse.WithNode:
		walkTemplate(n.Pipe, fn)
		walkTemplate(n.List, fn)
		walkTemplate(n.ElseList, fn)
	case *parse.TemplateNode:
		walkTemplate(n.Pipe, fn)
	}
}
