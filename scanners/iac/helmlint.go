package iac

import (
	"context"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"

	"go.yaml.in/yaml/v3"

	tg "github.com/tollgate/tollgate/scanners"
)

// A chart may stop on `required` or `fail` for a value it leaves to the
// deployment (a password, the name of an existing secret): rendered with
// its own values only, such a chart fails and none of it is checked.
// `helm lint` renders it in lint mode, where required gives an empty value
// and fail does not stop. Trivy's Helm parser takes no engine options, so
// lint mode is given to it the way the missing dependencies are
// (withoutDependencies): in the contents it reads, each call that stopped
// the chart is written as the lint-mode function it stands for, on the
// same line, and the chart is rendered again.
//
//   - required MSG VAL (or VAL | required MSG) becomes and MSG VAL: MSG is
//     not empty, so it gives VAL, present or not, and never stops;
//   - fail MSG becomes and "" MSG: empty, as lint mode's fail gives.

// maxLenient bounds the renderings of one chart in lint mode: one per
// call that stops it.
const maxLenient = 16

// execFailure matches Helm's error for a template that stopped on required
// or fail: "execution error at (chart/templates/x.yaml:3:4): message".
var execFailure = regexp.MustCompile(`execution error at \(([^():]+):(\d+)(?::\d+)?\): ((?s).*)`)

// stopCall is one call of required or fail in a chart's templates.
type stopCall struct {
	file    string // the template's path in the tree
	offset  int    // of the function name in the file
	line    int
	fn      string   // required or fail
	message string   // its literal message ("" if not a literal)
	value   string   // for required, the expression it requires
	keys    []string // and its path in the chart's values, when it is one
}

// stopped is a call that stopped a chart, as the notification names it.
type stopped struct {
	file, fn, message, value string
	line                     int
}

// stopCalls finds the calls of required and fail in the chart's templates
// (its committed subcharts' too), in file order. A template that does not
// parse is Helm's to report.
func stopCalls(contents map[string][]byte, paths []string, dir string) []stopCall {
	var out []stopCall
	for _, p := range paths {
		b := contents[p]
		if !strings.HasPrefix(p, dir+"/") || !inTemplates(dir, p) ||
			!strings.Contains(string(b), "required") && !strings.Contains(string(b), "fail") {
			continue
		}
		t := parse.New(p)
		t.Mode = parse.SkipFuncCheck | parse.ParseComments
		trees := map[string]*parse.Tree{}
		if _, err := t.Parse(string(b), "{{", "}}", trees); err != nil {
			continue
		}
		var calls []stopCall
		for _, tr := range trees {
			walkTemplate(tr.Root, func(n parse.Node) {
				pipe, ok := n.(*parse.PipeNode)
				if !ok {
					return
				}
				for i, cmd := range pipe.Cmds {
					if c, ok := stopCallOf(cmd, i, pipe); ok {
						c.file = p
						c.line = 1 + strings.Count(string(b[:min(c.offset, len(b))]), "\n")
						calls = append(calls, c)
					}
				}
			})
		}
		slices.SortFunc(calls, func(a, b stopCall) int { return a.offset - b.offset })
		out = append(out, calls...)
	}
	return out
}

// stopCallOf reads the i-th command of pipe as a call of required or fail.
func stopCallOf(cmd *parse.CommandNode, i int, pipe *parse.PipeNode) (stopCall, bool) {
	if len(cmd.Args) == 0 {
		return stopCall{}, false
	}
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok || id.Ident != "required" && id.Ident != "fail" {
		return stopCall{}, false
	}
	c := stopCall{offset: int(id.Pos), fn: id.Ident}
	if len(cmd.Args) > 1 {
		c.message = literal(cmd.Args[1])
	}
	if c.fn == "required" {
		var v parse.Node
		switch {
		case len(cmd.Args) > 2:
			v = cmd.Args[2]
		case i > 0 && len(pipe.Cmds[i-1].Args) == 1:
			v = pipe.Cmds[i-1].Args[0]
		case i > 0:
			v = pipe.Cmds[i-1]
		}
		if v != nil {
			c.value, c.keys = v.String(), valuesPath(v)
		}
	}
	return c, true
}

// valuesPath is the path in .Values that .Values.a.b or $.Values.a.b
// reads (nil for any other expression).
func valuesPath(n parse.Node) []string {
	var ids []string
	switch n := n.(type) {
	case *parse.FieldNode:
		ids = n.Ident
	case *parse.VariableNode:
		if len(n.Ident) > 0 && n.Ident[0] == "$" {
			ids = n.Ident[1:]
		}
	}
	if len(ids) < 2 || ids[0] != "Values" {
		return nil
	}
	return slices.Clone(ids[1:])
}

// literal is the text of a string constant, or of printf with a constant
// alone ("" for anything else).
func literal(n parse.Node) string {
	switch n := n.(type) {
	case *parse.StringNode:
		return n.Text
	case *parse.PipeNode:
		if len(n.Cmds) == 1 && len(n.Cmds[0].Args) == 2 {
			if id, ok := n.Cmds[0].Args[0].(*parse.IdentifierNode); ok && id.Ident == "printf" {
				if s, ok := n.Cmds[0].Args[1].(*parse.StringNode); ok && !strings.Contains(s.Text, "%") {
					return s.Text
				}
			}
		}
	}
	return ""
}

// lenient returns contents in which the calls are written as their
// lint-mode functions (see above), each line kept.
func lenient(contents map[string][]byte, calls []stopCall) map[string][]byte {
	out := maps.Clone(contents)
	byFile := map[string][]stopCall{}
	for _, c := range calls {
		byFile[c.file] = append(byFile[c.file], c)
	}
	for file, cs := range byFile {
		b := string(out[file])
		slices.SortFunc(cs, func(a, b stopCall) int { return b.offset - a.offset })
		for _, c := range cs {
			if !strings.HasPrefix(b[c.offset:], c.fn) {
				continue
			}
			with := "and"
			if c.fn == "fail" {
				with = `and ""`
			}
			b = b[:c.offset] + with + b[c.offset+len(c.fn):]
		}
		out[file] = []byte(b)
	}
	return out
}

// renderLenient renders the chart at dir again, from contents, after it
// stopped with err, each call that stops it made lenient in turn: the call
// whose message is the error's (a call inside a helper stops the template
// that includes it, so the error's place is the include), else the calls
// at the error's place. It returns the contents that render and the calls
// that stopped the chart, or the error that is left.
func (s *Engine) renderLenient(ctx context.Context, in *inputs, contents map[string][]byte, paths []string, dir string, err error) (map[string][]byte, []stopped, error) {
	var out []stopped
	for range maxLenient {
		// Read again each time: a call written as its lint-mode function
		// is no longer one, and the offsets after it moved.
		calls := stopCalls(contents, paths, dir)
		m := execFailure.FindStringSubmatch(err.Error())
		if m == nil || ctx.Err() != nil {
			return nil, nil, err
		}
		msg := strings.TrimSpace(m[3])
		file := m[1]
		if _, rest, ok := strings.Cut(file, "/"); ok {
			file = path.Join(dir, rest) // Helm names a template by its chart's name
		}
		line, _ := strconv.Atoi(m[2])
		var pick []stopCall
		for _, c := range calls {
			if c.message != "" && c.message == msg {
				pick = append(pick, c)
			}
		}
		if len(pick) == 0 {
			for _, c := range calls {
				if c.file == file && c.line == line {
					pick = append(pick, c)
				}
			}
		}
		if len(pick) == 0 {
			return nil, nil, err
		}
		st := stopped{file: file, line: line, message: msg}
		if len(pick) == 1 {
			st.file, st.line, st.fn, st.value = pick[0].file, pick[0].line, pick[0].fn, pick[0].value
		}
		out = append(out, st)
		contents = lenient(contents, pick)
		for _, c := range pick {
			vp := path.Join(c.file[:max(strings.LastIndex(c.file, "/templates/"), 0)], "values.yaml")
			if b, ok := contents[vp]; ok && len(c.keys) > 0 {
				if nb, ok := emptyValue(b, c.keys); ok {
					contents[vp] = nb
				}
			}
		}
		if err = s.renderAlone(ctx, in, contents, paths, dir); err == nil {
			return contents, out, nil
		}
	}
	return nil, nil, fmt.Errorf("%w (after %d calls of required or fail let through)", err, maxLenient)
}

// emptyValue sets the value at keys of a values file to "" where it is
// not given (absent or null), as lint mode's required gives it: the
// template that requires it is not the only one that reads it, and one
// that passes it to a string function (tpl, b64enc) stops on nothing. A
// null on a line becomes "" on that line; an absent key is written on a
// line of its own above the first key of the deepest mapping that is
// there. It says whether it changed anything.
func emptyValue(b []byte, keys []string) ([]byte, bool) {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return b, false
	}
	lines := strings.SplitAfter(string(b), "\n")
	node := doc.Content[0]
	for i, k := range keys {
		if node.Kind != yaml.MappingNode || node.Style&yaml.FlowStyle != 0 || len(node.Content) == 0 {
			return b, false
		}
		var key, val *yaml.Node
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == k {
				key, val = node.Content[j], node.Content[j+1]
			}
		}
		if key == nil {
			first := node.Content[0]
			l := lines[first.Line-1]
			indent := l[:first.Column-1]
			if strings.TrimLeft(indent, " ") != "" {
				return b, false
			}
			var add strings.Builder
			for j, k := range keys[i:] {
				add.WriteString(indent + strings.Repeat("  ", j) + strconv.Quote(k) + ":")
				if i+j == len(keys)-1 {
					add.WriteString(` ""`)
				}
				add.WriteString("\n")
			}
			lines[first.Line-1] = add.String() + l
			return []byte(strings.Join(lines, "")), true
		}
		if i < len(keys)-1 {
			node = val
			continue
		}
		if val.Kind != yaml.ScalarNode || val.Tag != "!!null" {
			return b, false
		}
		if val.Value == "" {
			// An empty value: "key:" ends the key's line, up to a comment.
			l := lines[key.Line-1]
			at := key.Column - 1 + len(k)
			if key.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 || at >= len(l) || l[at] != ':' {
				return b, false
			}
			lines[key.Line-1] = l[:at+1] + ` ""` + l[at+1:]
		} else {
			l := lines[val.Line-1]
			at := val.Column - 1
			if at+len(val.Value) > len(l) || l[at:at+len(val.Value)] != val.Value {
				return b, false
			}
			lines[val.Line-1] = l[:at] + `""` + l[at+len(val.Value):]
		}
		return []byte(strings.Join(lines, "")), true
	}
	return b, false
}

// stoppedOnValue tells whether a chart's rendering stopped on required or
// fail.
func stoppedOnValue(err error) bool { return err != nil && execFailure.MatchString(err.Error()) }

// lintMode renders the chart at dir, which stopped with err, in lint mode,
// and returns the contents that render and the notification that says so;
// or err, with why lint mode did not help either.
func (s *Engine) lintMode(ctx context.Context, in *inputs, contents map[string][]byte, paths []string, dir string, err error) (map[string][]byte, *tg.Notification, error) {
	next, calls, lerr := s.renderLenient(ctx, in, contents, paths, dir, err)
	if lerr != nil {
		if lerr == err {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w (and in lint mode: %v)", err, lerr)
	}
	return next, &tg.Notification{Level: tg.LevelWarning, Code: "helm-lint-mode", Path: calls[0].file, Line: calls[0].line,
		Message: fmt.Sprintf("Helm chart %s stops on values the pipeline did not give: %s. It was rendered the way `helm lint` renders it (required gives an empty value, fail does not stop), with each required value that is not set taken as empty wherever the chart reads it, so the objects that use those values were checked with them empty; give them in a values file (--helm-values) to check the chart as it is deployed", dir, stoppedText(calls))}, nil
}

// stoppedText lists the calls that stopped a chart for its notification.
func stoppedText(calls []stopped) string {
	var parts []string
	for _, c := range calls {
		call := strings.TrimSpace(c.fn + " " + c.value)
		if call == "" {
			call = "required or fail"
		}
		parts = append(parts, fmt.Sprintf("%s line %d, %s (%q)", c.file, c.line, call, c.message))
	}
	return strings.Join(parts, "; ")
}
