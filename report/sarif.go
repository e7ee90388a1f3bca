package report

import (
	"bufio"
	"encoding/json"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/tollgate/tollgate/internal/paths"
	"github.com/tollgate/tollgate/scanners"
)

// SARIF constants shared by every run.
const (
	// SchemaURI is the schema location GitHub, Azure DevOps and the SARIF
	// Multitool expect.
	SchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"
	// SrcRoot is the uriBaseId every result location is relative to.
	SrcRoot = "SRCROOT"
	// FingerprintKey names Tollgate's first fingerprint in partialFingerprints
	// (rule, path, the finding's normalised lines), kept for one release so
	// that baselines that only have it still match.
	FingerprintKey = "tollgate/v1"
	// FingerprintKeyV2 names the fingerprint built from what a finding is
	// (rule, path, the resource's identity), never from where it sits.
	FingerprintKeyV2 = "tollgate/v2"
	// ImagePseudoRoot is where findings without a checkout file are placed.
	ImagePseudoRoot = "container-images"
)

// WriteSARIF writes the scan as one SARIF 2.1.0 log, one run per engine,
// streamed in one pass: encoding/json's v1 rules (what go-sarif's types are
// written for; the build has json/v2, Trivy needs it), every zero field left
// out (go-sarif writes some optional properties as null, e.g.
// suppression.location, which the SARIF schema rejects), indented by two
// spaces as json.Indent does.
func WriteSARIF(w io.Writer, s Scan) error {
	log, err := BuildSARIF(s)
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(w, 1<<20)
	if err := jsonv2.MarshalWrite(out, log, json.DefaultOptionsV1(), jsonv2.OmitZeroStructFields(true), jsontext.WithIndent("  ")); err != nil {
		return fmt.Errorf("encoding SARIF: %w", err)
	}
	out.WriteByte('\n')
	return out.Flush()
}

// BuildSARIF converts the scan into go-sarif's model.
func BuildSARIF(s Scan) (*sarif.Report, error) {
	log, err := sarif.New(sarif.Version210, false)
	if err != nil {
		return nil, fmt.Errorf("creating SARIF log: %w", err)
	}
	log.Schema = SchemaURI
	for _, r := range s.Results {
		log.AddRun(buildRun(s, r))
	}
	return log, nil
}

func buildRun(s Scan, r scanners.Result) *sarif.Run {
	driver := &sarif.ToolComponent{
		Name:            r.Tool.Name,
		FullName:        ptr(firstNonEmpty(r.Tool.FullName, r.Tool.Name)),
		Version:         ptr(r.Tool.Version),
		SemanticVersion: ptr(r.Tool.Version),
		InformationURI:  ptr(r.Tool.InformationURI),
		Organization:    ptr("Tollgate"),
		Rules:           []*sarif.ReportingDescriptor{},
	}
	if len(r.Tool.Properties) > 0 {
		driver.Properties = sarif.Properties{}
		for k, v := range r.Tool.Properties {
			driver.Properties[k] = v
		}
	}

	ruleIndex := map[string]uint{}
	addRule := func(rule scanners.Rule) {
		if _, ok := ruleIndex[rule.ID]; ok {
			return
		}
		ruleIndex[rule.ID] = uint(len(driver.Rules))
		driver.Rules = append(driver.Rules, descriptor(rule))
	}
	for _, rule := range r.Rules {
		addRule(rule)
	}
	for _, f := range r.Findings {
		if _, ok := ruleIndex[f.RuleID]; !ok {
			addRule(scanners.Rule{ID: f.RuleID, Title: f.Title, HelpURI: f.HelpURI, Severity: f.Severity, Tags: f.Tags})
		}
	}

	run := sarif.NewRun(sarif.Tool{Driver: driver})
	for i := range r.Findings {
		res := result(&r.Findings[i])
		res.RuleIndex = ptr(ruleIndex[r.Findings[i].RuleID])
		run.Results = append(run.Results, res)
	}

	auto := s.Automation
	if auto == (Automation{}) {
		auto = LocalAutomation()
	}
	run.AutomationDetails = &sarif.RunAutomationDetails{ID: ptr(auto.ID(s.Category, r.Engine))}
	if props := auto.Properties(); len(props) > 0 {
		run.AutomationDetails.Properties = sarif.Properties{}
		for k, v := range props {
			run.AutomationDetails.Properties[k] = v
		}
	}
	if s.Root != "" {
		run.OriginalUriBaseIDs = map[string]*sarif.ArtifactLocation{
			SrcRoot: {URI: ptr(rootURI(s.Root)), Description: &sarif.Message{Text: ptr("The scanned source tree.")}},
		}
	}
	run.ColumnKind = "unicodeCodePoints"

	inv := &sarif.Invocation{
		ExecutionSuccessful: ptr(r.Status.State.Ran()),
	}
	if !r.Started.IsZero() {
		inv.StartTimeUTC = ptr(r.Started.UTC().Truncate(time.Millisecond))
	}
	if !r.Finished.IsZero() {
		inv.EndTimeUTC = ptr(r.Finished.UTC().Truncate(time.Millisecond))
	}
	for _, n := range r.Status.Notifications {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, notification(n))
	}
	for _, n := range append(slices.Clone(s.Warnings), r.Status.Config...) {
		inv.ToolConfigurationNotifications = append(inv.ToolConfigurationNotifications, notification(n))
	}
	run.Invocations = []*sarif.Invocation{inv}

	props := sarif.Properties{PropEngine: r.Engine, PropState: r.Status.State.String()}
	if s.Policy.Origin != "" {
		props[PropPolicy] = s.Policy.Origin
	}
	for k, v := range s.RunProperties {
		props[k] = v
	}
	if c := r.Cache; c != nil {
		props[PropResultCache] = map[string]any{"units": c.Units, "fromCache": c.FromCache}
	}
	if name := s.Verdict.Shard.String(); name != "" {
		props[PropShard] = name // 1/1 too: a merge reads it
	}
	run.Properties = props

	vc := s.VersionControl
	if p := r.Provenance; p != nil && p.RepositoryURI != "" {
		vc = &VersionControl{RepositoryURI: p.RepositoryURI, Revision: p.Revision, Branch: p.Branch}
	}
	if vc != nil && vc.RepositoryURI != "" {
		d := &sarif.VersionControlDetails{RepositoryURI: ptr(vc.RepositoryURI)}
		if vc.Revision != "" {
			d.RevisionID = ptr(vc.Revision)
		}
		if vc.Branch != "" {
			d.Branch = ptr(vc.Branch)
		}
		d.MappedTo = &sarif.ArtifactLocation{URIBaseId: ptr(SrcRoot)}
		run.VersionControlProvenance = []*sarif.VersionControlDetails{d}
	}
	return run
}

// unnamedRule stands for an empty rule ID (a custom check without one):
// SARIF requires a rule's id.
const unnamedRule = "unnamed-rule"

func ruleID(id string) string { return firstNonEmpty(id, unnamedRule) }

func descriptor(rule scanners.Rule) *sarif.ReportingDescriptor {
	title := firstNonEmpty(rule.Title, rule.ID)
	full := firstNonEmpty(rule.Description, title)
	d := &sarif.ReportingDescriptor{
		ID:               ruleID(rule.ID),
		ShortDescription: &sarif.MultiformatMessageString{Text: ptr(oneLine(title))},
		FullDescription:  &sarif.MultiformatMessageString{Text: ptr(full)},
		DefaultConfiguration: &sarif.ReportingConfiguration{
			Level: levelOf(rule.Severity),
		},
		Help: &sarif.MultiformatMessageString{Text: ptr(helpText(rule)), Markdown: ptr(helpMarkdown(rule))},
	}
	name := firstNonEmpty(rule.Name, identifier(rule.ID))
	if strings.EqualFold(name, rule.ID) {
		// SARIF wants a name other than the ID (the Multitool's SARIF1001
		// compares them ignoring case: "Jwt" for jwt), and GitHub Advanced
		// Security for Azure DevOps wants one (GHAzDO2012).
		name += "Rule"
	}
	d.Name = ptr(name)
	if rule.HelpURI != "" && LinkAllowed(rule.HelpURI) {
		d.HelpURI = ptr(rule.HelpURI)
	}
	props := sarif.Properties{
		"security-severity": SecuritySeverity(rule.Severity, rule.CVSSScore),
		"tags":              uniqueSorted(rule.Tags),
		"precision":         "high",
		"problem.severity":  problemSeverity(rule.Severity),
		"severity":          rule.Severity.String(),
	}
	if len(rule.Aliases) > 0 {
		props["aliases"] = rule.Aliases
		d.DeprecatedIds = slices.Clone(rule.Aliases)
	}
	d.Properties = props
	return d
}

func result(f *scanners.Finding) *sarif.Result {
	res := &sarif.Result{
		RuleID:  ptr(ruleID(f.RuleID)),
		Level:   ptr(levelOf(f.Severity)),
		Message: sarif.Message{Text: ptr(SARIFText(firstNonEmpty(f.Message, f.Title, f.RuleID)))},
		PartialFingerprints: map[string]interface{}{
			FingerprintKey: f.Fingerprint,
		},
	}
	if f.FingerprintV2 != "" {
		res.PartialFingerprints[FingerprintKeyV2] = f.FingerprintV2
	}
	res.Locations = []*sarif.Location{location(f)}

	props := sarif.Properties{
		"severity": f.Severity.String(),
		"tags":     uniqueSorted(f.Tags),
	}
	cvss := 0.0
	if f.Vuln != nil {
		cvss = f.Vuln.CVSSScore
	}
	props["security-severity"] = SecuritySeverity(f.Severity, cvss)
	for k, v := range f.BaselineProperties {
		if _, set := props[k]; !set {
			props[k] = v // an absent result's detail, as the baseline had it
		}
	}
	switch {
	case f.Secret != nil:
		props["secret"] = secretProps{Redacted: f.Secret.Redacted, GitleaksFingerprint: f.Secret.GitleaksFingerprint}
		if f.Secret.Commit != "" {
			props["commit"] = f.Secret.Commit
		}
	case f.Misconfig != nil:
		props["misconfiguration"] = misconfigProps{FileType: f.Misconfig.FileType, Resource: f.Misconfig.Resource,
			Provider: f.Misconfig.Provider, Service: f.Misconfig.Service, Resolution: f.Misconfig.Resolution}
	case f.Vuln != nil:
		props["vulnerability"] = f.Vuln
		if f.Location.Image != "" || f.Engine == scanners.EngineImage {
			props["image"] = f.Location.Image
		}
	}
	if f.PreExisting {
		props[PropPreExisting] = true
	}
	res.Properties = props

	for _, s := range f.Suppressions {
		status := "accepted"
		if s.Status == scanners.SuppressionUnderReview {
			status = "underReview"
		}
		res.Suppressions = append(res.Suppressions, &sarif.Suppression{
			Kind:          string(s.Kind),
			Status:        ptr(status),
			Justification: ptr(s.Justification),
			PropertyBag:   sarif.PropertyBag{Properties: sarif.Properties{"source": s.Source}},
		})
	}
	if f.BaselineState != scanners.BaselineNone {
		res.BaselineState = ptr(string(f.BaselineState))
	}
	return res
}

// secretProps and misconfigProps are a result's "secret" and
// "misconfiguration" properties. Typed, they encode without a map's
// allocations and key sorting (a log of a large tree has tens of thousands);
// the fields are in the order of their names, as a map's keys are written,
// so the bytes are the same.
type secretProps struct {
	GitleaksFingerprint string `json:"gitleaksFingerprint"`
	Redacted            string `json:"redacted"`
}

type misconfigProps struct {
	FileType   string `json:"fileType"`
	Provider   string `json:"provider,omitempty"`
	Resolution string `json:"resolution,omitempty"`
	Resource   string `json:"resource,omitempty"`
	Service    string `json:"service,omitempty"`
}

func location(f *scanners.Finding) *sarif.Location {
	p := f.Location.Path
	if p == "" {
		p = ImagePseudoPath(f.Location.Image)
	}
	loc := &sarif.PhysicalLocation{
		ArtifactLocation: &sarif.ArtifactLocation{URI: ptr(PathURI(p)), URIBaseId: ptr(SrcRoot)},
		Region:           region(f.Location),
	}
	l := &sarif.Location{PhysicalLocation: loc}
	if f.Location.Image != "" {
		l.Message = &sarif.Message{Text: ptr(SARIFText("image " + f.Location.Image))}
	}
	return l
}

// region is always valid SARIF: lines start at 1, columns only when both
// ends are known and in order. A finding about the whole file (no line)
// points at line 1, as viewers need a line, and says so in the region's
// wholeFile property, which ReadSARIF reads back (merge then prints the
// file without a line, as the scan did).
func region(l scanners.Location) *sarif.Region {
	start := max(l.StartLine, 1)
	end := max(l.EndLine, start)
	r := &sarif.Region{StartLine: ptr(start), EndLine: ptr(end)}
	if l.StartLine <= 0 {
		r.Properties = sarif.Properties{propWholeFile: true}
	}
	if l.StartColumn >= 1 && l.EndColumn >= 1 && (end > start || l.EndColumn > l.StartColumn) {
		r.StartColumn = ptr(l.StartColumn)
		r.EndColumn = ptr(l.EndColumn)
	}
	return r
}

func notification(n scanners.Notification) *sarif.Notification {
	out := &sarif.Notification{
		Level:   string(n.Level),
		Message: &sarif.Message{Text: ptr(SARIFText(firstNonEmpty(n.Message, n.Code)))},
	}
	if n.Code != "" {
		out.Descriptor = &sarif.ReportingDescriptorReference{Id: ptr(n.Code)}
	}
	if n.Path != "" {
		pl := &sarif.PhysicalLocation{
			ArtifactLocation: &sarif.ArtifactLocation{URI: ptr(PathURI(n.Path)), URIBaseId: ptr(SrcRoot)},
		}
		if n.Line > 0 {
			pl.Region = &sarif.Region{StartLine: ptr(n.Line)}
		}
		out.Locations = []*sarif.Location{{PhysicalLocation: pl}}
	}
	return out
}

// PathURI percent-encodes a repository-relative slash path as a relative
// URI reference. Every segment is escaped, and ':' always, so that no
// segment can read as a URI scheme (GitHub rejects "a:b/c"); leading slashes
// are dropped and "." and ".." segments encoded, so that the reference can
// neither name a host ("//x") nor climb out of SRCROOT.
func PathURI(p string) string {
	segs := strings.Split(strings.TrimLeft(p, "/"), "/")
	for i, s := range segs {
		switch s {
		case ".":
			segs[i] = "%2E"
		case "..":
			segs[i] = "%2E%2E"
		default:
			segs[i] = strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
		}
	}
	return strings.Join(segs, "/")
}

// ImagePseudoPath is the stable repo-relative location of an image finding
// with no checkout line: container-images/<reference, made path-safe>.
func ImagePseudoPath(image string) string {
	if image == "" {
		return ImagePseudoRoot
	}
	var b strings.Builder
	for _, r := range image {
		switch {
		case r == '/' || r == ':' || r == '@':
			b.WriteByte('_')
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return ImagePseudoRoot + "/" + b.String()
}

func rootURI(root string) string {
	return paths.Native().FileURI(root)
}

func helpText(r scanners.Rule) string {
	var b strings.Builder
	b.WriteString(firstNonEmpty(r.Title, r.ID))
	if r.Description != "" && r.Description != r.Title {
		b.WriteString("\n\n" + r.Description)
	}
	if r.Resolution != "" {
		b.WriteString("\n\nResolution: " + r.Resolution)
	}
	for _, ref := range r.References {
		b.WriteString("\n- " + ref)
	}
	return b.String()
}

func helpMarkdown(r scanners.Rule) string {
	var b strings.Builder
	// Rule text may come from the checkout (a repository's gitleaks rules,
	// custom Rego metadata): escaped as any checkout text, so that it can
	// hold no link, image (a tracking pixel) or HTML; links only to the
	// hosts of LinkAllowed.
	fmt.Fprintf(&b, "**%s** (`%s`, severity %s)", Markdown(firstNonEmpty(r.Title, r.ID)), strings.ReplaceAll(r.ID, "`", "'"), r.Severity)
	if r.Description != "" && r.Description != r.Title {
		b.WriteString("\n\n" + Markdown(r.Description))
	}
	if r.Resolution != "" {
		b.WriteString("\n\n**Resolution:** " + Markdown(r.Resolution))
	}
	if len(r.References) > 0 {
		b.WriteString("\n\n**References:**")
		for _, ref := range r.References {
			if LinkAllowed(ref) {
				fmt.Fprintf(&b, "\n- <%s>", ref)
			} else {
				b.WriteString("\n- " + Markdown(ref))
			}
		}
	}
	if len(r.Aliases) > 0 {
		b.WriteString("\n\nAlso known as: " + Markdown(strings.Join(r.Aliases, ", ")))
	}
	return b.String()
}

// linkHosts are the hosts a rule's help may link to: Tollgate's, Trivy's
// and gitleaks' documentation, the vulnerability databases and advisories,
// and the platforms' own documentation. A link elsewhere (one a
// checkout-held rule names) is shown as text.
var linkHosts = []string{
	"github.com", "avd.aquasec.com", "aquasecurity.github.io", "trivy.dev",
	"nvd.nist.gov", "cve.mitre.org", "www.cve.org", "osv.dev", "cwe.mitre.org", "www.cisa.gov",
	"security-tracker.debian.org", "ubuntu.com", "access.redhat.com", "bugzilla.redhat.com", "security.alpinelinux.org",
	"learn.microsoft.com", "docs.microsoft.com", "msrc.microsoft.com", "kubernetes.io", "docs.docker.com",
	"developer.hashicorp.com", "registry.terraform.io", "docs.aws.amazon.com", "cloud.google.com",
	"pkg.go.dev", "go.dev", "www.npmjs.com", "pypi.org", "rubygems.org", "crates.io", "www.nuget.org",
}

// LinkAllowed reports whether a help link goes to https on one of the
// allowed hosts (or a subdomain of one).
func LinkAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Host == "" || strings.ContainsAny(raw, "<> \t\n\"") {
		return false
	}
	h := strings.ToLower(u.Hostname())
	for _, a := range linkHosts {
		if h == a || strings.HasSuffix(h, "."+a) {
			return true
		}
	}
	return false
}

// problemSeverity is GitHub's non-security severity, the same scale as the level.
func problemSeverity(s scanners.Severity) string {
	if l := levelOf(s); l != "note" {
		return l
	}
	return "recommendation"
}

func formatScore(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// identifier turns a rule ID into a PascalCase name ("github-pat" -> "GithubPat").
func identifier(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		r, size := utf8.DecodeRuneInString(part)
		b.WriteRune(unicode.ToUpper(r))
		b.WriteString(part[size:])
	}
	if b.Len() == 0 {
		return "Rule"
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func uniqueSorted(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
