package iac

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/tollgate/tollgate/internal/yamlnode"
	"go.yaml.in/yaml/v3"
)

// resourceIdentity names what a misconfiguration at line of a file is
// about, by the identity the file's type gives things, so that the finding
// keeps its fingerprint when lines move or its region is drawn differently:
//
//   - Terraform and plans: the resource address Trivy reports (module path
//     included);
//   - CloudFormation: the resource's logical ID;
//   - Azure ARM: the resource's type and name expression (nested resources
//     under their parents);
//   - Kubernetes: kind, namespace and name, and the container the line is in;
//   - Helm: the kind and name expression of the template's object;
//   - Dockerfile: the stage and the instruction (kind and ordinal in the
//     stage);
//   - Ansible: the names of the play and task the line is in.
//
// stable says whether the finding's own lines read the same across runs, so
// that they may tell apart findings of one identity; where Trivy draws a
// region differently from run to run (Kubernetes, Helm) they may not.
func resourceIdentity(ft detection.FileType, content []byte, r region, trivyResource, message string) (identity string, stable bool) {
	switch ft {
	case detection.FileTypeTerraform, detection.FileTypeTerraformPlanJSON, detection.FileTypeTerraformPlanSnapshot:
		return trivyResource, true
	case detection.FileTypeCloudFormation:
		return cfnIdentity(content, r), true
	case detection.FileTypeAzureARM:
		return armIdentity(stripJSONComments(content), r), true
	case detection.FileTypeKubernetes:
		return k8sIdentity(content, r, message), false
	case detection.FileTypeHelm:
		return helmIdentity(content), false
	case detection.FileTypeDockerfile:
		return dockerfileIdentity(content, r.start), true
	case detection.FileTypeAnsible:
		return ansibleIdentity(content, r), true
	}
	return "", true
}

// region is a finding's lines, as Trivy reports them. Trivy draws a
// region differently from run to run (one line above the object, or its
// key line), so a region is placed in the object it overlaps most, not by
// its first line alone.
type region struct{ start, end int }

// overlap counts the lines a region shares with [start, end].
func (r region) overlap(start, end int) int {
	lo, hi := max(r.start, start), min(max(r.end, r.start), end)
	if hi < lo {
		return 0
	}
	return hi - lo + 1
}

// best returns the index of the node the region overlaps most (-1: none).
func (r region) best(nodes []*yaml.Node) int {
	best, most := -1, 0
	for i, n := range nodes {
		if o := r.overlap(n.Line, lastLine(n)); o > most {
			best, most = i, o
		}
	}
	return best
}

// yamlDocs decodes every document of a YAML (or JSON) file; nil when it
// does not parse.
func yamlDocs(content []byte) []*yaml.Node {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			return docs
		}
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			docs = append(docs, n.Content[0])
		}
	}
}

// lastLine is the last line a node or any of its descendants is on.
func lastLine(n *yaml.Node) int {
	end := n.Line
	for _, c := range n.Content {
		end = max(end, lastLine(c))
	}
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		end += strings.Count(strings.TrimRight(n.Value, "\n"), "\n") + 1
	}
	return end
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// inside reports whether line is within [start, end].
func inside(line, start, end int) bool { return line >= start && line <= end }

// cfnIdentity is the logical ID of the template's resource (or the section
// and key of an output, parameter or condition) the region overlaps most.
func cfnIdentity(content []byte, r region) string {
	docs := yamlDocs(content)
	if len(docs) == 0 {
		return ""
	}
	root := docs[0]
	best, most := "", 0
	for i := 0; i+1 < len(root.Content); i += 2 {
		section, body := root.Content[i], root.Content[i+1]
		if body.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(body.Content); j += 2 {
			k, v := body.Content[j], body.Content[j+1]
			if o := r.overlap(k.Line, lastLine(v)); o > most {
				most = o
				best = k.Value
				if section.Value != "Resources" {
					best = section.Value + "." + k.Value
				}
			}
		}
	}
	return best
}

// armIdentity is "type/name" of the innermost resource the region
// overlaps most, with its parents' before it ("parent > child").
func armIdentity(content []byte, r region) string {
	docs := yamlDocs(content)
	if len(docs) == 0 {
		return ""
	}
	var path []string
	resources := yamlnode.Get(docs[0], "resources")
	for resources != nil && resources.Kind == yaml.SequenceNode {
		i := r.best(resources.Content)
		if i < 0 {
			break
		}
		res := resources.Content[i]
		path = append(path, scalar(yamlnode.Get(res, "type"))+"/"+scalar(yamlnode.Get(res, "name")))
		resources = yamlnode.Get(res, "resources")
	}
	return strings.Join(path, " > ")
}

// k8sIdentity is "kind/namespace/name" of the object a finding is about,
// with "/container=LIST:NAME" when its message names one of the object's
// containers. Trivy's lines drift in files of several documents (about a
// line per document before it, in Trivy 0.74), so the object the message
// names ("Container 'c' of Pod 'web'", "pod web in default namespace") wins
// over the one the region overlaps most, and a container is only taken from
// the message: two findings of one check on one object that name no
// container are told apart by their order.
func k8sIdentity(content []byte, r region, message string) string {
	docs := yamlDocs(content)
	i := r.best(docs)
	for j, doc := range docs {
		kind, name := scalar(yamlnode.Get(doc, "kind")), scalar(yamlnode.Get(yamlnode.Get(doc, "metadata"), "name"))
		if kind != "" && name != "" && mentions(message, kind) && mentions(message, name) && (i < 0 || !sameObject(docs[i], doc)) {
			if i < 0 || !(mentions(message, scalar(yamlnode.Get(docs[i], "kind"))) && mentions(message, scalar(yamlnode.Get(yamlnode.Get(docs[i], "metadata"), "name")))) {
				i = j
			}
		}
	}
	if i < 0 {
		return ""
	}
	doc := docs[i]
	md := yamlnode.Get(doc, "metadata")
	id := scalar(yamlnode.Get(doc, "kind")) + "/" + scalar(yamlnode.Get(md, "namespace")) + "/" + scalar(yamlnode.Get(md, "name"))
	var lists []string
	var items []*yaml.Node
	yamlnode.Containers(doc, func(list string, c *yaml.Node) {
		lists = append(lists, list)
		items = append(items, c)
	})
	j := -1
	if m := containerInMessage.FindStringSubmatch(message); m != nil {
		for k, c := range items {
			if scalar(yamlnode.Get(c, "name")) == m[1] {
				j = k
				break
			}
		}
	}
	if j >= 0 {
		id += "/container=" + lists[j] + ":" + scalar(yamlnode.Get(items[j], "name"))
	}
	return id
}

var containerInMessage = regexp.MustCompile(`(?i)\bcontainer '([^']+)'`)

// mentions reports whether a message names a word (a kind, a name), in
// any case, as a whole word.
func mentions(message, word string) bool {
	if word == "" {
		return false
	}
	re, err := regexp.Compile(`(?i)(^|[^A-Za-z0-9_.-])` + regexp.QuoteMeta(word) + `($|[^A-Za-z0-9_.-])`)
	return err == nil && re.MatchString(message)
}

func sameObject(a, b *yaml.Node) bool {
	return scalar(yamlnode.Get(a, "kind")) == scalar(yamlnode.Get(b, "kind")) && scalar(yamlnode.Get(yamlnode.Get(a, "metadata"), "name")) == scalar(yamlnode.Get(yamlnode.Get(b, "metadata"), "name"))
}

var (
	helmKind = regexp.MustCompile(`(?m)^kind:[ \t]*(\S+)`)
	helmName = regexp.MustCompile(`(?m)^metadata:[ \t]*\r?\n(?:[ \t]+.*\r?\n)*?[ \t]+name:[ \t]*(.+?)[ \t]*\r?$`)
)

// helmIdentity is the kind and name expression of a template's object, read
// from the template's text (a template is not YAML until rendered); "" when
// the template holds more than one object, and the rule and an occurrence
// index tell its findings apart.
func helmIdentity(content []byte) string {
	kinds := helmKind.FindAllSubmatch(content, -1)
	if len(kinds) != 1 {
		return ""
	}
	id := string(kinds[0][1])
	if m := helmName.FindSubmatch(content); m != nil {
		id += "/" + strings.Join(strings.Fields(string(m[1])), " ")
	}
	return id
}

// dockerfileIdentity is "stage=S/INSTRUCTION#n" of the instruction that
// holds line: the stage by its alias, else by its base image (a stage added
// before it does not rename it), the n-th instruction of that kind in the
// stage. A finding about the file as a whole (no line) is the last stage's.
func dockerfileIdentity(content []byte, line int) string {
	type instr struct {
		start, end int
		kind       string
	}
	var stages [][]instr
	var names []string
	lines := strings.Split(string(content), "\n")
	for i := 0; i < len(lines); i++ {
		text := strings.TrimSpace(lines[i])
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		start := i + 1
		for strings.HasSuffix(strings.TrimRight(lines[i], " \t\r"), "\\") && i+1 < len(lines) {
			i++
		}
		f := strings.Fields(text)
		kind := strings.ToUpper(f[0])
		if kind == "FROM" || len(stages) == 0 {
			stages = append(stages, nil)
			names = append(names, stageName(f, names))
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], instr{start, i + 1, kind})
	}
	if len(stages) == 0 {
		return ""
	}
	for s, ins := range stages {
		count := map[string]int{}
		for _, in := range ins {
			count[in.kind]++
			if inside(line, in.start, in.end) {
				return fmt.Sprintf("stage=%s/%s#%d", names[s], in.kind, count[in.kind])
			}
		}
	}
	return "stage=" + names[len(names)-1]
}

// ansibleIdentity is "play / task" (names) of the innermost named items of
// a playbook or task file the region overlaps most.
func ansibleIdentity(content []byte, r region) string {
	docs := yamlDocs(content)
	if len(docs) == 0 {
		return ""
	}
	var names []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.SequenceNode:
			if i := r.best(n.Content); i >= 0 {
				item := n.Content[i]
				if name := scalar(yamlnode.Get(item, "name")); name != "" {
					names = append(names, name)
				}
				walk(item)
			}
		case yaml.MappingNode:
			var values []*yaml.Node
			for i := 1; i < len(n.Content); i += 2 {
				values = append(values, n.Content[i])
			}
			if i := r.best(values); i >= 0 {
				walk(values[i])
			}
		}
	}
	walk(docs[0])
	return strings.Join(names, " / ")
}

// stageName names a stage from its FROM line's fields: the alias after AS,
// else the base image, with "#k" for the k-th stage of the same name.
func stageName(from []string, before []string) string {
	for j := 1; j+1 < len(from); j++ {
		if strings.EqualFold(from[j], "AS") {
			return from[j+1]
		}
	}
	name := ""
	for _, f := range from[1:] {
		if !strings.HasPrefix(f, "--") {
			name = f
			break
		}
	}
	n := 1
	for _, b := range before {
		if b == name || strings.HasPrefix(b, name+"#") {
			n++
		}
	}
	if n > 1 {
		name += "#" + strconv.Itoa(n)
	}
	return name
}
