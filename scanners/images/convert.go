package images

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/types"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/vulndb"
)

// convert turns Trivy's report for one image into findings, one per
// (image, vulnerability, package), located on the first checkout line that
// references the image when there is one.
func convert(ref Ref, report types.Report, ignoreUnfixed bool, rules map[string]scanners.Rule) []scanners.Finding {
	type key struct{ vuln, pkg, version string }
	var out []scanners.Finding
	display, repo := ref.Identity(report.Metadata.RepoTags)
	index := map[key]int{}
	digest := report.Metadata.ImageID
	for _, r := range report.Results {
		for _, v := range r.Vulnerabilities {
			if ignoreUnfixed && v.FixedVersion == "" {
				continue
			}
			k := key{v.VulnerabilityID, v.PkgName, v.InstalledVersion}
			if i, ok := index[k]; ok {
				// The same package at another path (e.g. two copies of a wheel).
				if v.PkgPath != "" && !strings.Contains(out[i].Vuln.PkgPath, v.PkgPath) {
					out[i].Vuln.PkgPath += ", " + v.PkgPath
				}
				continue
			}
			index[k] = len(out)
			out = append(out, finding(ref, display, repo, r, v, digest))
			if have, ok := rules[v.VulnerabilityID]; ok {
				// Images of different distributions rate one CVE each their
				// own way: the description does not depend on their order.
				rules[v.VulnerabilityID] = scanners.MergeRule(have, rule(v))
			} else {
				rules[v.VulnerabilityID] = rule(v)
			}
		}
	}
	return out
}

func finding(ref Ref, display, repo string, r types.Result, v types.DetectedVulnerability, digest string) scanners.Finding {
	sev := normalizeSeverity(v.Severity)
	score, vector := cvss(v)
	fixed := v.FixedVersion
	fixText, title := FixText(v), Title(v)
	msg := fmt.Sprintf("%s (%s) in image %s: package %s %s is vulnerable; %s. %s",
		v.VulnerabilityID, sev, display, v.PkgName, v.InstalledVersion, fixText, strings.TrimSuffix(title, "."))
	loc := scanners.Location{Image: display}
	if len(ref.Places) > 0 {
		p := ref.Places[0]
		loc.Path, loc.StartLine, loc.EndLine = p.Path, p.StartLine, p.EndLine
	}
	class := "os-pkgs"
	if r.Class == types.ClassLangPkg {
		class = "lang-pkgs"
	}
	tags := []string{"security", "vulnerability", class}
	if r.Type != "" {
		tags = append(tags, string(r.Type))
	}
	return scanners.Finding{
		Engine:   scanners.EngineImage,
		RuleID:   v.VulnerabilityID,
		Title:    title,
		Severity: sev,
		Message:  msg,
		Location: loc,
		// The repository, not the tag or digest: a rebuilt image keeps its
		// findings' identity, so a baseline still matches.
		Fingerprint: scanners.Fingerprint(scanners.EngineImage, v.VulnerabilityID, repo, v.PkgName, v.PkgPath),
		Identity:    repo + "|" + v.PkgName + "|" + v.PkgPath,
		HelpURI:     helpURI(v),
		Tags:        tags,
		Vuln: &scanners.VulnDetail{
			Package:          v.PkgName,
			PackageType:      string(r.Type),
			InstalledVersion: v.InstalledVersion,
			FixedVersion:     fixed,
			CVSSScore:        score,
			CVSSVector:       vector,
			ImageDigest:      digest,
			PkgPath:          v.PkgPath,
		},
	}
}

func rule(v types.DetectedVulnerability) scanners.Rule {
	title := Title(v)
	score, _ := cvss(v)
	refs := append([]string{}, v.References...)
	if u := helpURI(v); u != "" {
		refs = append([]string{u}, refs...)
	}
	if len(refs) > 10 {
		refs = refs[:10]
	}
	return scanners.Rule{
		ID:          v.VulnerabilityID,
		Title:       title,
		Description: strings.TrimSpace(v.Description),
		Resolution:  "Update the affected package to a fixed version (rebuild the image on a patched base image), or remove it.",
		HelpURI:     helpURI(v),
		References:  dedupe(refs),
		Severity:    normalizeSeverity(v.Severity),
		CVSSScore:   score,
		Tags:        []string{"security", "vulnerability"},
	}
}

func helpURI(v types.DetectedVulnerability) string {
	if v.PrimaryURL != "" {
		return v.PrimaryURL
	}
	return "https://avd.aquasec.com/nvd/" + strings.ToLower(v.VulnerabilityID)
}

// cvss picks the CVSS v3 score: the severity source's, else NVD's, else the
// highest of the others.
func cvss(v types.DetectedVulnerability) (float64, string) {
	if c, ok := v.CVSS[v.SeveritySource]; ok && c.V3Score > 0 {
		return c.V3Score, c.V3Vector
	}
	if c, ok := v.CVSS["nvd"]; ok && c.V3Score > 0 {
		return c.V3Score, c.V3Vector
	}
	var best dbtypes.CVSS
	ids := make([]string, 0, len(v.CVSS))
	for id := range v.CVSS {
		ids = append(ids, string(id))
	}
	sort.Strings(ids)
	for _, id := range ids {
		if c := v.CVSS[dbtypes.SourceID(id)]; c.V3Score > best.V3Score {
			best = c
		}
	}
	return best.V3Score, best.V3Vector
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Explain returns a vulnerability's details from the DB in cacheDir.
func Explain(cacheDir, id string) (scanners.Rule, bool, error) {
	h, err := vulndb.Open(vulndb.Dir(cacheDir))
	if err != nil {
		return scanners.Rule{}, false, err
	}
	defer h.Close()
	v, err := db.Config{}.GetVulnerability(id)
	if err != nil {
		return scanners.Rule{}, false, nil
	}
	dv := types.DetectedVulnerability{VulnerabilityID: id, Vulnerability: v}
	dv.Severity = v.Severity
	if sev, ok := v.VendorSeverity["nvd"]; ok && dv.Severity == "" {
		dv.Severity = sev.String()
	}
	r := rule(dv)
	// Explained by ID, the vulnerability may be an image's or a lockfile's.
	r.Resolution = "Update the affected package to a fixed version: in an image, rebuild it on a patched base image or upgrade the package; in a lockfile (deps engine), update the dependency in its manifest and regenerate the lockfile. Or remove it."
	return r, true, nil
}

// normalizeSeverity maps Trivy's severity names.
func normalizeSeverity(s string) scanners.Severity {
	sev, err := scanners.ParseSeverity(strings.ToUpper(s))
	if err != nil {
		return scanners.SeverityUnknown
	}
	return sev
}

// VulnRule is the rule of a detected vulnerability, as the image engine
// writes it (for the deps engine).
func VulnRule(v types.DetectedVulnerability) scanners.Rule { return rule(v) }

// CVSS is a detected vulnerability's CVSS v3 score and vector (see cvss).
func CVSS(v types.DetectedVulnerability) (float64, string) { return cvss(v) }

// Severity is Trivy's severity name as a Tollgate severity.
func Severity(s string) scanners.Severity { return normalizeSeverity(s) }

// FixText says how a detected vulnerability is fixed: "fixed in V", or
// "no fixed version yet" with the vendor's status.
func FixText(v types.DetectedVulnerability) string {
	if v.FixedVersion != "" {
		return "fixed in " + v.FixedVersion
	}
	if v.Status != dbtypes.StatusUnknown {
		return "no fixed version yet (" + v.Status.String() + ")"
	}
	return "no fixed version yet"
}

// Title is a detected vulnerability's title, its ID when the DB has none.
func Title(v types.DetectedVulnerability) string {
	if v.Title == "" {
		return v.VulnerabilityID
	}
	return v.Title
}

// HelpURI is a detected vulnerability's advisory page.
func HelpURI(v types.DetectedVulnerability) string { return helpURI(v) }
