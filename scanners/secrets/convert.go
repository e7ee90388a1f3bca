package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/tollgate/tollgate/scanners"
)

func (s *Engine) convert(gf report.Finding) scanners.Finding {
	secretHash := sha256.Sum256([]byte(gf.RuleID + "\x00" + gf.Secret))
	hashHex := hex.EncodeToString(secretHash[:])
	// The line, with this secret masked, identifies the finding across edits
	// elsewhere in the file. It is hashed, so no other secret on it leaks.
	line := strings.ReplaceAll(gf.Line, gf.Secret, hashHex)
	if gf.Secret == "" {
		line = gf.Line
	}
	allowed := strings.Contains(gf.Line, allowSignature)
	title := gf.Description
	if title == "" {
		// A custom rule without a description: named as its rule is.
		title = "Secret matching rule " + gf.RuleID
	}

	f := scanners.Finding{
		Engine:   scanners.EngineSecrets,
		RuleID:   gf.RuleID,
		Title:    title,
		Severity: s.severity(gf.RuleID),
		Message: fmt.Sprintf("%s: a secret matched rule %s%s. The value is redacted; rotate it, then remove it from the code and its history.",
			strings.TrimSuffix(title, "."), gf.RuleID, inCommit(gf.Commit)),
		Location: scanners.Location{
			Path:        gf.File,
			StartLine:   gf.StartLine,
			EndLine:     gf.EndLine,
			StartColumn: gf.StartColumn,
			EndColumn:   gf.EndColumn + 1,
			Commit:      gf.Commit,
		},
		Fingerprint: scanners.Fingerprint(scanners.EngineSecrets, gf.RuleID, gf.File, hashHex, scanners.NormalizeLine(line), gf.Commit),
		// What the secret is: its hashed value. Where it sits (the line and
		// its text) only tells apart two equal secrets in one file.
		Identity: hashHex,
		TieBreak: scanners.NormalizeLine(line),
		HelpURI:  "https://github.com/gitleaks/gitleaks/blob/v" + GitleaksVersion + "/config/gitleaks.toml",
		Tags:     append([]string{"security", "secret"}, gf.Tags...),
		Secret: &scanners.SecretDetail{
			Redacted:            Redacted,
			Entropy:             gf.Entropy,
			Commit:              gf.Commit,
			InlineAllowed:       allowed,
			GitleaksFingerprint: gitleaksFingerprint(gf),
		},
	}
	if slices.Contains(gf.Tags, hardcodedTag) {
		f.HelpURI = cweHardcoded
	}
	if strings.HasPrefix(gf.Match, "file detected: ") {
		// A path-only rule: the file itself is the finding.
		f.Location.StartLine, f.Location.EndLine, f.Location.StartColumn, f.Location.EndColumn = 1, 1, 0, 0
	}
	return f
}

func (s *Engine) severity(ruleID string) scanners.Severity {
	if sev, ok := s.opts.RuleSeverity[ruleID]; ok {
		return sev
	}
	for pattern, sev := range s.opts.RuleSeverity {
		if ok, _ := path.Match(pattern, ruleID); ok {
			return sev
		}
	}
	if IsHardcodedRule(ruleID) {
		return hardcodedSeverity
	}
	return s.opts.Severity
}

// ruleOf describes a rule of the effective configuration, or of the
// hardcoded class.
func (s *Engine) ruleOf(cfg config.Config, id string) scanners.Rule {
	if r, ok := cfg.Rules[id]; ok || !IsHardcodedRule(id) {
		return s.rule(r, id)
	}
	r, _ := s.hardcodedRule(id)
	return r
}

func (s *Engine) rule(r config.Rule, id string) scanners.Rule {
	title := r.Description
	if title == "" {
		title = "Secret matching rule " + id
	}
	return scanners.Rule{
		ID:    id,
		Title: title,
		Description: fmt.Sprintf("%s. A credential committed to a repository can be read by anyone with access to the code, "+
			"its forks and its history.", strings.TrimSuffix(title, ".")),
		Resolution: "Revoke and rotate the credential at its issuer first: removing it from the code does not make it secret again. " +
			"Then remove it from the file (and from git history if it was pushed), and load it at run time from a secret store " +
			"such as Azure Key Vault or a pipeline secret variable. If this is a false positive, add `gitleaks:allow` in a comment " +
			"on the line, or an entry to .tollgate.yaml or .gitleaksignore.",
		HelpURI:  "https://github.com/gitleaks/gitleaks/blob/v" + GitleaksVersion + "/config/gitleaks.toml",
		Severity: s.severity(id),
		Tags:     append([]string{"security", "secret"}, r.Tags...),
	}
}

func inCommit(sha string) string {
	if sha == "" {
		return ""
	}
	if len(sha) > 12 {
		sha = sha[:12]
	}
	return " in commit " + sha
}

func gitleaksFingerprint(gf report.Finding) string {
	if gf.Commit != "" {
		return fmt.Sprintf("%s:%s:%s:%d", gf.Commit, gf.File, gf.RuleID, gf.StartLine)
	}
	return fmt.Sprintf("%s:%s:%d", gf.File, gf.RuleID, gf.StartLine)
}
