package deps

import (
	"fmt"
	"slices"
	"strings"

	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/types"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/images"
)

// pins are the packages a tree's lockfiles pin: file, package and version.
type pins struct {
	set map[pin]bool
}

type pin struct{ file, name, version string }

func pinsOf(b blobResult) *pins {
	p := &pins{set: map[pin]bool{}}
	for _, app := range b.apps {
		for _, pkg := range app.Packages {
			p.set[pin{app.FilePath, pkg.Name, pkg.Version}] = true
		}
	}
	return p
}

// has reports whether the target pinned the package at that version in
// that file: a vulnerability in it is not the pull request's doing.
func (p *pins) has(file, name, version string) bool {
	return p != nil && p.set[pin{file, name, version}]
}

// convert turns Trivy's report into findings, one per (lockfile,
// vulnerability, package, version), on the lockfile's line of the package.
// With base (a pull-request build), a vulnerability in a package the
// target branch already pinned at that version is pre-existing.
func convert(r report, contents map[string][]byte, ignoreUnfixed bool, base *pins, failOn string, rules map[string]scanners.Rule) []scanners.Finding {
	var out []scanners.Finding
	for _, res := range r.Results {
		byID := make(map[string]*ftypes.Package, len(res.Packages))
		for i := range res.Packages {
			byID[res.Packages[i].ID] = &res.Packages[i]
		}
		parents := reverse(res.Packages)
		seen := map[string]bool{}
		for _, v := range res.Vulnerabilities {
			if ignoreUnfixed && v.FixedVersion == "" {
				continue
			}
			key := v.VulnerabilityID + "\x00" + v.PkgID + "\x00" + v.PkgName + "\x00" + v.InstalledVersion
			if seen[key] {
				continue
			}
			seen[key] = true
			pkg := byID[v.PkgID]
			f := finding(res, v, pkg, directOf(v.PkgID, byID, parents))
			if f.Location.StartLine == 0 {
				// The parser gives no line (go.mod, some manifests): the
				// first line that names the package at that version.
				if n := lineOf(contents[res.Target], v.PkgName, v.InstalledVersion); n > 0 {
					f.Location.StartLine, f.Location.EndLine = n, n
				}
			}
			if base != nil {
				if base.has(res.Target, v.PkgName, v.InstalledVersion) {
					f.BaselineState = scanners.BaselineUnchanged
					f.Message += " It was already pinned on the target branch (pre-existing)."
					if failOn == FailOnIntroduced {
						f.PreExisting = true
						f.Message += " Not counted for this pull request (deps.fail-on: introduced)."
					}
				} else {
					f.BaselineState = scanners.BaselineNew
					f.Message += " The pull request introduces it."
				}
			}
			out = append(out, f)
			if have, ok := rules[v.VulnerabilityID]; ok {
				rules[v.VulnerabilityID] = scanners.MergeRule(have, depsRule(v))
			} else {
				rules[v.VulnerabilityID] = depsRule(v)
			}
		}
	}
	return out
}

func depsRule(v types.DetectedVulnerability) scanners.Rule {
	r := images.VulnRule(v)
	r.Resolution = "Update the dependency to a fixed version (in its manifest, then regenerate the lockfile), or remove it."
	return r
}

// reverse maps each package ID to the IDs of the packages that depend on it.
func reverse(pkgs []ftypes.Package) map[string][]string {
	out := map[string][]string{}
	for _, p := range pkgs {
		for _, d := range p.DependsOn {
			out[d] = append(out[d], p.ID)
		}
	}
	return out
}

// directOf lists the direct dependencies that pull an indirect package
// in, from the lockfile's graph; nil when
// the lockfile does not say.
func directOf(id string, byID map[string]*ftypes.Package, parents map[string][]string) []string {
	if p := byID[id]; p != nil && p.Relationship == ftypes.RelationshipDirect {
		return nil
	}
	seen := map[string]bool{id: true}
	queue := []string{id}
	var out []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if p := byID[cur]; p != nil && p.Relationship == ftypes.RelationshipDirect {
			out = append(out, display(p))
			continue
		}
		for _, up := range parents[cur] {
			if !seen[up] {
				seen[up] = true
				queue = append(queue, up)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func display(p *ftypes.Package) string {
	if p.Version == "" {
		return p.Name
	}
	return p.Name + "@" + p.Version
}

func finding(res types.Result, v types.DetectedVulnerability, pkg *ftypes.Package, via []string) scanners.Finding {
	sev := images.Severity(v.Severity)
	score, vector := images.CVSS(v)
	fixText, title := images.FixText(v), images.Title(v)
	relationship, path := "", ""
	if pkg != nil {
		switch pkg.Relationship {
		case ftypes.RelationshipDirect:
			relationship, path = "direct", "a direct dependency"
		case ftypes.RelationshipIndirect:
			relationship, path = "indirect", "a transitive dependency"
			if len(via) > 0 {
				path += " pulled in by " + strings.Join(via, ", ")
			}
		}
	}
	pinned := ""
	if path != "" {
		pinned = " (" + path + ")"
	}
	msg := fmt.Sprintf("%s (%s): %s %s%s, pinned in %s, is vulnerable; %s. %s.",
		v.VulnerabilityID, sev, v.PkgName, v.InstalledVersion, pinned, res.Target, fixText, strings.TrimSuffix(title, "."))
	loc := scanners.Location{Path: res.Target}
	if pkg != nil && len(pkg.Locations) > 0 {
		loc.StartLine, loc.EndLine = pkg.Locations[0].StartLine, pkg.Locations[0].EndLine
	}
	purl := ""
	if v.PkgIdentifier.PURL != nil {
		purl = v.PkgIdentifier.PURL.String()
	}
	tags := []string{"security", "vulnerability", "dependency"}
	if res.Type != "" {
		tags = append(tags, string(res.Type))
	}
	return scanners.Finding{
		Engine:   scanners.EngineDeps,
		RuleID:   v.VulnerabilityID,
		Title:    title,
		Severity: sev,
		Message:  msg,
		Location: loc,
		// The file, the package and the vulnerability, not the version: an
		// upgrade that is still vulnerable is the same finding, updated.
		Fingerprint: scanners.Fingerprint(scanners.EngineDeps, v.VulnerabilityID, res.Target, v.PkgName),
		Identity:    v.PkgName,
		TieBreak:    v.InstalledVersion,
		HelpURI:     images.HelpURI(v),
		Tags:        tags,
		Vuln: &scanners.VulnDetail{
			Package:          v.PkgName,
			PackageType:      string(res.Type),
			InstalledVersion: v.InstalledVersion,
			FixedVersion:     v.FixedVersion,
			CVSSScore:        score,
			CVSSVector:       vector,
			PURL:             purl,
			Relationship:     relationship,
			Via:              via,
		},
	}
}

// lineOf is the first line of a manifest that names the package with its
// version, else the first that names the package (0: none).
func lineOf(b []byte, name, version string) int {
	if len(b) == 0 || name == "" {
		return 0
	}
	first := 0
	for i, line := range strings.Split(string(b), "\n") {
		if !containsWord(line, name) {
			continue
		}
		if version != "" && strings.Contains(line, strings.TrimPrefix(version, "v")) {
			return i + 1
		}
		if first == 0 {
			first = i + 1
		}
	}
	return first
}

// containsWord reports whether s holds word not inside a longer name
// (golang.org/x/text is not golang.org/x/text/v2's line).
func containsWord(s, word string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		if (start == 0 || !nameByte(s[start-1])) && (end == len(s) || !nameByte(s[end])) {
			return true
		}
		i = start + 1
	}
}

func nameByte(b byte) bool {
	return b == '/' || b == '-' || b == '_' || b == '.' || b == '@' || b == ':' ||
		b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}
