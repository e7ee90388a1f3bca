package secrets

import (
	"strings"

	"github.com/tollgate/tollgate/scanners"
)

// Explain returns a secret rule's metadata: from the given configuration
// (nil: gitleaks' default rules), else from Tollgate's extra rules.
func Explain(id string, configTOML []byte) (scanners.Rule, bool, error) {
	cfg, err := LoadConfig("explain", configTOML)
	if err != nil {
		return scanners.Rule{}, false, err
	}
	r, ok := cfg.Rules[id]
	if !ok {
		extra, err := ExtraRules()
		if err != nil {
			return scanners.Rule{}, false, err
		}
		if r, ok = extra.Rules[id]; !ok {
			r, ok := explainHardcoded(id)
			return r, ok, nil
		}
	}
	rule := New(Options{}, nil).rule(r, id)
	if r.Regex != nil {
		rule.Description += "\n\nPattern: " + r.Regex.String()
	}
	if len(r.Keywords) > 0 {
		rule.Description += "\nKeywords: " + strings.Join(r.Keywords, ", ")
	}
	return rule, true, nil
}
