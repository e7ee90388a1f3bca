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
	"regexp"
	"slices"
	"strings"
	"text/template/parse"

	helmparser "github.com/aquasecurity/trivy/pkg/iac/scanners/helm/parser"
	"github.com/aquasecurity/trivy/pkg/mapfs"
	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/internal/yamlnode"
	tg "github.com/tollgate/tollgate/scanners"
)

// renderableCharts renders each chart the way Trivy's Helm scanner will
// and leaves out the ones that fail, with a notification naming the chart
// and the cause: Trivy itself only logs "Skipping chart". Only a cancelled
// context is an error.
//
// A chart whose declared dependencies are not in its charts/ folder (they
// are almost never committed: `helm dependency build` fetches them) is
// rendered without them: its own templates are checked, and a warning names
// the dependencies whose templates were not. The returned contents then
// hold the chart's Chart.yaml (or requirements.yaml) without those entries,
// their lines blanked so that every other line keeps its number (nil:
// nothing was changed).
func (s *Engine) renderableCharts(ctx context.Context, in *inputs, fsys fs.FS, contents map[string][]byte, paths []string, res *tg.Result) ([]string, map[string][]byte, error) {
	charts := helmCharts(paths)
	failed := map[string]bool{}
	var patched map[string][]byte
	for _, dir := range slices.Sorted(maps.Keys(charts)) {
		if tg.UnderDir(dir, charts) {
			continue // a subchart renders with its parent
		}
		if file, line := selfRendering(contents, paths, dir); file != "" {
			failed[dir] = true
			res.Status.Add(tg.Notification{Level: tg.LevelWarning, Code: "helm-render", Path: file, Line: line,
				Message: fmt.Sprintf("Helm chart %s was not rendered, so its checks did not run: %s line %d calls tpl from text that templates read (a value or a file), which can render itself without end (Helm sets no limit on tpl; such a chart overflowed Go's stack and ended the scan)", dir, file, line)})
			continue
		}
		p, err := helmparser.New(helmparser.OptionWithValuesFile(in.helmValues...))
		if err == nil {
			_, err = p.ParseFS(ctx, fsys, dir)
		}
		from := patched
		if from == nil {
			from = contents
		}
		var next map[string][]byte
		var notes []tg.Notification
		if missing := missingDependencies(err); len(missing) > 0 && ctx.Err() == nil {
			nd, off, perr := withoutDependencies(from, dir, missing)
			var lint *tg.Notification
			if perr == nil {
				if perr = s.renderAlone(ctx, in, nd, paths, dir); stoppedOnValue(perr) && ctx.Err() == nil {
					nd, lint, perr = s.lintMode(ctx, in, nd, paths, dir, perr)
				}
			}
			if perr == nil {
				next, err = nd, nil
				notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "helm-dependency-missing", Path: path.Join(dir, "Chart.yaml"),
					Message: fmt.Sprintf("Helm chart %s declares dependencies that are not in its charts/ folder (%s; `helm dependency build` fetches them): the chart was rendered without them%s, so their templates were not checked", dir, strings.Join(missing, ", "), offText(off))})
				if lint != nil {
					notes = append(notes, *lint)
				}
			} else {
				err = fmt.Errorf("%w (and without those dependencies: %v)", err, perr)
			}
		} else if stoppedOnValue(err) && ctx.Err() == nil {
			if nd, lint, lerr := s.lintMode(ctx, in, from, paths, dir, err); lerr == nil {
				next, err = nd, nil
				notes = append(notes, *lint)
			} else {
				err = lerr
			}
		}
		if err == nil && next != nil {
			patched = next
			for _, n := range notes {
				res.Status.Add(n)
			}
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
			return nil, nil, ctx.Err()
		}
		failed[dir] = true
		res.Status.Add(tg.Notification{Level: tg.LevelWarning, Code: "helm-render", Path: path.Join(dir, "Chart.yaml"),
			Message: fmt.Sprintf("Helm chart %s could not be rendered, so its checks did not run: %v", dir, err)})
	}
	if len(failed) == 0 {
		return paths, patched, nil
	}
	kept := paths[:0:0]
	for _, p := range paths {
		if !tg.UnderDir(p, failed) {
			kept = append(kept, p)
		}
	}
	return kept, patched, nil
}

// renderAlone renders one chart from contents, its files only.
func (s *Engine) renderAlone(ctx context.Context, in *inputs, contents map[string][]byte, paths []string, dir string) error {
	var mine []string
	for _, p := range paths {
		if strings.HasPrefix(p, dir+"/") {
			mine = append(mine, p)
		}
	}
	fsys, err := buildFS(contents, mine)
	if err != nil {
		return err
	}
	p, err := helmparser.New(helmparser.OptionWithValuesFile(in.helmValues...))
	if err != nil {
		return err
	}
	_, err = p.ParseFS(ctx, fsys, dir)
	return err
}

// missingPrefix starts Helm's error for declared dependencies that are not
// in charts/ (action.CheckDependencies), which Trivy's parser returns.
const missingPrefix = "found in Chart.yaml, but missing in charts/ directory: "

// missingDependencies are the dependency names of that error (nil for any
// other error).
func missingDependencies(err error) []string {
	if err == nil {
		return nil
	}
	msg := err.Error()
	i := strings.Index(msg, missingPrefix)
	if i < 0 {
		return nil
	}
	var out []string
	for n := range strings.SplitSeq(msg[i+len(missingPrefix):], ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// withoutDependencies returns a copy of contents in which the chart at dir
// declares none of the named dependencies: their entries of Chart.yaml's
// (or, for apiVersion v1, requirements.yaml's) dependencies list are
// blanked line by line, and the conditions of those entries are turned off
// in its values.yaml (the paths it turned off are returned).
func withoutDependencies(contents map[string][]byte, dir string, names []string) (map[string][]byte, []string, error) {
	out := maps.Clone(contents)
	dropped := 0
	var conditions []string
	for _, name := range []string{"Chart.yaml", "requirements.yaml"} {
		p := path.Join(dir, name)
		b, ok := contents[p]
		if !ok {
			continue
		}
		nb, n, conds, err := blankDependencies(b, names)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		out[p] = nb
		dropped += n
		conditions = append(conditions, conds...)
	}
	if dropped == 0 {
		return nil, nil, fmt.Errorf("no dependency entry of %s found to leave out", strings.Join(names, ", "))
	}
	// A dependency that is not there is off: the values that would turn it
	// on (its condition) are set to false in the chart's values.yaml, so
	// that the chart's own templates that go with it are left out as Helm
	// leaves them out when it is disabled.
	vp := path.Join(dir, "values.yaml")
	if b, ok := out[vp]; ok && len(conditions) > 0 {
		nb, off := disableConditions(b, conditions)
		out[vp] = nb
		return out, off, nil
	}
	return out, nil, nil
}

// disableConditions rewrites, in place, each condition path of values
// that is true into false (same line, so every line keeps its number),
// and lists the paths it turned off.
func disableConditions(b []byte, conditions []string) ([]byte, []string) {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return b, nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	var off []string
	for _, c := range conditions {
		node := doc.Content[0]
		for _, key := range strings.Split(c, ".") {
			node = yamlnode.Get(node, key)
			if node == nil {
				break
			}
		}
		if node == nil || node.Kind != yaml.ScalarNode || node.Tag != "!!bool" || node.Line < 1 || node.Line > len(lines) {
			continue
		}
		var v bool
		if node.Decode(&v) != nil || !v {
			continue
		}
		l := lines[node.Line-1]
		col := node.Column - 1
		if col < 0 || col+len(node.Value) > len(l) || l[col:col+len(node.Value)] != node.Value {
			continue
		}
		lines[node.Line-1] = l[:col] + "false" + l[col+len(node.Value):]
		off = append(off, c)
	}
	return []byte(strings.Join(lines, "")), off
}

// blankDependencies blanks the lines of the entries of a top-level
// dependencies list (block style) whose name is one of names, and says
// how many it blanked.
func blankDependencies(b []byte, names []string) ([]byte, int, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, 0, nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return b, 0, nil, nil
	}
	var conditions []string
	top := doc.Content[0]
	lines := strings.SplitAfter(string(b), "\n")
	dropped := 0
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "dependencies" || top.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		seq := top.Content[i+1]
		if seq.Style&yaml.FlowStyle != 0 {
			return nil, 0, nil, errors.New("a dependencies list in flow style")
		}
		// The list ends where the next top-level key starts (or at the end).
		end := len(lines) + 1
		if i+2 < len(top.Content) {
			end = top.Content[i+2].Line
		}
		for j, item := range seq.Content {
			var dep struct {
				Name      string `yaml:"name"`
				Condition string `yaml:"condition"`
			}
			if item.Decode(&dep) != nil || !slices.Contains(names, dep.Name) {
				continue
			}
			last := end - 1
			if j+1 < len(seq.Content) {
				last = seq.Content[j+1].Line - 1
			}
			// The item's "- " sits on its first line, before the node's column.
			for l := item.Line; l <= last && l-1 < len(lines); l++ {
				lines[l-1] = blankLine(lines[l-1])
			}
			dropped++
			for c := range strings.SplitSeq(dep.Condition, ",") {
				if c = strings.TrimSpace(c); c != "" {
					conditions = append(conditions, c)
				}
			}
		}
	}
	return []byte(strings.Join(lines, "")), dropped, conditions, nil
}

// blankLine keeps a line's break and drops the rest.
func blankLine(l string) string {
	if strings.HasSuffix(l, "\r\n") {
		return "\r\n"
	}
	if strings.HasSuffix(l, "\n") {
		return "\n"
	}
	return ""
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

// offText says which values were turned off to render a chart.
func offText(off []string) string {
	if len(off) == 0 {
		return ""
	}
	return " and with " + strings.Join(off, "=false, ") + "=false"
}

// tplInText finds a tpl call inside a {{ }} action of text.
var tplInText = regexp.MustCompile(`\{\{[^}]*\btpl\b`)

// selfRendering finds, in the chart at dir, a file that templates read as
// text (its values, a file for .Files.Get: everything outside templates/)
// whose own template text calls tpl: tpl renders a string with the chart's
// engine, so a value that calls tpl on itself recurses without end. It
// returns the file and line, or "".
func selfRendering(contents map[string][]byte, paths []string, dir string) (string, int) {
	for _, p := range paths {
		if !tg.UnderDir(p, map[string]bool{dir: true}) || inTemplates(dir, p) {
			continue
		}
		b := contents[p]
		if loc := tplInText.FindIndex(b); loc != nil {
			return p, 1 + bytes.Count(b[:loc[0]], []byte("\n"))
		}
	}
	return "", 0
}
