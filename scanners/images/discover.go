package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	helmparser "github.com/aquasecurity/trivy/pkg/iac/scanners/helm/parser"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/internal/yamlnode"
	"github.com/tollgate/tollgate/scanners"
)

// Found is an image the checkout references, and where.
type Found struct {
	Image    string
	Location scanners.Location
	// Kind is dockerfile, kubernetes or compose.
	Kind string
}

// maxManifest bounds the YAML files discovery reads (they are read whole).
const maxManifest = 4 << 20

// Discover lists the images referenced by Dockerfiles (FROM, build-stage
// aliases and scratch skipped, ARG defaults resolved), Kubernetes manifests,
// Helm charts (rendered with their default values) and Compose files
// (image:). What it cannot resolve comes back as a note.
func Discover(ctx context.Context, t *scanners.Target) ([]Found, []scanners.Notification) {
	var (
		found []Found
		notes []scanners.Notification
	)
	charts := map[string]bool{}
	for _, f := range t.Files {
		if strings.EqualFold(path.Base(f.Path), "Chart.yaml") {
			charts[path.Dir(f.Path)] = true
		}
	}
	for _, f := range t.Files {
		var (
			fs []Found
			ns []scanners.Notification
		)
		switch {
		case isDockerfile(f.Path):
			fs, ns = discoverFile(t, f, dockerfileImages)
		case isYAML(f.Path) && f.Size <= maxManifest && !scanners.UnderDir(f.Path, charts):
			fs, ns = discoverFile(t, f, yamlImages)
		default:
			continue
		}
		found = append(found, fs...)
		notes = append(notes, ns...)
	}
	dirs := make([]string, 0, len(charts))
	for d := range charts {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if ctx.Err() != nil {
			break
		}
		fs, ns := helmImages(ctx, t, d)
		found = append(found, fs...)
		notes = append(notes, ns...)
	}
	return found, notes
}

// helmImages renders a chart offline, the way Trivy's Helm scanner does, and
// locates each image on the image: line of the template that produced it.
func helmImages(ctx context.Context, t *scanners.Target, chartDir string) ([]Found, []scanners.Notification) {
	sub, err := iofs.Sub(t.FS(), chartDir)
	if err != nil {
		return nil, nil
	}
	p, err := helmparser.New()
	if err == nil {
		var manifests []helmparser.Manifest
		manifests, err = p.ParseFS(ctx, sub, ".")
		if err == nil {
			return helmManifestImages(t, chartDir, manifests)
		}
	}
	return nil, []scanners.Notification{{Level: scanners.LevelWarning, Code: "helm-render", Path: path.Join(chartDir, "Chart.yaml"),
		Message: fmt.Sprintf("Helm chart %s could not be rendered to discover its images: %v", chartDir, err)}}
}

func helmManifestImages(t *scanners.Target, chartDir string, manifests []helmparser.Manifest) ([]Found, []scanners.Notification) {
	var (
		found []Found
		notes []scanners.Notification
	)
	used := map[string]int{} // template -> image: lines already matched
	for _, m := range manifests {
		template := path.Join(chartDir, m.Path)
		imgs, _ := yamlImages(template, []byte(m.Content))
		lines := imageLines(t, template)
		for _, f := range imgs {
			f.Kind = "helm"
			f.Location = scanners.Location{Path: template, StartLine: 1, EndLine: 1}
			if i := used[template]; i < len(lines) {
				f.Location.StartLine, f.Location.EndLine = lines[i], lines[i]
			}
			used[template]++
			found = append(found, f)
		}
	}
	return found, notes
}

// imageLines lists the lines of a template that set an image.
func imageLines(t *scanners.Target, p string) []int {
	fh, err := t.Open(p)
	if err != nil {
		return nil
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxManifest))
	if err != nil {
		return nil
	}
	var out []int
	for i, l := range strings.Split(string(b), "\n") {
		if k := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- ")); strings.HasPrefix(k, "image:") {
			out = append(out, i+1)
		}
	}
	return out
}

func discoverFile(t *scanners.Target, f scanners.File, parse func(string, []byte) ([]Found, []scanners.Notification)) ([]Found, []scanners.Notification) {
	fh, err := t.Open(f.Path)
	if err != nil {
		return nil, []scanners.Notification{{Level: scanners.LevelWarning, Code: "unreadable", Path: f.Path,
			Message: fmt.Sprintf("cannot read %s to discover images: %v", f.Path, scanners.Cause(err))}}
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxManifest))
	if err != nil {
		return nil, []scanners.Notification{{Level: scanners.LevelWarning, Code: "unreadable", Path: f.Path,
			Message: fmt.Sprintf("cannot read %s to discover images: %v", f.Path, err)}}
	}
	return parse(f.Path, b)
}

func isDockerfile(p string) bool {
	base := path.Base(p)
	ext := path.Ext(base)
	for _, n := range []string{"Dockerfile", "Containerfile"} {
		if strings.EqualFold(base, n+ext) || strings.EqualFold(ext, "."+n) {
			return true
		}
	}
	return false
}

func isYAML(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

// dockerfileImages reads FROM lines. Global ARGs (before the first FROM)
// with defaults are substituted; stage names and scratch are skipped.
func dockerfileImages(p string, content []byte) ([]Found, []scanners.Notification) {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return nil, []scanners.Notification{{Level: scanners.LevelWarning, Code: "parse-error", Path: p,
			Message: fmt.Sprintf("%s could not be parsed to discover images: %v", p, err)}}
	}
	args := map[string]string{}
	stages := map[string]bool{}
	seenFrom := false
	var (
		found []Found
		notes []scanners.Notification
	)
	for _, n := range res.AST.Children {
		switch strings.ToLower(n.Value) {
		case "arg":
			if seenFrom {
				continue // stage-scoped ARGs cannot affect a FROM line
			}
			for a := n.Next; a != nil; a = a.Next {
				k, v, ok := strings.Cut(a.Value, "=")
				if ok {
					args[k] = strings.Trim(v, `"'`)
				} else if _, exists := args[k]; !exists {
					args[k] = ""
				}
			}
		case "from":
			seenFrom = true
			if n.Next == nil {
				continue
			}
			raw := n.Next.Value
			if n.Next.Next != nil && strings.EqualFold(n.Next.Next.Value, "as") && n.Next.Next.Next != nil {
				stages[strings.ToLower(n.Next.Next.Next.Value)] = true
			}
			img, unresolved := expand(raw, args)
			switch {
			case unresolved != "":
				notes = append(notes, scanners.Notification{Level: scanners.LevelNote, Code: "image-unresolved", Path: p, Line: n.StartLine,
					Message: fmt.Sprintf("%s:%d: FROM %s uses $%s, which has no default; not scanned", p, n.StartLine, raw, unresolved)})
				continue
			case strings.EqualFold(img, "scratch") || stages[strings.ToLower(img)]:
				continue
			}
			if f, note := validImage(img, p, n.StartLine, "dockerfile"); note != nil {
				notes = append(notes, *note)
			} else {
				found = append(found, f)
			}
		}
	}
	return found, notes
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand substitutes $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} from
// vars; it returns the name of the first variable it could not resolve.
func expand(s string, vars map[string]string) (string, string) {
	unresolved := ""
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		g := varRef.FindStringSubmatch(m)
		name, op, word := g[1], g[2], g[3]
		if name == "" {
			name = g[4]
		}
		v, ok := vars[name]
		switch op {
		case ":-":
			if v == "" {
				return word
			}
			return v
		case "-":
			if !ok {
				return word
			}
			return v
		case ":+":
			if v != "" {
				return word
			}
			return ""
		case "+":
			if ok {
				return word
			}
			return ""
		}
		if v == "" && unresolved == "" {
			unresolved = name
		}
		return v
	})
	return out, unresolved
}

func validImage(img, p string, line int, kind string) (Found, *scanners.Notification) {
	if _, err := name.ParseReference(img); err != nil {
		return Found{}, &scanners.Notification{Level: scanners.LevelNote, Code: "image-invalid", Path: p, Line: line,
			Message: fmt.Sprintf("%s:%d: %q is not a valid image reference; not scanned", p, line, img)}
	}
	return Found{Image: img, Kind: kind, Location: scanners.Location{Path: p, StartLine: line, EndLine: line}}, nil
}

// yamlImages reads image: fields of Kubernetes objects (any document with
// apiVersion and kind) and Compose services.
func yamlImages(p string, content []byte) ([]Found, []scanners.Notification) {
	if !bytes.Contains(content, []byte("image")) {
		return nil, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(content))
	var (
		found []Found
		notes []scanners.Notification
	)
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// Malformed YAML is the IaC engine's to report.
			break
		}
		root := &doc
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		if root.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case yamlnode.Get(root, "apiVersion") != nil && yamlnode.Get(root, "kind") != nil:
			yamlnode.Containers(root, func(_ string, c *yaml.Node) {
				if img := yamlnode.Get(c, "image"); img != nil && img.Kind == yaml.ScalarNode {
					addImage(&found, &notes, img.Value, p, img.Line, "kubernetes")
				}
			})
		case isCompose(p, root):
			services := yamlnode.Get(root, "services")
			for i := 0; i+1 < len(services.Content); i += 2 {
				svc := services.Content[i+1]
				if svc.Kind != yaml.MappingNode {
					continue
				}
				if img := yamlnode.Get(svc, "image"); img != nil && img.Kind == yaml.ScalarNode {
					v, unresolved := expand(img.Value, nil)
					if unresolved != "" || strings.Contains(v, "$") {
						notes = append(notes, scanners.Notification{Level: scanners.LevelNote, Code: "image-unresolved", Path: p, Line: img.Line,
							Message: fmt.Sprintf("%s:%d: image %s uses a variable without a default; not scanned", p, img.Line, img.Value)})
						continue
					}
					addImage(&found, &notes, v, p, img.Line, "compose")
				}
			}
		}
	}
	return found, notes
}

func addImage(found *[]Found, notes *[]scanners.Notification, img, p string, line int, kind string) {
	img = strings.TrimSpace(img)
	if img == "" {
		return
	}
	if f, note := validImage(img, p, line, kind); note != nil {
		*notes = append(*notes, *note)
	} else {
		*found = append(*found, f)
	}
}

func isCompose(p string, root *yaml.Node) bool {
	base := strings.ToLower(path.Base(p))
	named := strings.HasPrefix(base, "docker-compose") || strings.HasPrefix(base, "compose")
	services := yamlnode.Get(root, "services")
	return services != nil && services.Kind == yaml.MappingNode && (named || yamlnode.Get(root, "version") != nil)
}
