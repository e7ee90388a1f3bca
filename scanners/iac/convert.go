package iac

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	iacscan "github.com/aquasecurity/trivy/pkg/iac/scan"

	tg "github.com/tollgate/tollgate/scanners"
)

// convert turns one failed (or inline-ignored) Trivy result into a Finding
// and its rule, with the fields `trivy config` reports.
func convert(ft detection.FileType, r iacscan.Result, lines *lineCache) (tg.Finding, tg.Rule) {
	flat := r.Flatten()
	rule := r.Rule()
	id := rule.ID
	if id == "" {
		id = rule.AVDID
	}
	sev, err := tg.ParseSeverity(string(flat.Severity))
	if err != nil {
		sev = tg.SeverityUnknown
	}
	msg := strings.TrimSpace(flat.Description)
	if msg == "" {
		msg = rule.Summary
	}
	helpURI := helpURI(r.RegoNamespace(), id, flat.Links)
	p := strings.TrimPrefix(flat.Location.Filename, "/")
	start, end := flat.Location.StartLine, flat.Location.EndLine

	aliases := slices.Clone(rule.Aliases)
	if rule.AVDID != "" && rule.AVDID != id && !slices.Contains(aliases, rule.AVDID) {
		aliases = append(aliases, rule.AVDID)
	}
	slices.Sort(aliases)

	provider := flat.RuleProvider.DisplayName()
	tags := []string{"security", "misconfiguration", string(ft)}
	if provider != "" {
		tags = append(tags, strings.ToLower(provider))
	}

	f := tg.Finding{
		Engine:   tg.EngineIaC,
		RuleID:   id,
		Title:    rule.Summary,
		Severity: sev,
		Message:  msg,
		Location: tg.Location{Path: p, StartLine: start, EndLine: end},
		Fingerprint: tg.Fingerprint(tg.EngineIaC, id, p, flat.Resource,
			normalizeLines(lines.lines(p, start, end))),
		HelpURI: helpURI,
		Tags:    tags,
		Misconfig: &tg.MisconfigDetail{
			FileType:   string(ft),
			Resource:   flat.Resource,
			Provider:   provider,
			Service:    flat.RuleService,
			Resolution: flat.Resolution,
			Aliases:    aliases,
		},
	}
	identity, stable := resourceIdentity(ft, lines.content(p), region{start, end}, flat.Resource, msg)
	f.Identity = identity
	if stable {
		f.TieBreak = normalizeLines(lines.lines(p, start, end))
	}
	if r.Status() == iacscan.StatusIgnored {
		f.Misconfig.InlineIgnored = true
		f.Misconfig.InlineIgnoreLine = ignoreCommentLine(lines.all(p), start, append([]string{id}, aliases...))
	}

	ruleSev, err := tg.ParseSeverity(string(rule.Severity))
	if err != nil {
		ruleSev = sev
	}
	desc := strings.TrimSpace(rule.Explanation)
	if rule.Impact != "" {
		desc = strings.TrimSpace(desc + "\n\nImpact: " + rule.Impact)
	}
	return f, tg.Rule{
		ID:          id,
		Name:        ruleName(rule, id),
		Title:       rule.Summary,
		Description: desc,
		Resolution:  rule.Resolution,
		HelpURI:     helpURI,
		References:  dedupe(append(slices.Clone(rule.Links), helpURI)),
		Severity:    ruleSev,
		Tags:        tags,
		Aliases:     aliases,
	}
}

// helpURI is Trivy's primary URL: the AVD page for built-in checks, the
// first reference for custom ones.
func helpURI(namespace, id string, links []string) string {
	if namespace == "" || rego.IsBuiltinNamespace(namespace) {
		return fmt.Sprintf("https://avd.aquasec.com/misconfig/%s", strings.ToLower(id))
	}
	if len(links) > 0 {
		return links[0]
	}
	return ""
}

// ruleName is a PascalCase identifier from the check's short code
// (e.g. "enable-bucket-encryption" -> "EnableBucketEncryption").
func ruleName(rule iacscan.Rule, id string) string {
	src := rule.ShortCode
	if src == "" {
		src = id
	}
	var b strings.Builder
	for _, part := range strings.FieldsFunc(src, func(r rune) bool { return r == '-' || r == '_' || r == ' ' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func normalizeLines(ls []string) string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		if n := tg.NormalizeLine(l); n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "\n")
}

func dedupe(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// relocateToPlan puts a finding from a Terraform plan on the plan file:
// Trivy reports it on the synthetic "main.tf" it builds from the plan. The
// line is the resource's "address" entry in the plan, when found.
func relocateToPlan(f *tg.Finding, planPath string, lines *lineCache) {
	f.Location = tg.Location{Path: planPath}
	res := ""
	if f.Misconfig != nil {
		res = f.Misconfig.Resource
	}
	if res != "" {
		needle := `"address": "` + res + `"`
		for i, l := range lines.all(planPath) {
			if strings.Contains(strings.ReplaceAll(l, `":"`, `": "`), needle) {
				f.Location.StartLine, f.Location.EndLine = i+1, i+1
				break
			}
		}
	}
	f.Fingerprint = tg.Fingerprint(tg.EngineIaC, f.RuleID, planPath, res)
	f.Identity, f.TieBreak = res, ""
}

// Explain returns the metadata of an embedded check by its ID, AVD ID or
// one of its old aliases (e.g. KSV-0017, AVD-KSV-0017, KSV017).
func Explain(id string) (tg.Rule, bool) {
	for _, r := range embeddedRules(context.Background()) {
		if !r.HasID(id) && !strings.EqualFold(r.ID, id) {
			continue
		}
		ruleID := r.ID
		if ruleID == "" {
			ruleID = r.AVDID
		}
		sev, err := tg.ParseSeverity(string(r.Severity))
		if err != nil {
			sev = tg.SeverityUnknown
		}
		aliases := slices.Clone(r.Aliases)
		if r.AVDID != "" && r.AVDID != ruleID && !slices.Contains(aliases, r.AVDID) {
			aliases = append(aliases, r.AVDID)
		}
		slices.Sort(aliases)
		desc := strings.TrimSpace(r.Explanation)
		if r.Impact != "" {
			desc = strings.TrimSpace(desc + "\n\nImpact: " + r.Impact)
		}
		help := helpURI("", ruleID, r.Links)
		return tg.Rule{
			ID:          ruleID,
			Name:        ruleName(r, ruleID),
			Title:       r.Summary,
			Description: desc,
			Resolution:  r.Resolution,
			HelpURI:     help,
			References:  dedupe(append(slices.Clone(r.Links), help)),
			Severity:    sev,
			Tags:        []string{"misconfiguration", strings.ToLower(r.Provider.DisplayName()), r.Service},
			Aliases:     aliases,
		}, true
	}
	return tg.Rule{}, false
}

// ignoreCommentLine finds the trivy:ignore comment that covers a finding
// starting at line start: the nearest line at or above it that names one of
// the IDs (or every ID, "*"); 0 when there is none to be found (Trivy also
// honours comments it resolved through modules and blocks further up).
func ignoreCommentLine(all []string, start int, ids []string) int {
	for l := min(start, len(all)); l >= 1; l-- {
		line := strings.ToLower(all[l-1])
		i := strings.Index(line, "trivy:ignore:")
		if i < 0 {
			continue
		}
		rest := line[i+len("trivy:ignore:"):]
		if strings.HasPrefix(rest, "*") {
			return l
		}
		for _, id := range ids {
			if id != "" && strings.HasPrefix(rest, strings.ToLower(id)) {
				return l
			}
		}
	}
	return 0
}
