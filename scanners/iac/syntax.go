package iac

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	dfparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"go.yaml.in/yaml/v3"
)

// Trivy's parsers log a file they cannot parse and move on: the file's checks
// silently do not run. We parse IaC files once ourselves so that such a file
// becomes a notification that names it, the line and the cause.

// syntaxError is a parse failure of one file.
type syntaxError struct {
	Line int
	Err  error
	// Skip keeps the file from Trivy's parsers (which would choke on it).
	Skip bool
}

// checkSyntax returns nil when the file parses, or is not one we judge.
func checkSyntax(p string, content []byte, inHelmChart bool) *syntaxError {
	lower := strings.ToLower(p)
	switch {
	case strings.HasSuffix(lower, ".tf.json") || strings.HasSuffix(lower, ".tofu.json") || strings.HasSuffix(lower, ".tfvars.json"):
		_, diags := hclparse.NewParser().ParseJSON(content, p)
		return fromDiags(diags)
	case strings.HasSuffix(lower, ".tf") || strings.HasSuffix(lower, ".tofu") || strings.HasSuffix(lower, ".tfvars"):
		_, diags := hclparse.NewParser().ParseHCL(content, p)
		return fromDiags(diags)
	case strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml"):
		// Chart templates are not YAML until rendered; other YAML with
		// template text in it is YAML around it.
		if inHelmChart {
			return nil
		}
		if bytes.Contains(content, []byte("{{")) {
			return checkYAML(blankTemplates(content))
		}
		return checkYAML(content)
	case strings.HasSuffix(lower, ".json"):
		if !looksLikeIaCJSON(content) {
			return nil
		}
		return checkJSON(content)
	}
	return nil
}

func fromDiags(diags hcl.Diagnostics) *syntaxError {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		se := &syntaxError{Err: errors.New(strings.TrimSpace(d.Summary + "; " + d.Detail))}
		if d.Subject != nil {
			se.Line = d.Subject.Start.Line
		}
		return se
	}
	return nil
}

// maxYAMLNodes bounds what a document may expand to through its aliases:
// far above any real manifest, far below a "billion laughs" bomb, which a
// parser that expands aliases would spend its time and memory on.
const maxYAMLNodes = 1_000_000

func checkYAML(content []byte) *syntaxError {
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		// A yaml.Node keeps aliases unexpanded, so an alias bomb costs nothing here.
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			if size := expandedSize(&n, map[*yaml.Node]int{}); size > maxYAMLNodes {
				return &syntaxError{Line: n.Line, Skip: true,
					Err: fmt.Errorf("its aliases expand to more than %d nodes (a YAML alias bomb?); not evaluated", maxYAMLNodes)}
			}
			if m := widestMapping(&n); m != nil {
				return &syntaxError{Line: m.Line, Skip: true,
					Err: fmt.Errorf("a mapping of %d keys, more than %d (Trivy's YAML decoder compares every key with every other: a template of 100,000 resources takes minutes); not evaluated", len(m.Content)/2, maxYAMLKeys)}
			}
			continue
		}
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			line := yamlErrorLine(msg)
			if line > 0 {
				msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", line))
				// yaml.v3 reports parser errors at the 0-based line of their
				// context (scanner errors are already 1-based).
				if strings.HasPrefix(msg, "did not find expected") {
					line++
				}
			}
			return &syntaxError{Line: line, Err: errors.New(msg)}
		}
	}
}

// maxYAMLKeys bounds the keys of one YAML mapping: CloudFormation allows
// 500 resources, a Kubernetes object a few hundred fields; the YAML decoder
// Trivy detects and reads types with checks each key against every key
// before it, so time grows with the square of a mapping's size.
const maxYAMLKeys = 20_000

// widestMapping returns the first mapping of n with more than maxYAMLKeys
// keys (nil when there is none), aliases not followed.
func widestMapping(n *yaml.Node) *yaml.Node {
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.MappingNode && len(n.Content)/2 > maxYAMLKeys {
			return n
		}
		stack = append(stack, n.Content...)
	}
	return nil
}

// expandedSize counts the nodes of n with every alias expanded, without
// expanding them (memo holds the size of each node already counted).
// Counts saturate just above maxYAMLNodes.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int) int {
	if n == nil {
		return 0
	}
	if v, ok := memo[n]; ok {
		return v
	}
	memo[n] = 1 // an alias cycle counts once
	size := 1
	if n.Kind == yaml.AliasNode {
		size += expandedSize(n.Alias, memo)
	}
	for _, c := range n.Content {
		size += expandedSize(c, memo)
		if size > maxYAMLNodes {
			size = maxYAMLNodes + 1
			break
		}
	}
	memo[n] = size
	return size
}

// yamlErrorLine extracts N from yaml.v3's "yaml: line N: ..." messages.
func yamlErrorLine(msg string) int {
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range msg[i+5:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// looksLikeIaCJSON keeps arbitrary JSON (tsconfig.json with comments,
// fixtures) out of the check: only files that an IaC parser would claim.
func looksLikeIaCJSON(content []byte) bool {
	for _, marker := range []string{
		"schema.management.azure.com",         // ARM
		"AWSTemplateFormatVersion",            // CloudFormation
		`"terraform_version"`,                 // Terraform plan
		`"apiVersion"`,                        // Kubernetes
		`"Resources"`,                         // CloudFormation without a version
		"deploymentTemplate.json",             // ARM
		"deploymentParameters.json#",          // ARM parameters
		"subscriptionDeploymentTemplate.json", // ARM
	} {
		if bytes.Contains(content, []byte(marker)) {
			return true
		}
	}
	return false
}

// checkJSON accepts JSON with // and /* */ comments, as Azure's ARM tooling
// and Trivy's ARM parser do.
func checkJSON(content []byte) *syntaxError {
	stripped := stripJSONComments(content)
	var v any
	err := json.Unmarshal(stripped, &v)
	if err == nil {
		return nil
	}
	se := &syntaxError{Err: err}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		se.Line = 1 + bytes.Count(stripped[:min(int(syn.Offset), len(stripped))], []byte("\n"))
	}
	return se
}

// stripJSONComments blanks comments with spaces, keeping newlines and
// offsets, so error lines still point into the original file.
func stripJSONComments(b []byte) []byte {
	out := bytes.Clone(b)
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			out[i], out[i+1] = ' ', ' '
			for i += 2; i < len(out); i++ {
				if out[i] == '*' && i+1 < len(out) && out[i+1] == '/' {
					out[i], out[i+1] = ' ', ' '
					i++
					break
				}
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
		}
	}
	return out
}

// helmCharts returns the directories that hold a Chart.yaml.
func helmCharts(paths []string) map[string]bool {
	charts := map[string]bool{}
	for _, p := range paths {
		if strings.EqualFold(path.Base(p), "Chart.yaml") {
			charts[path.Dir(p)] = true
		}
	}
	return charts
}

func (e *syntaxError) String() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return e.Err.Error()
}

// blankTemplates replaces every {{ ... }} span of a file that is YAML
// around its template text (a CloudFormation {{resolve:...}} reference,
// Jinja in Ansible, template text in a Kubernetes annotation) with as many
// x's, line breaks kept, so that the rest can be checked as YAML with every
// line where it was. An unclosed {{ is left as it is.
func blankTemplates(content []byte) []byte {
	out := bytes.Clone(content)
	for i := 0; ; {
		start := bytes.Index(out[i:], []byte("{{"))
		if start < 0 {
			return out
		}
		start += i
		end := bytes.Index(out[start+2:], []byte("}}"))
		if end < 0 {
			return out
		}
		end += start + 4
		for j := start; j < end; j++ {
			if out[j] != '\n' && out[j] != '\r' {
				out[j] = 'x'
			}
		}
		i = end
	}
}

// maxDockerfileLine is the longest line buildkit's Dockerfile parser reads
// (its bufio.Scanner's default token size, less the line break): a longer
// one makes it refuse the whole file, and Trivy then skips it silently.
const maxDockerfileLine = bufio.MaxScanTokenSize - 1

// maxShellChain bounds the shell commands one Dockerfile instruction may
// chain (&&, ||, ;, |): real ones chain tens.
const maxShellChain = 2000

// shellOperators counts the command separators of an instruction's text
// (inside quotes too: an upper bound).
func shellOperators(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ';':
			n++
		case '&', '|':
			n++
			if i+1 < len(s) && s[i+1] == s[i] {
				i++
			}
		}
	}
	return n
}

// dockerfileGuard prepares a Dockerfile for Trivy's parser: a comment line
// longer than buildkit reads (a comment is enough to make it refuse the
// file, and every check of the file with it) is shortened to "#" in the
// copy returned, every other line where it was. If the file still does not
// parse, the error names the file's cause: Docker cannot build it either,
// and its checks do not run.
func dockerfileGuard(content []byte) ([]byte, *syntaxError) {
	out := content
	copied := false
	lineNo := 0
	for off := 0; off < len(out); {
		lineNo++
		end := bytes.IndexByte(out[off:], '\n')
		if end < 0 {
			end = len(out) - off
		}
		line := out[off : off+end]
		if len(line) > maxDockerfileLine-64 && bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			if !copied {
				out, copied = bytes.Clone(out), true
				line = out[off : off+end]
			}
			// "#" and spaces would still be a long line: cut it.
			out = append(out[:off+1:off+1], out[off+end:]...)
			out[off] = '#'
			end = 1
		}
		off += end + 1
	}
	parsed, err := dfparser.Parse(bytes.NewReader(out))
	if err == nil {
		// Trivy's checks parse each RUN's shell text and walk it once a
		// command, recursively: 700,000 chained commands overflowed Go's
		// stack (fatal, every result lost).
		for _, n := range parsed.AST.Children {
			if ops := shellOperators(n.Original); ops > maxShellChain {
				return out, &syntaxError{Line: n.StartLine, Skip: true,
					Err: fmt.Errorf("the %s instruction chains %d shell commands, more than the %d its checks' shell parser is given (it recurses once a command)", strings.ToUpper(n.Value), ops, maxShellChain)}
			}
		}
	}
	if err != nil {
		line := 0
		var le *dfparser.LocationError
		if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			line = le.Locations[0][0].Start.Line
		}
		msg := err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			msg = fmt.Sprintf("a line is longer than %d bytes, which Docker's Dockerfile parser (buildkit) refuses", maxDockerfileLine)
		}
		return out, &syntaxError{Line: line, Err: errors.New(msg), Skip: true}
	}
	return out, nil
}
