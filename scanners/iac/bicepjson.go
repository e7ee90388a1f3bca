package iac

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	tg "github.com/tollgate/tollgate/scanners"
)

// isBicep tells whether p is a Bicep file.
func isBicep(p string) bool { return strings.EqualFold(path.Ext(p), ".bicep") }

// armSchema is the deployment template schema, which Trivy's ARM detection
// looks for.
const armSchema = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"

// bicepTemplate writes the resources of a Bicep file as the ARM template
// Trivy's ARM checks read, laid out so that each resource, property and
// value sits on the line it has in the Bicep file: a finding's lines are
// the Bicep file's. (JSON allows a line break between any two tokens, and
// values come in the Bicep file's order. A resource nested in its parent's
// body is written after the parent, on the parent's last line, when the
// parent has properties below it.) It returns the statements it could not
// read, left out.
func bicepTemplate(src []byte) ([]byte, []error) {
	resources, errs := readBicep(src)
	w := &armWriter{src: src, line: 1}
	w.buf.WriteString(`{"$schema":` + strconv.Quote(armSchema) + `,"contentVersion":"1.0.0.0","resources":[`)
	var declared []bicepResource
	for _, r := range resources {
		if !r.existing { // only referenced: the template does not declare it
			declared = append(declared, r)
		}
	}
	for i, r := range declared {
		w.item(i, r.line)
		w.buf.WriteString(`{"type":`)
		w.str(r.typ)
		w.buf.WriteString(`,"apiVersion":`)
		w.str(r.apiVersion)
		if r.body.kind == bObject {
			for _, p := range r.body.props {
				if p.key == "parent" || p.key == "dependsOn" {
					continue // Bicep's own: the template has them in the name and its own dependsOn
				}
				w.item(1, p.line) // after type and apiVersion
				w.str(p.key)
				w.buf.WriteByte(':')
				if p.key == "name" && r.child {
					// The compiled name is the parent's and the child's,
					// format('{0}/{1}', ...): an expression.
					w.expr(p.v)
					continue
				}
				w.value(p.v)
			}
			// Close on the Bicep closing brace's line, or above the
			// nested resource that comes next.
			end := r.body.endLine
			if i+1 < len(declared) && declared[i+1].line <= end {
				end = declared[i+1].line - 1
			}
			w.at(end)
		}
		w.buf.WriteByte('}')
	}
	w.buf.WriteString("]}\n")
	return w.buf.Bytes(), errs
}

// bicepNotification names the statements of a Bicep file that were not
// read, and so not checked.
func bicepNotification(p string, errs []error) tg.Notification {
	n := tg.Notification{Level: tg.LevelWarning, Code: "parse-error", Path: p}
	var be *bicepError
	if errors.As(errs[0], &be) {
		n.Line = be.line
	}
	if len(errs) == 1 {
		n.Message = fmt.Sprintf("%s: a statement could not be read, so it was not checked (the rest was): %v", p, errs[0])
	} else {
		n.Message = fmt.Sprintf("%s: %d statements could not be read, so they were not checked (the rest was); the first: %v", p, len(errs), errs[0])
	}
	return n
}

// armWriter writes JSON, a line break at a time up to each value's line.
type armWriter struct {
	src  []byte
	buf  bytes.Buffer
	line int
}

// at moves the output down to line (it never goes back up).
func (w *armWriter) at(line int) {
	for w.line < line {
		w.buf.WriteByte('\n')
		w.line++
	}
}

// item starts the i-th item of an object or array at line, with its comma
// on that line: Trivy places a value from the separator before it.
func (w *armWriter) item(i, line int) {
	w.at(line)
	if i > 0 {
		w.buf.WriteByte(',')
	}
}

func (w *armWriter) str(s string) {
	b, _ := json.Marshal(s) // a string always marshals
	w.buf.Write(b)
}

// expr writes a value as an expression, its Bicep text inside [ ], each
// line break with the indentation around it as one space: the text is
// opaque to the checks, but it is the name a finding's identity holds, and
// a re-indent must leave that alone.
func (w *armWriter) expr(v bicepValue) {
	w.str("[" + lineBreaks.ReplaceAllString(string(w.src[v.off:v.end]), " ") + "]")
}

var lineBreaks = regexp.MustCompile(`[ \t\r]*\n\s*`)

func (w *armWriter) value(v bicepValue) {
	w.at(v.line)
	switch v.kind {
	case bStr:
		if strings.HasPrefix(v.s, "[") {
			w.str("[" + v.s) // as the compiler escapes a literal that looks like an expression
			return
		}
		w.str(v.s)
	case bNum:
		w.buf.WriteString(strconv.FormatFloat(v.n, 'f', -1, 64))
	case bBool:
		w.buf.WriteString(strconv.FormatBool(v.b))
	case bObject:
		w.buf.WriteByte('{')
		for i, p := range v.props {
			w.item(i, p.line)
			w.str(p.key)
			w.buf.WriteByte(':')
			w.value(p.v)
		}
		w.at(v.endLine)
		w.buf.WriteByte('}')
	case bArray:
		w.buf.WriteByte('[')
		for i, it := range v.items {
			w.item(i, it.line)
			w.value(it)
		}
		w.at(v.endLine)
		w.buf.WriteByte(']')
	default:
		w.expr(v)
	}
}
