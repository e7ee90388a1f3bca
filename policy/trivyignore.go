package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/aquasecurity/trivy/pkg/purl"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
)

// Ignore files, read from the policy source (the checkout, or in a
// pull-request build the target branch).
const (
	GitleaksIgnoreFile  = ".gitleaksignore"
	TrivyIgnoreFile     = ".trivyignore"
	TrivyIgnoreYAMLFile = ".trivyignore.yaml"
)

// trivyEngines are the engines Trivy's ignore files apply to, as in Trivy:
// misconfigurations and vulnerabilities. Secrets have their own files.
func trivyEngines() []string {
	return []string{scanners.EngineIaC, scanners.EngineImage, scanners.EngineDeps}
}

// maxIgnoreFile bounds each ignore file.
const maxIgnoreFile = 4 << 20

// LoadIgnoreFiles reads .gitleaksignore, .trivyignore and .trivyignore.yaml
// from files. A file that is missing is no error; one that is refused or
// does not parse is reported (naming the file) and its valid lines still
// apply.
func LoadIgnoreFiles(files checkout.Files) ([]IgnoreRule, error) {
	var rules []IgnoreRule
	var errs []error
	for _, f := range []struct {
		name  string
		parse func([]byte, string) ([]IgnoreRule, error)
	}{
		{GitleaksIgnoreFile, ParseGitleaksIgnore},
		{TrivyIgnoreFile, ParseTrivyIgnore},
		{TrivyIgnoreYAMLFile, ParseTrivyIgnoreYAML},
	} {
		b, err := files.ReadFile(f.name, maxIgnoreFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s) was not read: %w", f.name, files.Origin(), err))
			continue
		}
		r, err := f.parse(b, f.name)
		errs = append(errs, err)
		rules = append(rules, r...)
	}
	return rules, errors.Join(errs...)
}

// ParseGitleaksIgnore reads .gitleaksignore: one gitleaks fingerprint a
// line (FILE:RULE:LINE or COMMIT:FILE:RULE:LINE), '#' comments.
func ParseGitleaksIgnore(b []byte, name string) ([]IgnoreRule, error) {
	var rules []IgnoreRule
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		switch len(parts) {
		case 3:
			parts[0] = strings.ReplaceAll(parts[0], `\`, "/")
		case 4:
			parts[1] = strings.ReplaceAll(parts[1], `\`, "/")
		default:
			continue
		}
		rules = append(rules, IgnoreRule{GitleaksFingerprint: strings.Join(parts, ":"), Engines: []string{scanners.EngineSecrets},
			Reason: "listed in " + name, Source: fmt.Sprintf("%s:%d", name, n)})
	}
	if err := sc.Err(); err != nil {
		return rules, fmt.Errorf("%s: %w", name, err)
	}
	return rules, nil
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
		r := IgnoreRule{ID: fields[0], Engines: trivyEngines(), Reason: "listed in " + name, Source: fmt.Sprintf("%s:%d", name, n)}
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

// ParseTrivyIgnoreYAML reads .trivyignore.yaml: its vulnerabilities and
// misconfigurations sections. Its secrets section is for Trivy's own secret
// scanner, which Tollgate does not use: it is reported, not applied
// (.gitleaksignore and .tollgate.yaml suppress secrets).
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
	if len(doc.Secrets) > 0 {
		errs = append(errs, fmt.Errorf("%s:%d: the secrets section applies to Trivy's secret scanner, not to Tollgate's (gitleaks): not applied; use .gitleaksignore or an ignore entry in .tollgate.yaml", name, doc.Secrets[0].Line))
	}
	for engines, nodes := range map[string][]yaml.Node{
		scanners.EngineImage + "," + scanners.EngineDeps: doc.Vulnerabilities,
		scanners.EngineIaC: doc.Misconfigurations,
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
			base := IgnoreRule{ID: e.ID, Reason: e.Statement, Source: fmt.Sprintf("%s:%d", name, n.Line), Engines: strings.Split(engines, ",")}
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

// purlName is the package name Trivy gives the package a package URL names
// (pkg:npm/%40babel/core@7 is "@babel/core", pkg:maven/org.x/y@1 is
// "org.x:y"), by Trivy's own conversion; the URL's last segment when Trivy
// cannot read it.
func purlName(s string) string {
	if p, err := purl.FromString(s); err == nil {
		if pkg := p.Package(); pkg != nil && pkg.Name != "" {
			return pkg.Name
		}
	}
	p := strings.TrimPrefix(s, "pkg:")
	if i := strings.IndexAny(p, "@?#"); i >= 0 {
		p = p[:i]
	}
	name := p[strings.LastIndexByte(p, '/')+1:]
	if u, err := url.PathUnescape(name); err == nil {
		return u
	}
	return name
}
