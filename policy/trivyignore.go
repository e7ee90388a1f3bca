package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/scanners"
)

// Trivy's ignore files, read from the scan root as `trivy` reads them from
// its working directory.
const (
	TrivyIgnoreFile     = ".trivyignore"
	TrivyIgnoreYAMLFile = ".trivyignore.yaml"
)

// TrivyIgnores suppresses what .trivyignore and .trivyignore.yaml name.
type TrivyIgnores struct {
	Root string
	Now  time.Time
	Log  *slog.Logger
}

// Name implements Step.
func (TrivyIgnores) Name() string { return "trivyignore" }

// Process implements Step.
func (t TrivyIgnores) Process(results []scanners.Result) error {
	var rules []IgnoreRule
	var errs []error
	if b, err := readRootFile(t.Root, TrivyIgnoreFile); err != nil {
		errs = append(errs, err)
	} else if b != nil {
		r, err := ParseTrivyIgnore(b, TrivyIgnoreFile)
		errs = append(errs, err)
		rules = append(rules, r...)
	}
	if b, err := readRootFile(t.Root, TrivyIgnoreYAMLFile); err != nil {
		errs = append(errs, err)
	} else if b != nil {
		r, err := ParseTrivyIgnoreYAML(b, TrivyIgnoreYAMLFile)
		errs = append(errs, err)
		rules = append(rules, r...)
	}
	if err := applyIgnores(t.Log, results, rules, t.Now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readRootFile reads a small configuration file at the root, never through
// a symlink; nil without error when it does not exist.
func readRootFile(root, name string) ([]byte, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fi, err := r.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if fi.Size() > 1<<20 {
		return nil, fmt.Errorf("%s: larger than 1 MiB", name)
	}
	b, err := r.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// ParseTrivyIgnore reads the text format: one ID a line, an optional
// "exp:YYYY-MM-DD", # comments.
func ParseTrivyIgnore(b []byte, name string) ([]IgnoreRule, error) {
	var rules []IgnoreRule
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		r := IgnoreRule{ID: fields[0], Reason: "listed in " + name, Source: fmt.Sprintf("%s:%d", name, n)}
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(f, "exp:"); ok {
				t, err := ParseExpires(v)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
					continue
				}
				r.Expires = t
			}
		}
		rules = append(rules, r)
	}
	return rules, errors.Join(append(errs, sc.Err())...)
}

type trivyIgnoreEntry struct {
	ID        string   `yaml:"id"`
	Paths     []string `yaml:"paths"`
	PURLs     []string `yaml:"purls"`
	Statement string   `yaml:"statement"`
	ExpiredAt string   `yaml:"expired_at"`
}

// ParseTrivyIgnoreYAML reads .trivyignore.yaml: vulnerabilities,
// misconfigurations and secrets sections (licenses do not apply here).
func ParseTrivyIgnoreYAML(b []byte, name string) ([]IgnoreRule, error) {
	var doc struct {
		Vulnerabilities   []yaml.Node `yaml:"vulnerabilities"`
		Misconfigurations []yaml.Node `yaml:"misconfigurations"`
		Secrets           []yaml.Node `yaml:"secrets"`
		Licenses          []yaml.Node `yaml:"licenses"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var rules []IgnoreRule
	var errs []error
	for engine, nodes := range map[string][]yaml.Node{
		scanners.EngineImage:   doc.Vulnerabilities,
		scanners.EngineIaC:     doc.Misconfigurations,
		scanners.EngineSecrets: doc.Secrets,
	} {
		for _, n := range nodes {
			var e trivyIgnoreEntry
			if err := n.Decode(&e); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %w", name, n.Line, err))
				continue
			}
			if e.ID == "" {
				errs = append(errs, fmt.Errorf("%s:%d: entry without an id", name, n.Line))
				continue
			}
			base := IgnoreRule{ID: e.ID, Reason: e.Statement, Source: fmt.Sprintf("%s:%d", name, n.Line), Engine: engine}
			if base.Reason == "" {
				base.Reason = "listed in " + name
			}
			if e.ExpiredAt != "" {
				t, err := ParseExpires(e.ExpiredAt)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: %w", name, n.Line, err))
					continue
				}
				base.Expires = t
			}
			switch {
			case len(e.Paths) > 0:
				for _, p := range e.Paths {
					r := base
					r.Path = filepath.ToSlash(p)
					rules = append(rules, r)
				}
			case len(e.PURLs) > 0:
				for _, p := range e.PURLs {
					r := base
					r.Package = purlName(p)
					rules = append(rules, r)
				}
			default:
				rules = append(rules, base)
			}
		}
	}
	return rules, errors.Join(errs...)
}

// purlName is the package name of a package URL (pkg:type/ns/name@version).
func purlName(purl string) string {
	p := strings.TrimPrefix(purl, "pkg:")
	if i := strings.IndexAny(p, "@?#"); i >= 0 {
		p = p[:i]
	}
	name := p[strings.LastIndexByte(p, '/')+1:]
	if u, err := url.PathUnescape(name); err == nil {
		return u
	}
	return name
}
