package iac

import (
	"bytes"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/tollgate/tollgate/internal/yamlnode"
	tg "github.com/tollgate/tollgate/scanners"
)

// Kustomize: what is deployed from a kustomization is its rendering, not
// its files one by one. Every kustomization root (one no other
// kustomization of the tree includes) and every overlay (one that includes
// others) is built in-process with kustomize's API, over an in-memory
// filesystem that holds only the checkout's files as the engine read them
// (through the confined reader), and its rendering is checked with the
// Kubernetes checks. A finding is placed on the resource, or the patch,
// that sets the offending field (kustomize's origin annotation names the
// resource; the patches are matched by kind and name). The files a built
// kustomization includes are not checked as loose files; when it cannot be
// built, they are (with a notification naming it).

// fileTypeKustomize marks the unit of one kustomization's build: its
// kustomization file first, then every file the build may read.
const fileTypeKustomize detection.FileType = "kustomize"

// kustomizationNames are the file names kustomize looks for, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func isKustomization(p string) bool { return slices.Contains(kustomizationNames, path.Base(p)) }

// kustomization is one kustomization file as read from the checkout, with
// what it refers to.
type kustomization struct {
	file string // its path in the checkout
	dir  string
	doc  *yaml.Node // its top-level mapping (nil: not a mapping)
	kind string
	// dirs are the kustomization directories it includes (resources,
	// bases, components); files the other local files it reads.
	dirs, files []string
	// refused are the entries left out of its build, with why; drop are
	// their nodes (an item of a list, or a top-level value).
	refused []string
	drop    []dropped
	// patches are its patch files and inline patches, in the order
	// kustomize applies them.
	patches []kustPatch
}

type dropped struct {
	parent *yaml.Node // a sequence, or the top mapping
	node   *yaml.Node
}

// kustPatch is one patch of a kustomization: a file, or inline text in the
// kustomization, with the target its entry names (if any).
type kustPatch struct {
	file             string // "" when inline
	inline           *yaml.Node
	kfile            string // the kustomization that applies it
	kind, name, regx string // target selector
}

// remoteRef tells an entry that names a remote resource (URL, git).
var remoteRef = regexp.MustCompile(`^(?i)([a-z][a-z0-9+.-]*://|git@|git::|github\.com[/:]|gitlab\.com[/:]|bitbucket\.org[/:])|\?ref=|\.git(//|$|\?)`)

// parseKustomization reads a kustomization file and sorts its entries:
// local files and directories (exists tells which the checkout holds),
// and refused entries (remote, outside the root, executing code).
func parseKustomization(file string, b []byte, exists func(string) bool, isKustDir func(string) bool) (*kustomization, error) {
	k := &kustomization{file: file, dir: path.Dir(file)}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return k, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a mapping")
	}
	k.doc = top
	k.kind = scalar(yamlnode.Get(top, "kind"))
	refuse := func(parent, n *yaml.Node, field, why string) {
		k.refused = append(k.refused, fmt.Sprintf("%s entry %q (%s)", field, strings.TrimSpace(oneLine(n)), why))
		k.drop = append(k.drop, dropped{parent, n})
	}
	// local resolves a path entry: "" and a reason when it is refused.
	local := func(v string) (string, string) {
		switch {
		case remoteRef.MatchString(v):
			return "", "remote: only the checkout's files are read"
		case path.IsAbs(v):
			return "", "an absolute path, outside the scan root"
		}
		p := path.Join(k.dir, v)
		if p == ".." || strings.HasPrefix(p, "../") {
			return "", "outside the scan root"
		}
		return p, ""
	}
	for _, field := range []string{"resources", "bases", "components"} {
		seq := yamlnode.Get(top, field)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range seq.Content {
			p, why := local(scalar(it))
			switch {
			case why != "":
				refuse(seq, it, field, why)
			case isKustDir(p):
				k.dirs = append(k.dirs, p)
			case exists(p):
				k.files = append(k.files, p)
			default:
				// Neither a file nor a kustomization of the checkout:
				// kustomize would try it as a git repository.
				refuse(seq, it, field, "not a file or kustomization of the checkout")
			}
		}
	}
	addFile := func(parent, n *yaml.Node, field, v string) bool {
		p, why := local(v)
		if why != "" {
			refuse(parent, n, field, why)
			return false
		}
		k.files = append(k.files, p)
		return true
	}
	// patchesStrategicMerge: a path, or an inline patch.
	if seq := yamlnode.Get(top, "patchesStrategicMerge"); seq != nil && seq.Kind == yaml.SequenceNode {
		for _, it := range seq.Content {
			v := scalar(it)
			if strings.Contains(v, "\n") || strings.Contains(v, ":") && !remoteRef.MatchString(v) {
				k.patches = append(k.patches, kustPatch{inline: it})
				continue
			}
			if addFile(seq, it, "patchesStrategicMerge", v) {
				k.patches = append(k.patches, kustPatch{file: k.files[len(k.files)-1]})
			}
		}
	}
	for _, field := range []string{"patches", "patchesJson6902"} {
		seq := yamlnode.Get(top, field)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range seq.Content {
			t := yamlnode.Get(it, "target")
			kp := kustPatch{kind: scalar(yamlnode.Get(t, "kind")), regx: scalar(yamlnode.Get(t, "name"))}
			if p := yamlnode.Get(it, "path"); p != nil {
				if !addFile(seq, it, field, scalar(p)) {
					continue
				}
				kp.file = k.files[len(k.files)-1]
			} else if inl := yamlnode.Get(it, "patch"); inl != nil {
				kp.inline = inl
			} else if it.Kind == yaml.ScalarNode { // patches: [file] in old kustomizations
				if !addFile(seq, it, field, scalar(it)) {
					continue
				}
				kp.file = k.files[len(k.files)-1]
			}
			k.patches = append(k.patches, kp)
		}
	}
	// Generators' inputs.
	for _, field := range []string{"configMapGenerator", "secretGenerator"} {
		seq := yamlnode.Get(top, field)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range seq.Content {
			var vals []*yaml.Node
			for _, key := range []string{"files", "envs"} {
				if l := yamlnode.Get(it, key); l != nil && l.Kind == yaml.SequenceNode {
					vals = append(vals, l.Content...)
				}
			}
			if e := yamlnode.Get(it, "env"); e != nil {
				vals = append(vals, e)
			}
			for _, v := range vals {
				s := scalar(v)
				if i := strings.Index(s, "="); i >= 0 {
					s = s[i+1:]
				}
				if p, why := local(s); why != "" {
					refuse(seq, it, field, why)
					break
				} else {
					k.files = append(k.files, p)
				}
			}
		}
	}
	for _, field := range []string{"crds", "configurations"} {
		if seq := yamlnode.Get(top, field); seq != nil && seq.Kind == yaml.SequenceNode {
			for _, it := range seq.Content {
				addFile(seq, it, field, scalar(it))
			}
		}
	}
	if seq := yamlnode.Get(top, "replacements"); seq != nil && seq.Kind == yaml.SequenceNode {
		for _, it := range seq.Content {
			if p := yamlnode.Get(it, "path"); p != nil {
				addFile(seq, it, "replacements", scalar(p))
			}
		}
	}
	if o := yamlnode.Get(top, "openapi"); o != nil {
		if p := yamlnode.Get(o, "path"); p != nil {
			addFile(top, o, "openapi", scalar(p))
		}
	}
	// Helm charts are rendered by running the helm binary: refused.
	for _, field := range []string{"helmCharts", "helmChartInflationGenerator", "helmGlobals"} {
		if n := yamlnode.Get(top, field); n != nil {
			refuse(top, n, field, "it runs the helm program")
		}
	}
	// Generators, transformers and validators: a builtin's configuration
	// (file or inline) is kept; a KRM function (exec, container) or a
	// plugin is refused, since it runs code.
	builtin := krusty.GetBuiltinPluginNames()
	for _, field := range []string{"generators", "transformers", "validators"} {
		seq := yamlnode.Get(top, field)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range seq.Content {
			v := scalar(it)
			var body []byte
			if it.Kind == yaml.ScalarNode && !strings.Contains(v, "\n") {
				p, why := local(v)
				if why != "" {
					refuse(seq, it, field, why)
					continue
				}
				if isKustDir(p) || !exists(p) {
					refuse(seq, it, field, "not a configuration file of the checkout")
					continue
				}
				k.files = append(k.files, p)
				body = nil // read when built (codeIn)
				k.drop = append(k.drop, dropped{seq, &yaml.Node{Kind: yaml.AliasNode, Value: p, Anchor: field, Alias: it}})
				continue
			} else if it.Kind == yaml.ScalarNode {
				body = []byte(v)
			} else {
				body, _ = yaml.Marshal(it)
			}
			if why := runsCode(body, builtin); why != "" {
				refuse(seq, it, field, why)
			}
		}
	}
	for i := range k.patches {
		k.patches[i].kfile = file
	}
	return k, nil
}

// runsCode says why a generator or transformer configuration runs code
// ("": it is one of kustomize's builtins).
func runsCode(b []byte, builtin []string) string {
	for _, doc := range yamlDocs(b) {
		md := yamlnode.Get(doc, "metadata")
		ann := yamlnode.Get(md, "annotations")
		for _, key := range []string{"config.kubernetes.io/function", "config.k8s.io/function"} {
			if f := yamlnode.Get(ann, key); f != nil {
				return "a KRM function (" + strings.Join(strings.Fields(scalar(f)), " ") + "): it runs code"
			}
		}
		kind := scalar(yamlnode.Get(doc, "kind"))
		if !slices.Contains(builtin, kind) {
			return "plugin kind " + kind + ": not one of kustomize's builtins, it runs code"
		}
	}
	return ""
}

// oneLine is a node's text on one line, for a notification.
func oneLine(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	b, _ := yaml.Marshal(n)
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// kustomizations finds the kustomization file of each directory (the first
// of kustomizationNames there, as kustomize picks).
func kustomizations(paths []string) map[string]string {
	out := map[string]string{}
	for _, name := range slices.Backward(kustomizationNames) {
		for _, p := range paths {
			if path.Base(p) == name {
				out[path.Dir(p)] = p
			}
		}
	}
	return out
}

// kustTree is the kustomizations of a tree, parsed.
type kustTree struct {
	byDir map[string]*kustomization
	notes []tg.Notification
}

// readKustomizations parses every kustomization of paths; read gives a
// file's bytes (false: unreadable).
func readKustomizations(paths []string, read func(string) ([]byte, bool), exists func(string) bool) *kustTree {
	kt := &kustTree{byDir: map[string]*kustomization{}}
	files := kustomizations(paths)
	isKustDir := func(d string) bool { _, ok := files[d]; return ok }
	for _, dir := range slices.Sorted(maps.Keys(files)) {
		f := files[dir]
		b, ok := read(f)
		if !ok {
			continue
		}
		k, err := parseKustomization(f, b, exists, isKustDir)
		if err != nil {
			kt.notes = append(kt.notes, tg.Notification{Level: tg.LevelWarning, Code: "kustomize-build", Path: f,
				Message: fmt.Sprintf("kustomization %s could not be parsed, so it was not built (the files it includes are checked as loose files): %v", f, err)})
			continue
		}
		kt.byDir[dir] = k
	}
	return kt
}

// roots are the kustomizations that are built: every one no other
// includes, and every one that includes others (an overlay); a Component
// is only built through what includes it.
func (kt *kustTree) roots() []*kustomization {
	included := map[string]bool{}
	for _, k := range kt.byDir {
		for _, d := range k.dirs {
			included[d] = true
		}
	}
	var out []*kustomization
	for _, dir := range slices.Sorted(maps.Keys(kt.byDir)) {
		k := kt.byDir[dir]
		if k.kind == "Component" {
			continue
		}
		if !included[dir] || len(k.dirs) > 0 {
			out = append(out, k)
		}
	}
	return out
}

// closure lists the kustomizations a root's build reads, root first,
// depth first (the order kustomize accumulates them).
func (kt *kustTree) closure(root *kustomization) []*kustomization {
	var out []*kustomization
	seen := map[string]bool{}
	var visit func(k *kustomization)
	visit = func(k *kustomization) {
		if seen[k.dir] {
			return
		}
		seen[k.dir] = true
		out = append(out, k)
		for _, d := range k.dirs {
			if c := kt.byDir[d]; c != nil {
				visit(c)
			}
		}
	}
	visit(root)
	return out
}

// unitPaths are the files of a root's build: its kustomization file
// first, then every other file it may read.
func (kt *kustTree) unitPaths(root *kustomization) []string {
	out := []string{root.file}
	seen := map[string]bool{root.file: true}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, k := range kt.closure(root) {
		add(k.file)
		for _, f := range k.files {
			add(f)
		}
	}
	return out
}

// rewritten is a kustomization's file as it is built: its refused entries
// blanked line by line (so that every other line keeps its number), and,
// for the root, origin annotations asked for.
func (k *kustomization) rewritten(b []byte, root bool, contents map[string][]byte, builtin []string) ([]byte, []string) {
	refused := slices.Clone(k.refused)
	var gone []dropped
	for _, d := range k.drop {
		if d.node.Kind != yaml.AliasNode {
			gone = append(gone, d)
			continue
		}
		// a generator's configuration file: refused if it runs code
		if why := runsCode(contents[d.node.Value], builtin); why != "" {
			refused = append(refused, fmt.Sprintf("%s entry %q (%s)", d.node.Anchor, d.node.Alias.Value, why))
			gone = append(gone, dropped{d.parent, d.node.Alias})
		}
	}
	lines := strings.SplitAfter(string(b), "\n")
	flow := false
	for _, d := range gone {
		n := d.node
		first, last := n.Line, lastLine(n)
		if d.parent == k.doc { // a top-level key: its key line too
			for i := 0; i+1 < len(k.doc.Content); i += 2 {
				if k.doc.Content[i+1] == n {
					first = k.doc.Content[i].Line
				}
			}
		}
		if d.parent.Style&yaml.FlowStyle != 0 || n.Style&yaml.FlowStyle != 0 && d.parent != k.doc {
			flow = true // flow style: rewritten as a whole below
		}
		for l := first; l <= last && l-1 < len(lines); l++ {
			lines[l-1] = blankLine(lines[l-1])
		}
	}
	out := []byte(strings.Join(lines, ""))
	if flow {
		for _, d := range gone {
			if d.parent == k.doc {
				for i := 0; i+1 < len(k.doc.Content); i += 2 {
					if k.doc.Content[i+1] == d.node {
						k.doc.Content = slices.Delete(k.doc.Content, i, i+2)
						break
					}
				}
				continue
			}
			d.parent.Content = slices.DeleteFunc(d.parent.Content, func(c *yaml.Node) bool { return c == d.node })
		}
		if nb, err := yaml.Marshal(k.doc); err == nil {
			out = nb
		}
	}
	if nb, ok := modernKustomization(out, root, func(p string) bool { _, ok := contents[path.Join(k.dir, p)]; return ok }); ok {
		return nb, refused
	}
	if root && yamlnode.Get(k.doc, "buildMetadata") == nil {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, "buildMetadata: [originAnnotations]\n"...)
	}
	return out, refused
}

// kubernetesFile tells whether Trivy takes a file for Kubernetes.
func kubernetesFile(p string, b []byte) bool {
	return detection.IsType(p, bytes.NewReader(b), detection.FileTypeKubernetes)
}

// modernKustomization rewrites a kustomization without the deprecated
// fields kustomize warns about on its standard error (a line per field per
// build, which a scan must not print), where the newer field builds the
// same: bases and imageTags as kustomize's own build moves them;
// patchesStrategicMerge before the patches (its transformer runs just
// before theirs); commonLabels as labels with selectors (what `kustomize
// edit fix` writes). patchesJson6902 and vars, whose transformers run
// elsewhere in the order, are kept. A root asks for origin annotations
// (kept in the rendering: they name each resource's file). false: the
// file does not read as a kustomization (kustomize will say why).
func modernKustomization(b []byte, root bool, exists func(string) bool) ([]byte, bool) {
	var k types.Kustomization
	if k.Unmarshal(b) != nil {
		return nil, false
	}
	k.FixKustomization()
	if len(k.PatchesStrategicMerge) > 0 {
		var psm []types.Patch
		for _, p := range k.PatchesStrategicMerge {
			if exists(string(p)) {
				psm = append(psm, types.Patch{Path: string(p)})
			} else {
				psm = append(psm, types.Patch{Patch: string(p)})
			}
		}
		k.Patches = append(psm, k.Patches...)
		k.PatchesStrategicMerge = nil
	}
	if len(k.CommonLabels) > 0 {
		for _, l := range k.Labels {
			for name := range l.Pairs {
				if _, dup := k.CommonLabels[name]; dup {
					return nil, false
				}
			}
		}
		k.Labels = append(k.Labels, types.Label{Pairs: k.CommonLabels, IncludeSelectors: true})
		k.CommonLabels = nil
	}
	if root && len(k.BuildMetadata) == 0 {
		k.BuildMetadata = []string{types.OriginAnnotations}
	}
	out, err := kyaml.Marshal(&k)
	if err != nil {
		return nil, false
	}
	return out, true
}
