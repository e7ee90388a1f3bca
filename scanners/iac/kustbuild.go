package iac

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	iacscan "github.com/aquasecurity/trivy/pkg/iac/scan"
	"github.com/aquasecurity/trivy/pkg/mapfs"
	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/tollgate/tollgate/internal/yamlnode"
	tg "github.com/tollgate/tollgate/scanners"
)

// planKustomize turns the kustomizations of the tree into units (one per
// root, see kustTree.roots) and takes the files they include out of the
// loose Kubernetes files. It reads the kustomization files, and the other
// files a build reads that classify did not keep, through the target's
// confined reader into contents.
//
// A file classify named in a notification (unreadable, a parse error, an
// alias bomb, nesting too deep) and did not keep is not read again: it is
// missing from the builds, which then fail and say so.
func (s *Engine) planKustomize(t *tg.Target, byType map[detection.FileType][]string, contents map[string][]byte, classified []tg.Notification) ([]job, []tg.Notification) {
	var paths []string
	inTree := map[string]bool{}
	for _, f := range t.Files {
		paths = append(paths, f.Path)
		inTree[f.Path] = true
	}
	if len(kustomizations(paths)) == 0 {
		return nil, nil
	}
	refused := map[string]bool{}
	for _, n := range classified {
		if n.Path != "" {
			refused[n.Path] = true
		}
	}
	var notes []tg.Notification
	read := func(p string) ([]byte, bool) {
		if b, ok := contents[p]; ok {
			return b, true
		}
		if !inTree[p] || refused[p] {
			return nil, false
		}
		b, err := readFile(t, p)
		if err != nil {
			notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "unreadable", Path: p,
				Message: fmt.Sprintf("cannot read %s: %v", p, tg.Cause(err))})
			return nil, false
		}
		contents[p] = b
		return b, true
	}
	kt := readKustomizations(paths, read, func(p string) bool { return inTree[p] })
	notes = append(notes, kt.notes...)
	var units []job
	consumed := map[string]bool{}
	for _, root := range kt.roots() {
		up := kt.unitPaths(root)
		var kept []string
		for _, p := range up {
			if _, ok := read(p); ok {
				kept = append(kept, p)
				consumed[p] = true
			}
		}
		units = append(units, job{fileTypeKustomize, kept})
	}
	for ft, ps := range byType {
		byType[ft] = slices.DeleteFunc(ps, func(p string) bool { return consumed[p] })
	}
	return units, notes
}

// renderedName is the name the rendering of a kustomization has in the
// virtual filesystem Trivy's Kubernetes scanner reads.
const renderedName = "kustomize-build.yaml"

// scanKustomization builds one root and checks its rendering; when it
// cannot be built, its files are checked as loose files. Only a cancelled
// context is an error.
func (s *Engine) scanKustomization(ctx context.Context, in *inputs, contents map[string][]byte, paths []string, rs *rego.Scanner,
	lines *lineCache, res *tg.Result) error {
	rootFile := paths[0]
	began := time.Now()
	rendered, kt, err := buildKustomization(ctx, contents, paths, res)
	if s.log != nil {
		s.log.Debug("kustomize build", "kustomization", rootFile, "files", len(paths), "bytes", len(rendered), "took", time.Since(began), "error", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		var loose []string
		for _, p := range paths {
			if !isKustomization(p) && kubernetesFile(p, contents[p]) {
				loose = append(loose, p)
			}
		}
		n := tg.Notification{Level: tg.LevelWarning, Code: "kustomize-build", Path: rootFile,
			Message: fmt.Sprintf("kustomization %s could not be built, so its rendering was not checked (the %d Kubernetes files it includes were checked as loose files): %v", rootFile, len(loose), err)}
		if errors.Is(err, errAbandoned) {
			n.Level = tg.LevelError
		}
		res.Status.Add(n)
		if len(loose) == 0 {
			return nil
		}
		return s.scanGroup(ctx, in, contents, detection.FileTypeKubernetes, loose, rs, lines, res)
	}
	rp := path.Join(path.Dir(rootFile), renderedName)
	fsys := mapfs.New()
	if d := path.Dir(rp); d != "." {
		if err := fsys.MkdirAll(d, 0o700); err != nil && !isExist(err) {
			return err
		}
	}
	if err := fsys.WriteVirtualFile(rp, rendered, 0o600); err != nil {
		res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "internal", Message: err.Error()})
		return nil
	}
	sc, err := s.newTrivyScanner(detection.FileTypeKubernetes, rs, in)
	if err != nil {
		res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "scanner-init", Message: err.Error()})
		return nil
	}
	results, err := sc.ScanFS(ctx, fsys, ".")
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "scan-error", Path: rootFile,
			Message: fmt.Sprintf("kubernetes checks failed on the rendering of %s: %v", rootFile, err)})
		return nil
	}
	rlines := newLineCache(nil, map[string][]byte{rp: rendered})
	docs := yamlDocs(rendered)
	for _, r := range results {
		if r.Status() == iacscan.StatusPassed {
			continue
		}
		f, rule := convert(detection.FileTypeKubernetes, r, rlines)
		kt.attribute(&f, rootFile, docs, contents, lines)
		res.Findings = append(res.Findings, f)
		if !slices.ContainsFunc(res.Rules, func(r tg.Rule) bool { return r.ID == rule.ID }) {
			res.Rules = append(res.Rules, rule)
		}
	}
	return nil
}

// kustomizeOptions are kustomize's options for a build: only the root's
// files (kustomize's LoadRestrictionsRootOnly), no plugins, no KRM
// functions (exec or container), no helm.
func kustomizeOptions() *krusty.Options {
	o := krusty.MakeDefaultOptions()
	o.LoadRestrictions = types.LoadRestrictionsRootOnly
	o.PluginConfig = types.DisabledPluginConfig()
	o.PluginConfig.FnpLoadingOptions.EnableExec = false
	o.PluginConfig.FnpLoadingOptions.Network = false
	o.PluginConfig.HelmConfig.Enabled = false
	o.AddManagedbyLabel = false
	return o
}

// buildKustomization builds a unit's root from an in-memory filesystem
// holding only the unit's files (as read from the checkout), with the
// refused entries of its kustomizations left out (a notification each).
func buildKustomization(ctx context.Context, contents map[string][]byte, paths []string, res *tg.Result) ([]byte, *kustTree, error) {
	rootFile := paths[0]
	inUnit := map[string]bool{}
	for _, p := range paths {
		inUnit[p] = true
	}
	kt := readKustomizations(paths, func(p string) ([]byte, bool) { b, ok := contents[p]; return b, ok && inUnit[p] },
		func(p string) bool { return inUnit[p] })
	for _, n := range kt.notes {
		res.Status.Add(n)
	}
	fs := filesys.MakeFsInMemory()
	builtin := krusty.GetBuiltinPluginNames()
	for _, p := range paths {
		b := contents[p]
		if k := kt.byDir[path.Dir(p)]; k != nil && k.file == p {
			var refused []string
			b, refused = k.rewritten(b, p == rootFile, contents, builtin)
			for _, r := range refused {
				res.Status.Add(tg.Notification{Level: tg.LevelWarning, Code: "kustomize-refused", Path: p,
					Message: fmt.Sprintf("kustomization %s: %s was refused and left out of the build, so what it adds was not checked", p, r)})
			}
		}
		if err := fs.MkdirAll("/" + path.Dir(p)); err != nil {
			return nil, nil, err
		}
		if err := fs.WriteFile("/"+p, b); err != nil {
			return nil, nil, err
		}
	}
	if kt.byDir[path.Dir(rootFile)] == nil {
		return nil, nil, fmt.Errorf("kustomization %s could not be read", rootFile)
	}
	// kustomize's build takes no context: it runs on its own, and a build
	// past its budget (or an interrupted scan) is left to finish in the
	// background, its result dropped, so that one kustomization cannot hold
	// the scan.
	type built struct {
		out []byte
		err error
	}
	done := make(chan built, 1)
	go func() {
		var b built
		defer func() {
			if r := recover(); r != nil {
				b.err = fmt.Errorf("kustomize failed: %v", r)
			}
			done <- b
		}()
		m, err := krusty.MakeKustomizer(kustomizeOptions()).Run(fs, "/"+path.Dir(rootFile))
		if err == nil {
			b.out, err = m.AsYaml()
		}
		b.err = err
	}()
	timer := time.NewTimer(kustomizeBudget)
	defer timer.Stop()
	select {
	case b := <-done:
		if b.err != nil {
			return nil, nil, b.err
		}
		return b.out, kt, nil
	case <-timer.C:
		return nil, nil, fmt.Errorf("the build took longer than %s and was %w", kustomizeBudget, errAbandoned)
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// errAbandoned ends a build past its budget: an error-level notification,
// so that the unit, whose result depends on the machine's speed, is not
// kept in the result cache.
var errAbandoned = errors.New("abandoned")

// kustomizeBudget bounds one kustomization's build.
var kustomizeBudget = 2 * time.Minute

// fieldInMessage finds the field a check names ("should set
// 'securityContext.privileged' to false"); fieldWord one it names without
// quotes ("should set securityContext.capabilities.drop", an annotation
// "seccomp.security.alpha.kubernetes.io/pod").
var (
	fieldInMessage = regexp.MustCompile(`'([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+)'`)
	fieldWord      = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_-]*(?:[./][A-Za-z0-9_-]+)+`)
)

// plainFields are the fields a check's message may name as a plain word.
var plainFields = []string{"image", "hostNetwork", "hostPID", "hostIPC", "hostPath", "hostPort", "privileged",
	"capabilities", "serviceAccountName", "automountServiceAccountToken", "procMount", "sysctls", "volumes"}

var plainWord = regexp.MustCompile(`[A-Za-z]+`)

// containerWord is a container a message names, quoted or not.
var containerWord = regexp.MustCompile(`(?i)\bcontainer ["']?([A-Za-z0-9][A-Za-z0-9._-]*)["']?`)

// fieldsNamed lists the field paths a check's message may name, the
// quoted one first: a dotted path, and a key with dots or slashes as a
// whole (an annotation or label key).
func fieldsNamed(message string) [][]string {
	var out [][]string
	if m := fieldInMessage.FindStringSubmatch(message); m != nil {
		out = append(out, strings.Split(m[1], "."))
	}
	for _, w := range fieldWord.FindAllString(message, -1) {
		if !strings.Contains(w, "/") {
			out = append(out, strings.Split(w, "."))
		}
		out = append(out, []string{w})
	}
	// A field named as a plain word ("uses an image from", "hostPath
	// volume"): the fields the Kubernetes checks are about.
	for _, w := range plainWord.FindAllString(message, -1) {
		if slices.Contains(plainFields, w) {
			out = append(out, []string{w})
		}
	}
	// A check may name the path of another kind ("spec.template.spec.hostPID"
	// on a Pod): its tails, longest first.
	for _, keys := range slices.Clone(out) {
		for i := 1; i < len(keys); i++ {
			out = append(out, keys[i:])
		}
	}
	return out
}

// originAnnotation is where kustomize records the file a resource came from.
const originAnnotation = "config.kubernetes.io/origin"

// attribute places a finding on the rendering of root at the file and line
// that set what it is about: the last patch (in the order kustomize applies
// them) that sets the field the check names, else the resource the object
// came from (the field's line, or the container's, or the object's). The
// object is found by its identity (kind, namespace, name; the container
// the check names). A finding whose source cannot be traced is put on the
// root's kustomization file, and its message says so.
func (kt *kustTree) attribute(f *tg.Finding, rootFile string, docs []*yaml.Node, contents map[string][]byte, lines *lineCache) {
	rootDir := path.Dir(rootFile)
	kind, ns, name, container := splitIdentity(f.Identity)
	f.Identity = "kustomize " + rootFile + " " + f.Identity
	var obj *yaml.Node
	for _, d := range docs {
		md := yamlnode.Get(d, "metadata")
		if scalar(yamlnode.Get(d, "kind")) == kind && scalar(yamlnode.Get(md, "name")) == name && scalar(yamlnode.Get(md, "namespace")) == ns {
			obj = d
			break
		}
	}
	if container == "" && obj != nil {
		// Messages that name a container without single quotes
		// ("container \"app\" of deployment", "Container app in deployment"):
		// its place, not its identity (which stays as the loose file's).
		for _, m := range containerWord.FindAllStringSubmatch(f.Message, -1) {
			if containerNode(obj, m[1]) != nil {
				container = m[1]
				break
			}
		}
	}
	file, line, end := kt.source(obj, kind, name, container, fieldsNamed(f.Message), rootDir, contents)
	if file == "" {
		f.Location = tg.Location{Path: rootFile, StartLine: 1, EndLine: 1}
		f.Message += fmt.Sprintf(" (in the rendering of kustomization %s; the file that sets it could not be traced, so it is reported on the kustomization)", rootFile)
	} else {
		f.Location = tg.Location{Path: file, StartLine: line, EndLine: end}
		f.Message += fmt.Sprintf(" (in the rendering of kustomization %s)", rootFile)
	}
	f.Fingerprint = tg.Fingerprint(tg.EngineIaC, f.RuleID, f.Location.Path, f.Identity)
	f.TieBreak = ""
	if f.Misconfig != nil {
		f.Misconfig.InlineIgnoreLine = 0
		if f.Misconfig.InlineIgnored {
			f.Misconfig.InlineIgnoreLine = ignoreCommentLine(lines.all(f.Location.Path), f.Location.StartLine, []string{f.RuleID})
		}
	}
}

// splitIdentity reads k8sIdentity's "kind/namespace/name[/container=LIST:NAME]".
func splitIdentity(id string) (kind, ns, name, container string) {
	if i := strings.Index(id, "/container="); i >= 0 {
		c := id[i+len("/container="):]
		if j := strings.Index(c, ":"); j >= 0 {
			container = c[j+1:]
		}
		id = id[:i]
	}
	parts := strings.SplitN(id, "/", 3)
	if len(parts) == 3 {
		kind, ns, name = parts[0], parts[1], parts[2]
	}
	return
}

// source finds the file and lines that set keys (a field under the
// container, or under the object) of the rendered object obj.
func (kt *kustTree) source(obj *yaml.Node, kind, name, container string, fields [][]string, rootDir string, contents map[string][]byte) (string, int, int) {
	if obj == nil {
		return "", 0, 0
	}
	origin, generated := "", false
	if o := scalar(yamlnode.Get(yamlnode.Get(yamlnode.Get(obj, "metadata"), "annotations"), originAnnotation)); o != "" {
		var v struct {
			Path         string `yaml:"path"`
			Repo         string `yaml:"repo"`
			ConfiguredIn string `yaml:"configuredIn"`
		}
		if yaml.Unmarshal([]byte(o), &v) == nil && v.Repo == "" {
			if v.ConfiguredIn != "" {
				generated = true // made by a generator: no file holds it
			} else if v.Path != "" {
				origin = path.Join(rootDir, v.Path)
			}
		}
	}
	// The patches, last applied first.
	var patches []kustPatch
	for _, k := range kt.closureOf(rootDir) {
		patches = append(slices.Clone(k.patches), patches...) // bases' patches apply before their includers'
	}
	for _, keys := range fields {
		for _, p := range slices.Backward(patches) {
			if n, file := p.find(kind, name, container, keys, contents); n != nil {
				return file, n.Line, lastLine(n)
			}
		}
	}
	var doc *yaml.Node
	if origin != "" {
		doc = matchDoc(yamlDocs(contents[origin]), kind, name)
	} else if !generated {
		// No origin annotation (the root asks for other build metadata):
		// the resource files of the build are searched by identity.
		for _, k := range kt.closureOf(rootDir) {
			for _, f := range k.files {
				if d := matchDoc(yamlDocs(contents[f]), kind, name); d != nil && sameKindName(d, kind, name) {
					origin, doc = f, d
					break
				}
			}
			if doc != nil {
				break
			}
		}
	}
	if doc == nil {
		return "", 0, 0
	}
	scope := doc
	if container != "" {
		if c := containerNode(doc, container); c != nil {
			scope = c
		}
	}
	for _, keys := range fields {
		if n := findKeys(scope, keys); n != nil {
			return origin, n.Line, lastLine(n)
		}
	}
	return origin, scope.Line, lastLine(scope)
}

// closureOf is the closure of the kustomization in dir, root first.
func (kt *kustTree) closureOf(dir string) []*kustomization {
	if k := kt.byDir[dir]; k != nil {
		return kt.closure(k)
	}
	return nil
}

// find returns the node of a patch that sets keys on the object (and
// container), with the patch's file.
func (p kustPatch) find(kind, name, container string, keys []string, contents map[string][]byte) (*yaml.Node, string) {
	if p.kind != "" && p.kind != kind || p.regx != "" && !nameMatches(p.regx, name) {
		return nil, ""
	}
	if p.file == "" && p.inline != nil {
		// An inline patch: its text is parsed on its own, and its lines
		// put back where the text starts in the kustomization.
		inner := &kustPatch{file: p.kfile, kind: p.kind, regx: p.regx}
		text := []byte(p.inline.Value)
		if p.inline.Kind != yaml.ScalarNode {
			text, _ = yaml.Marshal(p.inline)
		}
		n, _ := inner.findIn(yamlDocs(text), kind, name, container, keys)
		if n == nil {
			return nil, ""
		}
		at := p.inline.Line
		if p.inline.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			at += n.Line // the text starts on the line after the indicator
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Line: at}, p.kfile
	}
	return p.findIn(yamlDocs(contents[p.file]), kind, name, container, keys)
}

// findIn looks for keys in a patch's documents.
func (p *kustPatch) findIn(docs []*yaml.Node, kind, name, container string, keys []string) (*yaml.Node, string) {
	for _, d := range docs {
		if d.Kind == yaml.SequenceNode { // a JSON 6902 patch
			for _, op := range d.Content {
				if n := jsonPatchSets(op, keys); n != nil {
					return n, p.file
				}
			}
			continue
		}
		if p.regx == "" && !sameKindName(d, kind, name) {
			continue
		}
		scope := d
		if container != "" {
			if scope = containerNode(d, container); scope == nil {
				continue
			}
		}
		if n := findKeys(scope, keys); n != nil {
			return n, p.file
		}
	}
	return nil, ""
}

// jsonPatchSets returns the node of a JSON 6902 operation that adds or
// replaces keys (in its path, or in its value).
func jsonPatchSets(op *yaml.Node, keys []string) *yaml.Node {
	switch scalar(yamlnode.Get(op, "op")) {
	case "add", "replace":
	default:
		return nil
	}
	var segs []string
	for s := range strings.SplitSeq(scalar(yamlnode.Get(op, "path")), "/") {
		if s != "" && strings.Trim(s, "0123456789-") != "" {
			segs = append(segs, s)
		}
	}
	val := yamlnode.Get(op, "value")
	for i := 0; i <= len(keys); i++ {
		// keys[:i] end the path, keys[i:] are in the value
		if len(segs) < i || !slices.Equal(segs[len(segs)-i:], keys[:i]) {
			continue
		}
		if i == len(keys) {
			return val
		}
		if i > 0 || len(segs) == 0 {
			if n := findKeys(val, keys[i:]); n != nil {
				return n
			}
		}
	}
	return nil
}

// nameMatches tells whether a patch target's name (a regular expression
// in kustomize) selects name, or the name before a prefix or suffix.
func nameMatches(re, name string) bool {
	r, err := regexp.Compile("^(?:" + re + ")$")
	if err != nil {
		return re == name
	}
	return r.MatchString(name) || strings.Contains(name, re)
}

// sameKindName tells whether a patch document is about the object: same
// kind and the same name, or the name the object had before a prefix or
// suffix was added.
func sameKindName(d *yaml.Node, kind, name string) bool {
	n := scalar(yamlnode.Get(yamlnode.Get(d, "metadata"), "name"))
	return scalar(yamlnode.Get(d, "kind")) == kind && n != "" && (n == name || strings.Contains(name, n))
}

// matchDoc is the document of a resource file that is the object: same
// kind, exact name first.
func matchDoc(docs []*yaml.Node, kind, name string) *yaml.Node {
	var loose *yaml.Node
	for _, d := range docs {
		if !sameKindName(d, kind, name) {
			continue
		}
		if scalar(yamlnode.Get(yamlnode.Get(d, "metadata"), "name")) == name {
			return d
		}
		if loose == nil {
			loose = d
		}
	}
	if loose == nil && len(docs) == 1 {
		return docs[0]
	}
	return loose
}

// containerNode is the item of a containers list named name.
func containerNode(doc *yaml.Node, name string) *yaml.Node {
	var out *yaml.Node
	yamlnode.Containers(doc, func(_ string, c *yaml.Node) {
		if out == nil && scalar(yamlnode.Get(c, "name")) == name {
			out = c
		}
	})
	return out
}

// findKeys finds, depth first, the value at the path keys (nested
// mappings, lists looked through) under n.
func findKeys(n *yaml.Node, keys []string) *yaml.Node {
	if n == nil || len(keys) == 0 {
		return nil
	}
	if v := getPath(n, keys); v != nil {
		return v
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue
		}
		if v := findKeys(c, keys); v != nil {
			return v
		}
	}
	return nil
}

func getPath(n *yaml.Node, keys []string) *yaml.Node {
	for _, k := range keys {
		if n = yamlnode.Get(n, k); n == nil {
			return nil
		}
	}
	return n
}
