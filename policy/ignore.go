package policy

import (
	"fmt"
	"log/slog"
	"path"
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
	// Engine, when set, limits the entry to one engine's findings.
	Engine string
	// Expires is the last day the entry suppresses (zero: never expires).
	Expires time.Time
	// Source names the entry, e.g. ".tollgate.yaml:12".
	Source string
}

// Validate checks that the rule matches something and says why.
func (r IgnoreRule) Validate() error {
	if r.ID == "" && r.Path == "" && r.Fingerprint == "" && r.Image == "" && r.Package == "" {
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
	if r.Engine != "" && r.Engine != f.Scanner {
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
	if r.Fingerprint != "" && r.Fingerprint != f.Fingerprint && r.Fingerprint != baseFingerprint(f.Fingerprint) {
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

// ConfigIgnores suppresses the findings .tollgate.yaml's ignore entries name.
type ConfigIgnores struct {
	Rules []IgnoreRule
	Now   time.Time
	Log   *slog.Logger
}

// Name implements Step.
func (ConfigIgnores) Name() string { return "ignore" }

// Process implements Step.
func (c ConfigIgnores) Process(results []scanners.Result) error {
	return applyIgnores(c.Log, results, c.Rules, c.Now)
}

// applyIgnores is shared by the configuration file and Trivy's ignore files:
// live entries suppress; expired ones warn, once, on the run they would
// have applied to (or the first run when they match nothing).
func applyIgnores(log *slog.Logger, results []scanners.Result, rules []IgnoreRule, now time.Time) error {
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
				if !expired {
					suppress(f, scanners.Suppression{Kind: "external", Justification: rule.Reason, Source: rule.Source})
				}
			}
		}
		if !expired {
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
	return nil
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
