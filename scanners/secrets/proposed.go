package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/tollgate/tollgate/scanners"
)

// proposal is a pull request's own gitleaks configuration, loaded to say
// which findings it would hide; it is never used to detect.
type proposal struct {
	cfg  config.Config
	name string
}

// loadProposal reads the pull request's gitleaks config (the checkout's)
// when ReviewCheckoutConfig is set; nil when there is none (or it was
// deleted: then gitleaks' defaults would apply, which hide nothing the
// target's rules find).
func (s *Engine) loadProposal(t *scanners.Target) (*proposal, error) {
	if !s.opts.ReviewCheckoutConfig || s.opts.ConfigPath != "" {
		return nil, nil
	}
	root := t.Checkout()
	rel := s.opts.RepoConfig
	if rel == "" {
		rel = configFile
	}
	content, err := root.ReadFile(rel, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	name := "the pull request's " + rel
	if err != nil {
		return nil, configErr(name, err)
	}
	cfg, err := LoadConfigWith(name, content, filesExtendReader(root))
	if err != nil {
		return nil, err
	}
	return &proposal{cfg: cfg, name: rel}, nil
}

// review marks f under review when the proposal would not report it: the
// rule is gone or different, or an allowlist (global or the rule's) allows it.
func (p *proposal) review(f *scanners.Finding, gf report.Finding, base config.Config) {
	why := ""
	rule, ok := p.cfg.Rules[gf.RuleID]
	baseRule, inBase := base.Rules[gf.RuleID]
	switch {
	case !ok && inBase:
		why = fmt.Sprintf("removes rule %s", gf.RuleID)
	case ok && inBase && !sameRule(rule, baseRule):
		why = fmt.Sprintf("changes rule %s", gf.RuleID)
	default:
		if a := allowedBy(p.cfg.Allowlists, gf); a != nil {
			why = "allowlists it" + describe(a)
		} else if ok {
			if a := allowedBy(rule.Allowlists, gf); a != nil {
				why = fmt.Sprintf("allowlists it in rule %s%s", gf.RuleID, describe(a))
			}
		}
	}
	if why == "" {
		return
	}
	f.Suppressions = append(f.Suppressions, scanners.Suppression{
		Kind:   scanners.SuppressionExternal,
		Status: scanners.SuppressionUnderReview,
		Source: "the pull request's " + p.name,
		Justification: fmt.Sprintf("the pull request's %s %s; policy comes from the target branch, so this change does not apply and the finding still counts",
			p.name, why),
	})
}

func describe(a *config.Allowlist) string {
	if a.Description == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", a.Description)
}

func sameRule(a, b config.Rule) bool {
	re := func(r config.Rule) string {
		if r.Regex == nil {
			return ""
		}
		return r.Regex.String()
	}
	path := func(r config.Rule) string {
		if r.Path == nil {
			return ""
		}
		return r.Path.String()
	}
	return re(a) == re(b) && path(a) == path(b) && a.SecretGroup == b.SecretGroup && a.Entropy == b.Entropy &&
		slices.Equal(a.Keywords, b.Keywords) && len(a.Allowlists) == len(b.Allowlists)
}

// allowedBy returns the first allowlist that allows the finding, as gitleaks
// evaluates them (detect.checkCommitOrPathAllowed and checkFindingAllowed):
// with the OR condition any of commit, path, regex or stopword; with AND,
// all the kinds the allowlist sets.
func allowedBy(lists []*config.Allowlist, gf report.Finding) *config.Allowlist {
	for _, a := range lists {
		target := gf.Secret
		switch a.RegexTarget {
		case "match":
			target = gf.Match
		case "line":
			target = gf.Line
		}
		commit, _ := a.CommitAllowed(gf.Commit)
		path := a.PathAllowed(gf.File)
		regex := a.RegexAllowed(target)
		stop, _ := a.ContainsStopWord(gf.Secret)
		allowed := false
		if a.MatchCondition == config.AllowlistMatchAnd {
			checks := []bool{}
			if len(a.Commits) > 0 {
				checks = append(checks, commit)
			}
			if len(a.Paths) > 0 {
				checks = append(checks, path)
			}
			if len(a.Regexes) > 0 {
				checks = append(checks, regex)
			}
			if len(a.StopWords) > 0 {
				checks = append(checks, stop)
			}
			allowed = len(checks) > 0 && !slices.Contains(checks, false)
		} else {
			allowed = (gf.Commit != "" && commit) || path || regex || stop
		}
		if allowed {
			return a
		}
	}
	return nil
}
