package report

import (
	"bytes"
	"encoding/json"
	jsonv2 "encoding/json/v2"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
)

// Run property names of a Tollgate log, written by buildRun and read by
// ReadSARIF.
const (
	PropEngine      = "tollgate/engine"
	PropState       = "tollgate/state"
	PropVersion     = "tollgate/version"
	PropShard       = "tollgate/shard"
	PropResultCache = "tollgate/resultCache"
	PropPolicy      = "tollgate/policySource"
	// PropPreExisting marks a result's dependency vulnerability that a
	// pull request did not introduce (not counted).
	PropPreExisting = "tollgate/preExisting"
	// propWholeFile marks a region that stands for the whole file (a
	// finding without a line).
	propWholeFile = "tollgate/wholeFile"
)

// driverEngines maps a run's tool name to its engine, for logs that predate
// the tollgate/engine run property.
var driverEngines = map[string]string{
	"gitleaks":     scanners.EngineSecrets,
	"trivy-config": scanners.EngineIaC,
	"trivy-image":  scanners.EngineImage,
	"trivy-deps":   scanners.EngineDeps,
}

// Log is a Tollgate SARIF log read back: each run as the engine result it
// was written from, with what the run says about the scan.
type Log struct {
	Runs []Run
}

// Run is one engine's run of a log.
type Run struct {
	Result scanners.Result
	// Shard is the run's shard ("K/N"), empty for a whole scan.
	Shard string
	// Version is the Tollgate version that wrote the run.
	Version string
	// Configuration are the run's toolConfigurationNotifications: the
	// scan's warnings followed by the engine's own.
	Configuration []scanners.Notification
	// Category is the run's automationDetails.id.
	AutomationID string
	// Root is SRCROOT's file URI, when the log has it.
	Root string
	// VersionControl is the run's first versionControlProvenance.
	VersionControl *VersionControl
	// Properties are each result's SARIF properties, in Result.Findings'
	// order.
	Properties []map[string]any
}

// ReadSARIF reads a log this package wrote. Every result comes back as the
// finding it was written from (fingerprints, region, the engine's detail,
// suppressions, baseline state), every rule as its rule: writing the runs'
// results again gives the same log. A log that is not Tollgate's (no
// tollgate/v1 fingerprint, a run of an unknown tool) is an error.
func ReadSARIF(b []byte) (*Log, error) {
	return ReadSARIFFrom(bytes.NewReader(b))
}

// ReadSARIFFrom reads a log as ReadSARIF does, streaming it from r.
func ReadSARIFFrom(r io.Reader) (*Log, error) {
	// encoding/json/v2 (the build has it: Trivy needs it) decodes go-sarif's
	// types without v1's compatibility work, and from a stream: the log's
	// bytes are never held whole.
	doc := &sarif.Report{}
	if err := jsonv2.UnmarshalRead(r, doc); err != nil {
		return nil, fmt.Errorf("not a SARIF log: %w", err)
	}
	if doc.Version != string(sarif.Version210) {
		return nil, fmt.Errorf("SARIF version %q; want 2.1.0", doc.Version)
	}
	out := &Log{}
	for ri, run := range doc.Runs {
		if run == nil || run.Tool.Driver == nil {
			return nil, fmt.Errorf("run %d has no tool.driver: not a Tollgate log", ri)
		}
		r, err := readRun(run)
		if err != nil {
			return nil, fmt.Errorf("run %d (%q): %w", ri, run.Tool.Driver.Name, err)
		}
		out.Runs = append(out.Runs, r)
	}
	return out, nil
}

func readRun(run *sarif.Run) (Run, error) {
	props := run.Properties
	engine := str(props[PropEngine])
	if engine == "" {
		engine = driverEngines[run.Tool.Driver.Name]
	}
	if engine == "" {
		return Run{}, fmt.Errorf("not from a Tollgate engine")
	}
	d := run.Tool.Driver
	out := Run{Shard: str(props[PropShard]), Version: str(props[PropVersion])}
	res := scanners.Result{Engine: engine, Tool: scanners.Tool{
		Name: d.Name, FullName: deref(d.FullName), Version: deref(d.Version), InformationURI: deref(d.InformationURI),
	}}
	if d.FullName != nil && *d.FullName == d.Name {
		res.Tool.FullName = ""
	}
	for k, v := range d.Properties {
		if s, ok := v.(string); ok {
			if res.Tool.Properties == nil {
				res.Tool.Properties = map[string]string{}
			}
			res.Tool.Properties[k] = s
		}
	}
	switch str(props[PropState]) {
	case "", "succeeded":
		res.Status.State = scanners.Succeeded
	case "partial":
		res.Status.State = scanners.Partial
	case "failed":
		res.Status.State = scanners.Failed
	default:
		return Run{}, fmt.Errorf("unknown %s %q", PropState, str(props[PropState]))
	}
	if c, ok := props[PropResultCache].(map[string]any); ok {
		res.Cache = &scanners.CacheStats{Units: num(c["units"]), FromCache: num(c["fromCache"])}
	}
	rules := map[string]scanners.Rule{}
	for i, desc := range d.Rules {
		if desc == nil {
			return Run{}, fmt.Errorf("rule %d is null", i)
		}
		rule := readRule(desc)
		rules[rule.ID] = rule
		res.Rules = append(res.Rules, rule)
	}
	res.Findings = make([]scanners.Finding, 0, len(run.Results))
	out.Properties = make([]map[string]any, 0, len(run.Results))
	for i, r := range run.Results {
		if r == nil {
			return Run{}, fmt.Errorf("result %d is null", i)
		}
		f, err := readResult(engine, r, rules)
		if err != nil {
			return Run{}, fmt.Errorf("result %d: %w", i, err)
		}
		res.Findings = append(res.Findings, f)
		out.Properties = append(out.Properties, r.Properties)
	}
	if len(run.Invocations) > 0 && run.Invocations[0] != nil {
		inv := run.Invocations[0]
		if inv.StartTimeUTC != nil {
			res.Started = *inv.StartTimeUTC
		}
		if inv.EndTimeUTC != nil {
			res.Finished = *inv.EndTimeUTC
		}
		for _, n := range slices.DeleteFunc(slices.Clone(inv.ToolExecutionNotifications), isNil) {
			res.Status.Notifications = append(res.Status.Notifications, readNotification(n))
		}
		for _, n := range slices.DeleteFunc(slices.Clone(inv.ToolConfigurationNotifications), isNil) {
			out.Configuration = append(out.Configuration, readNotification(n))
		}
	}
	if run.AutomationDetails != nil {
		out.AutomationID = deref(run.AutomationDetails.ID)
	}
	if base, ok := run.OriginalUriBaseIDs[SrcRoot]; ok && base != nil {
		out.Root = deref(base.URI)
	}
	if len(run.VersionControlProvenance) > 0 && run.VersionControlProvenance[0] != nil {
		vc := run.VersionControlProvenance[0]
		out.VersionControl = &VersionControl{RepositoryURI: deref(vc.RepositoryURI), Revision: deref(vc.RevisionID), Branch: deref(vc.Branch)}
	}
	out.Result = res
	return out, nil
}

func readRule(d *sarif.ReportingDescriptor) scanners.Rule {
	r := scanners.Rule{ID: d.ID, HelpURI: deref(d.HelpURI)}
	if d.Name != nil && *d.Name != identifier(d.ID) {
		r.Name = *d.Name
	}
	short, full := "", ""
	if d.ShortDescription != nil {
		short = deref(d.ShortDescription.Text)
	}
	if d.FullDescription != nil {
		full = deref(d.FullDescription.Text)
	}
	r.Severity = severity(d.Properties["severity"])
	r.Tags = strs(d.Properties["tags"])
	r.Aliases = strs(d.Properties["aliases"])
	if s, err := strconv.ParseFloat(str(d.Properties["security-severity"]), 64); err == nil && formatScore(s) != SecuritySeverity(r.Severity, 0) {
		r.CVSSScore = s
	}
	text, markdown := "", ""
	if d.Help != nil {
		text, markdown = deref(d.Help.Text), deref(d.Help.Markdown)
	}
	r.Title, r.Description, r.Resolution, r.References = readHelp(r, short, full, text, markdown)
	return r
}

// readHelp finds the rule's title, description, resolution and references
// in its descriptor: the title and description as written (the short
// description is the title on one line), the resolution and references from
// the help text. A reading is taken only if it writes the same help back;
// otherwise the descriptions stand alone.
func readHelp(r scanners.Rule, short, full, text, markdown string) (title, desc, resolution string, refs []string) {
	type cut struct{ title, desc, rest string }
	var cuts []cut
	if strings.HasPrefix(text, full) {
		cuts = append(cuts, cut{full, "", text[len(full):]})
	}
	if i := strings.Index(text, "\n\n"+full); i >= 0 && full != "" {
		cuts = append(cuts, cut{text[:i], full, text[i+2+len(full):]})
	}
	for _, c := range cuts {
		pieces := strings.Split(c.rest, "\n- ")
		for j := 1; j <= len(pieces); j++ {
			head := strings.Join(pieces[:j], "\n- ")
			res, ok := strings.CutPrefix(head, "\n\nResolution: ")
			if !ok && head != "" {
				continue
			}
			try := r
			try.Title, try.Description, try.Resolution, try.References = c.title, c.desc, res, pieces[j:]
			if len(try.References) == 0 {
				try.References = nil
			}
			if helpText(try) == text && helpMarkdown(try) == markdown && oneLine(firstNonEmpty(try.Title, try.ID)) == short {
				return try.Title, try.Description, try.Resolution, try.References
			}
		}
	}
	if full == short {
		full = ""
	}
	return short, full, "", nil
}

func readResult(engine string, r *sarif.Result, rules map[string]scanners.Rule) (scanners.Finding, error) {
	f := scanners.Finding{Engine: engine, RuleID: deref(r.RuleID), Message: SARIFPlain(deref(r.Message.Text))}
	f.Fingerprint = str(r.PartialFingerprints[FingerprintKey])
	if f.Fingerprint == "" {
		return f, fmt.Errorf("no %q fingerprint: not a Tollgate log", FingerprintKey)
	}
	f.FingerprintV2 = str(r.PartialFingerprints[FingerprintKeyV2])
	rule := rules[f.RuleID]
	f.Title, f.HelpURI = rule.Title, rule.HelpURI
	props := r.Properties
	f.Severity = severity(props["severity"])
	f.Tags = strs(props["tags"])
	f.BaselineState = scanners.BaselineState(deref(r.BaselineState))
	if len(r.Locations) > 0 {
		readLocation(r.Locations[0], &f.Location)
	}
	if s, ok := props["secret"].(map[string]any); ok {
		f.Secret = &scanners.SecretDetail{Redacted: str(s["redacted"]), GitleaksFingerprint: str(s["gitleaksFingerprint"]), Commit: str(props["commit"])}
		f.Location.Commit = f.Secret.Commit
	}
	if m, ok := props["misconfiguration"].(map[string]any); ok {
		f.Misconfig = &scanners.MisconfigDetail{FileType: str(m["fileType"]), Resource: str(m["resource"]),
			Provider: str(m["provider"]), Service: str(m["service"]), Resolution: str(m["resolution"])}
	}
	if v, ok := props["vulnerability"]; ok {
		b, err := json.Marshal(v)
		if err == nil {
			f.Vuln = &scanners.VulnDetail{}
			err = json.Unmarshal(b, f.Vuln)
		}
		if err != nil {
			return f, fmt.Errorf("vulnerability: %w", err)
		}
		if img := str(props["image"]); img != "" {
			f.Location.Image = img
		}
	}
	if f.Location.Image != "" && f.Location.Path == ImagePseudoPath(f.Location.Image) {
		f.Location.Path = ""
	}
	if b, ok := props[PropPreExisting].(bool); ok && b {
		f.PreExisting = true
	}
	if f.BaselineState == scanners.BaselineAbsent {
		f.BaselineProperties = props
	}
	for _, s := range slices.DeleteFunc(slices.Clone(r.Suppressions), isNil) {
		sup := scanners.Suppression{Kind: scanners.SuppressionKind(s.Kind), Justification: deref(s.Justification), Source: str(s.Properties["source"])}
		if deref(s.Status) == "underReview" {
			sup.Status = scanners.SuppressionUnderReview
		}
		f.Suppressions = append(f.Suppressions, sup)
	}
	return f, nil
}

func readLocation(l *sarif.Location, out *scanners.Location) {
	if l == nil {
		return
	}
	if l.Message != nil {
		if img, ok := strings.CutPrefix(SARIFPlain(deref(l.Message.Text)), "image "); ok {
			out.Image = img
		}
	}
	pl := l.PhysicalLocation
	if pl == nil {
		return
	}
	if pl.ArtifactLocation != nil {
		if p, err := url.PathUnescape(deref(pl.ArtifactLocation.URI)); err == nil {
			out.Path = p
		}
	}
	if reg := pl.Region; reg != nil && reg.Properties[propWholeFile] != true {
		out.StartLine, out.EndLine = deref(reg.StartLine), deref(reg.EndLine)
		out.StartColumn, out.EndColumn = deref(reg.StartColumn), deref(reg.EndColumn)
	}
}

func readNotification(n *sarif.Notification) scanners.Notification {
	out := scanners.Notification{Level: scanners.Level(n.Level)}
	if n.Message != nil {
		out.Message = SARIFPlain(deref(n.Message.Text))
	}
	if n.Descriptor != nil {
		out.Code = deref(n.Descriptor.Id)
	}
	if len(n.Locations) > 0 && n.Locations[0] != nil && n.Locations[0].PhysicalLocation != nil {
		var loc scanners.Location
		readLocation(n.Locations[0], &loc)
		out.Path, out.Line = loc.Path, loc.StartLine
	}
	return out
}

func isNil[T any](p *T) bool { return p == nil }

func severity(v any) scanners.Severity {
	s, err := scanners.ParseSeverity(str(v))
	if err != nil {
		return scanners.SeverityUnknown
	}
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func strs(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// ReadBaseline reads a previous Tollgate log as a baseline: its results,
// except those it already reported absent.
func ReadBaseline(b []byte) (*policy.BaselineSet, error) {
	l, err := ReadSARIF(b)
	if err != nil {
		return nil, err
	}
	set := &policy.BaselineSet{}
	for _, run := range l.Runs {
		rules := map[string]scanners.Rule{}
		for _, r := range run.Result.Rules {
			rules[r.ID] = r
		}
		for i, f := range run.Result.Findings {
			if f.BaselineState == scanners.BaselineAbsent {
				continue // gone already: not part of the new baseline
			}
			rule := rules[f.RuleID]
			set.Results = append(set.Results, policy.BaselineResult{
				Engine: f.Engine, RuleID: f.RuleID, Title: rule.Title, Description: rule.Description, HelpURI: rule.HelpURI,
				Fingerprint: f.Fingerprint, FingerprintV2: f.FingerprintV2, Severity: f.Severity, Message: f.Message,
				Path: f.Location.Path, Line: f.Location.StartLine, EndLine: f.Location.EndLine,
				StartColumn: f.Location.StartColumn, EndColumn: f.Location.EndColumn,
				Image: f.Location.Image, Tags: f.Tags, Properties: run.Properties[i],
			})
		}
	}
	return set, nil
}
