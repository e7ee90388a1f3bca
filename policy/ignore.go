package policy

import (
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/tollgate/tollgate/scanners"
)

// IgnoreRule is one entry of .tollgate.yaml's ignore list. Every matcher
// that is set must match (id, path, image and package are globs; the
// fingerprint is exact); the reason becomes the suppression's justification.
type IgnoreRule struct {
	ID          string
	Path        string
	Fingerprint string
	Image       string
	Package     string
	Reason      string
	// Engines, when set, limit the entry to these engines' findings.
	Engines []string
	// GitleaksFingerprint, when set, matches a secret by gitleaks' own key
	// (FILE:RULE:LINE, or COMMIT:FILE:RULE:LINE in git modes), as a
	// .gitleaksignore line does.
	GitleaksFingerprint string
	// Expires is the last day the entry suppresses (zero: never expires).
	Expires time.Time
	// Source names the entry, e.g. ".tollgate.yaml:12".
	Source string
}

// Validate checks that the rule matches something and says why.
func (r IgnoreRule) Validate() error {
	if r.ID == "" && r.Path == "" && r.Fingerprint == "" && r.Image == "" && r.Package == "" && r.GitleaksFingerprint == "" {
		return fmt.Errorf("an ignore entry needs at least one of id, path, fingerprint, image, package")
	}
	if strings.TrimSpace(r.Reason) == "" {
		return fmt.Errorf("an ignore entry needs a reason")
	}
	for _, g := range []string{r.ID, r.Image, r.Package} {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("invalid glob %q: %w", g, err)
		}
	}
	if r.Path != "" && !doublestar.ValidatePattern(r.Path) {
		return fmt.Errorf("invalid path glob %q", r.Path)
	}
	return nil
}

// Expired reports whether the entry no longer suppresses at now: it is
// valid through the whole day it expires on.
func (r IgnoreRule) Expired(now time.Time) bool {
	return !r.Expires.IsZero() && !now.Before(r.Expires.Add(24*time.Hour))
}

// Matches reports whether the entry names the finding.
func (r IgnoreRule) Matches(f *scanners.Finding) bool {
	if len(r.Engines) > 0 && !slices.Contains(r.Engines, f.Engine) {
		return false
	}
	if r.GitleaksFingerprint != "" && !gitleaksMatch(r.GitleaksFingerprint, f) {
		return false
	}
	if r.ID != "" && !anyGlob(r.ID, ids(f)) {
		return false
	}
	if r.Path != "" {
		paths := []string{f.Location.Path}
		if f.Vuln != nil && f.Vuln.PkgPath != "" {
			paths = append(paths, strings.Split(f.Vuln.PkgPath, ", ")...)
		}
		if !anyDoublestar(r.Path, paths) {
			return false
		}
	}
	if r.Fingerprint != "" && !slices.ContainsFunc([]string{f.Fingerprint, f.FingerprintV2}, func(fp string) bool {
		return fp != "" && (r.Fingerprint == fp || r.Fingerprint == baseFingerprint(fp))
	}) {
		return false
	}
	if r.Image != "" && (f.Location.Image == "" || !anyGlob(r.Image, []string{f.Location.Image})) {
		return false
	}
	if r.Package != "" && (f.Vuln == nil || !anyGlob(r.Package, []string{f.Vuln.Package})) {
		return false
	}
	return true
}

// gitleaksMatch reports whether a .gitleaksignore key names the secret: its
// own gitleaks fingerprint, or (in git modes) the same without the commit.
func gitleaksMatch(key string, f *scanners.Finding) bool {
	if f.Secret == nil || f.Secret.GitleaksFingerprint == "" {
		return false
	}
	fp := f.Secret.GitleaksFingerprint
	if key == fp {
		return true
	}
	return f.Secret.Commit != "" && key == strings.TrimPrefix(fp, f.Secret.Commit+":")
}

// baseFingerprint strips the ":n" occurrence suffix.
func baseFingerprint(fp string) string {
	if i := strings.LastIndexByte(fp, ':'); i > 0 {
		return fp[:i]
	}
	return fp
}

func anyGlob(pattern string, values []string) bool {
	for _, v := range values {
		if ok, _ := path.Match(pattern, v); ok || strings.EqualFold(pattern, v) {
			return true
		}
	}
	return false
}

func anyDoublestar(pattern string, values []string) bool {
	for _, v := range values {
		if ok, _ := doublestar.Match(pattern, v); ok {
			return true
		}
	}
	return false
}

// Ignores suppresses the findings that ignore entries name: .tollgate.yaml's
// ignore list and the ignore files (.gitleaksignore, .trivyignore,
// .trivyignore.yaml), all read from the policy source.
//
// An entry that names a finding by its place alone (a gitleaks fingerprint,
// FILE:RULE:LINE: there is no secret in it) names whatever sits there: in a
// pull-request build (Lines set) a finding on a line the pull request adds
// or changes is not the one the entry was written for, so the suppression
// is under review and the finding still counts, as an inline comment the
// pull request writes is.
type Ignores struct {
	Rules []IgnoreRule
	Now   time.Time
	Log   *slog.Logger
	// Lines, in a pull-request build, tells the lines the pull request adds
	// (Inline's rule: nil Added means every line may be).
	Lines *Inline
}

// Name implements Step.
func (Ignores) Name() string { return "ignore" }

// Process implements Step.
func (c Ignores) Process(results []scanners.Result) error {
	rules := c.Rules
	if c.Lines != nil && c.Lines.Review {
		rules = nil
		for _, r := range c.Rules {
			if r.GitleaksFingerprint == "" {
				rules = append(rules, r)
				continue
			}
			c.placeBound(results, r)
		}
	}
	applyIgnores(c.Log, results, rules, c.Now, scanners.SuppressionAccepted, "")
	for _, rule := range c.Rules {
		if !rule.matchesAll() || rule.Expired(c.Now) {
			continue
		}
		for ri := range results {
			r := &results[ri]
			n := 0
			for fi := range r.Findings {
				if rule.Matches(&r.Findings[fi]) {
					n++
				}
			}
			if n == 0 {
				continue
			}
			msg := fmt.Sprintf("ignore entry %s matches every finding of the %s engine (%d here): it turns the engine off rather than accepting a finding; name what is accepted (an id, a path, a fingerprint)",
				rule.Source, r.Engine, n)
			if c.Log != nil {
				c.Log.Warn("ignore entry matches everything", "entry", rule.Source, "engine", r.Engine, "matches", n)
			}
			r.Status.Config = append(r.Status.Config, scanners.Notification{Level: scanners.LevelWarning, Code: "ignore-everything", Message: msg})
		}
	}
	return nil
}

// placeBound applies an entry that names a finding by its place: accepted
// where the line is the target's, under review where the pull request
// wrote it.
func (c Ignores) placeBound(results []scanners.Result, r IgnoreRule) {
	var here, changed []*scanners.Finding
	for ri := range results {
		for fi := range results[ri].Findings {
			f := &results[ri].Findings[fi]
			if !r.Matches(f) {
				continue
			}
			lines := []int{f.Location.StartLine}
			for l := f.Location.StartLine + 1; l <= f.Location.EndLine; l++ {
				lines = append(lines, l)
			}
			if c.Lines.addedAny(f.Location.Path, lines) {
				changed = append(changed, f)
			} else {
				here = append(here, f)
			}
		}
	}
	if r.Expired(c.Now) {
		applyIgnores(c.Log, results, []IgnoreRule{r}, c.Now, scanners.SuppressionAccepted, "") // the expiry warning
		return
	}
	for _, f := range here {
		suppress(f, scanners.Suppression{Kind: scanners.SuppressionExternal, Justification: r.Reason, Source: r.Source, Status: scanners.SuppressionAccepted})
	}
	for _, f := range changed {
		suppress(f, scanners.Suppression{Kind: scanners.SuppressionExternal, Source: r.Source, Status: scanners.SuppressionUnderReview,
			Justification: fmt.Sprintf("%s names this place (%s), and this pull request adds or changes its line (%s:%d): what it accepted was the line as %s has it, so this finding still counts",
				r.Source, r.GitleaksFingerprint, f.Location.Path, f.Location.StartLine, c.Lines.Target)})
	}
}

// matchesAll reports whether the entry names nothing in particular: each of
// its patterns matches any value ("*", "**"), and no fingerprint is set.
func (r IgnoreRule) matchesAll() bool {
	if r.Fingerprint != "" || r.GitleaksFingerprint != "" {
		return false
	}
	any := false
	for _, v := range []string{r.ID, r.Path, r.Image, r.Package} {
		switch v {
		case "":
		case "*", "**", "**/*", "*/**":
			any = true
		default:
			return false
		}
	}
	return any
}

// Proposed marks what a pull request's own policy would suppress, when
// policy comes from the target branch: its .tollgate.yaml ignore entries and
// its ignore files. The suppression is under review: shown in every report,
// never applied, so the finding still counts.
type Proposed struct {
	Rules []IgnoreRule
	// Target names where policy comes from, for the justification.
	Target string
	Now    time.Time
	Log    *slog.Logger
}

// Name implements Step.
func (Proposed) Name() string { return "proposed-ignore" }

// Process implements Step.
func (p Proposed) Process(results []scanners.Result) error {
	applyIgnores(p.Log, results, p.Rules, p.Now, scanners.SuppressionUnderReview,
		"; policy comes from "+p.Target+", so this pull request's change does not apply and the finding still counts")
	return nil
}

// applyIgnores is shared by every ignore source: live entries suppress (or
// propose, with status under review); expired ones warn, once, on the run
// they would have applied to (or the first run when they match nothing).
func applyIgnores(log *slog.Logger, results []scanners.Result, rules []IgnoreRule, now time.Time, status, note string) {
	for _, rule := range rules {
		expired := rule.Expired(now)
		matched := -1
		count := 0
		for ri := range results {
			for fi := range results[ri].Findings {
				f := &results[ri].Findings[fi]
				if !rule.Matches(f) {
					continue
				}
				count++
				if matched < 0 {
					matched = ri
				}
				if expired || (status == scanners.SuppressionUnderReview && f.Suppressed()) {
					continue
				}
				just := rule.Reason
				if status == scanners.SuppressionUnderReview {
					just = fmt.Sprintf("%s would ignore this (%s)%s", rule.Source, rule.Reason, note)
				}
				suppress(f, scanners.Suppression{Kind: scanners.SuppressionExternal, Justification: just, Source: rule.Source, Status: status})
			}
		}
		if !expired || status == scanners.SuppressionUnderReview {
			continue
		}
		msg := fmt.Sprintf("ignore entry at %s expired on %s and no longer suppresses anything (%d finding(s) match it)",
			rule.Source, rule.Expires.Format("2006-01-02"), count)
		if log != nil {
			log.Warn("expired ignore entry", "entry", rule.Source, "expired", rule.Expires.Format("2006-01-02"), "matches", count)
		}
		if matched < 0 {
			matched = 0
		}
		if len(results) > 0 {
			results[matched].Status.Config = append(results[matched].Status.Config, scanners.Notification{
				Level: scanners.LevelWarning, Code: "ignore-expired", Message: msg})
		}
	}
}

// ParseExpires reads an expiry date: 2006-01-02 or RFC 3339.
func ParseExpires(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid date %q (want YYYY-MM-DD)", s)
}
