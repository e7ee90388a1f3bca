// Package scanners holds what every Tollgate engine shares: the normalised
// Finding, the per-engine Result with its Status, the one directory walk that
// all engines read from, and Run, which drives the engines side by side.
//
// Nothing here knows about SARIF, Azure Pipelines or the engines' own types:
// each engine (secrets, iac, images) converts its native results into Findings.
package scanners

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Severity orders findings for thresholds; the zero value is Unknown.
type Severity int

// Severities, lowest first, so that comparisons read naturally.
const (
	SeverityUnknown Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// String returns the upper-case name used by Trivy and in every report.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "UNKNOWN"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name in any case.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(strings.TrimSpace(name), n) {
			return Severity(i), nil
		}
	}
	return SeverityUnknown, fmt.Errorf("unknown severity %q (want critical, high, medium, low or unknown)", name)
}

// MarshalText writes the severity name, so JSON reports carry "HIGH", not 3.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Location says where a finding is. Path is repository-relative with forward
// slashes; lines and columns are 1-based and 0 when unknown.
type Location struct {
	Path        string `json:"path,omitempty"`
	StartLine   int    `json:"startLine,omitempty"`
	StartColumn int    `json:"startColumn,omitempty"`
	EndLine     int    `json:"endLine,omitempty"`
	EndColumn   int    `json:"endColumn,omitempty"`
	// Image is the image reference a vulnerability belongs to.
	Image string `json:"image,omitempty"`
	// Commit is the commit a secret was found in (git modes only).
	Commit string `json:"commit,omitempty"`
}

// Finding is one normalised result of any engine.
type Finding struct {
	Engine   string   `json:"scanner"`
	RuleID   string   `json:"ruleId"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Location Location `json:"location"`
	// Fingerprint ("tollgate/v1") is stable across runs and machines: it is
	// derived from the rule, the path and the content of the finding's lines,
	// never from an absolute path, a line number or a secret's plain value.
	Fingerprint string `json:"fingerprint"`
	// FingerprintV2 ("tollgate/v2") is derived from what is wrong, never from
	// where it sits or how its region reads: the rule, the path and Identity
	// (see Result.Normalize). Set by Normalize unless an engine set it.
	FingerprintV2 string `json:"fingerprintV2,omitempty"`
	// Identity names what the finding is about within its file, by the
	// identity its type gives things: a Terraform address, a CloudFormation
	// logical ID, an ARM resource's type and name, a Kubernetes object (and
	// container), a Dockerfile stage and instruction, an Ansible play and
	// task, a secret's hashed value, an image's package. Engines set it.
	Identity string `json:"-"`
	// TieBreak tells apart findings of one rule with one Identity in one
	// file: normalised content, where the type's text is stable (empty where
	// it is not, and an occurrence index decides).
	TieBreak string   `json:"-"`
	HelpURI  string   `json:"helpUri,omitempty"`
	Tags     []string `json:"tags,omitempty"`

	Secret    *SecretDetail    `json:"secret,omitempty"`
	Misconfig *MisconfigDetail `json:"misconfiguration,omitempty"`
	Vuln      *VulnDetail      `json:"vulnerability,omitempty"`

	// Suppressions are set by the policy layer; a suppressed finding is kept
	// in every report but does not count for the verdict.
	Suppressions []Suppression `json:"suppressions,omitempty"`
	// BaselineState is new, unchanged, updated or absent when a baseline
	// was given (BaselineNone without one).
	BaselineState BaselineState `json:"baselineState,omitempty"`
	// PreExisting marks, in a pull-request build with deps.fail-on
	// introduced, a dependency vulnerability of a package the target branch
	// already pinned at that version: the pull request did not introduce
	// it, and it does not count for the gate (it is reported).
	PreExisting bool `json:"preExisting,omitempty"`
	// BaselineProperties are an absent finding's SARIF properties as the
	// baseline had them (severity, tags, the engine's detail), re-emitted so
	// that it reads as it did.
	BaselineProperties map[string]any `json:"-"`

	// v2base and tiefp stand for Identity and TieBreak in a finding that
	// came from the result cache, which keeps only their digests.
	v2base, tiefp string
}

// v2Parts are the digests FingerprintV2 is made of: the base (engine, rule,
// path, Identity, commit) and the base with the TieBreak.
func (f *Finding) v2Parts() (base, tie string) {
	if f.v2base != "" {
		return f.v2base, f.tiefp
	}
	base = Fingerprint("tollgate/v2", f.Engine, f.RuleID, f.Location.Path, f.Identity, f.Location.Commit)
	return base, Fingerprint(base, f.TieBreak)
}

// Suppressed reports whether an accepted suppression applies; one under
// review (a pull request's own policy change) does not suppress.
func (f *Finding) Suppressed() bool {
	for _, s := range f.Suppressions {
		if s.Status == SuppressionAccepted {
			return true
		}
	}
	return false
}

// UnderReview reports whether a suppression is proposed, not applied.
func (f *Finding) UnderReview() bool {
	for _, s := range f.Suppressions {
		if s.Status == SuppressionUnderReview {
			return true
		}
	}
	return false
}

// SecretDetail describes a secret without ever holding its value.
type SecretDetail struct {
	// Redacted is what reports show instead of the secret.
	Redacted string  `json:"redacted"`
	Entropy  float32 `json:"entropy,omitempty"`
	// Commit is set in git modes.
	Commit string `json:"commit,omitempty"`
	// InlineAllowed is true when the line carries a gitleaks:allow comment;
	// policy decides whether it suppresses.
	InlineAllowed bool `json:"-"`
	// GitleaksFingerprint is gitleaks' own "file:rule:line" key, as used by .gitleaksignore.
	GitleaksFingerprint string `json:"gitleaksFingerprint"`
}

// MisconfigDetail carries what Trivy says about a misconfiguration.
type MisconfigDetail struct {
	FileType   string   `json:"fileType"`
	Resource   string   `json:"resource,omitempty"`
	Provider   string   `json:"provider,omitempty"`
	Service    string   `json:"service,omitempty"`
	Resolution string   `json:"resolution,omitempty"`
	Aliases    []string `json:"aliases,omitempty"`
	// InlineIgnored is set when a trivy:ignore comment covers the finding;
	// policy decides whether it suppresses.
	InlineIgnored bool `json:"-"`
	// InlineIgnoreLine is the line of that comment (0: not found).
	InlineIgnoreLine int `json:"-"`
}

// VulnDetail carries a package vulnerability found in an image or a
// lockfile.
type VulnDetail struct {
	Package          string  `json:"package"`
	PackageType      string  `json:"packageType,omitempty"`
	InstalledVersion string  `json:"installedVersion"`
	FixedVersion     string  `json:"fixedVersion,omitempty"`
	CVSSScore        float64 `json:"cvssScore,omitempty"`
	CVSSVector       string  `json:"cvssVector,omitempty"`
	ImageDigest      string  `json:"imageDigest,omitempty"`
	PkgPath          string  `json:"pkgPath,omitempty"`
	// PURL is the package URL (deps engine).
	PURL string `json:"purl,omitempty"`
	// Relationship is "direct" or "indirect" where the lockfile says
	// (deps engine).
	Relationship string `json:"relationship,omitempty"`
	// Via are the direct dependencies that pull an indirect one in, as
	// name@version (deps engine).
	Via []string `json:"via,omitempty"`
}

// BaselineState is a finding's state against a baseline, as SARIF names
// it (result.baselineState).
type BaselineState string

// Baseline states; the zero value is no baseline.
const (
	BaselineNone      BaselineState = ""
	BaselineNew       BaselineState = "new"
	BaselineUnchanged BaselineState = "unchanged"
	BaselineUpdated   BaselineState = "updated"
	// BaselineAbsent is a result of the baseline this run did not find: it
	// is reported, and never counts.
	BaselineAbsent BaselineState = "absent"
)

// Suppression statuses, as SARIF names them.
const (
	// SuppressionAccepted suppresses: the finding does not count. It is the
	// zero value.
	SuppressionAccepted = ""
	// SuppressionUnderReview is a suppression a pull request proposes (its
	// own ignore entry, ignore file, gitleaks allowlist or inline comment)
	// while policy comes from the target branch: shown, not applied.
	SuppressionUnderReview = "underReview"
)

// SuppressionKind says where a suppression was written, as SARIF names it
// (suppression.kind); the zero value is unspecified.
type SuppressionKind string

// Suppression kinds.
const (
	// SuppressionInSource is a comment in the scanned file (gitleaks:allow,
	// trivy:ignore).
	SuppressionInSource SuppressionKind = "inSource"
	// SuppressionExternal is an entry of an ignore file or .tollgate.yaml.
	SuppressionExternal SuppressionKind = "external"
)

// Suppression records why a finding does not count.
type Suppression struct {
	Kind          SuppressionKind `json:"kind"`
	Justification string          `json:"justification"`
	// Status is SuppressionAccepted or SuppressionUnderReview.
	Status string `json:"status,omitempty"`
	// Source names the entry that suppressed it, e.g. ".tollgate.yaml:12".
	Source string `json:"source,omitempty"`
}

// Fingerprint hashes its parts into a short stable key. Parts are joined with
// a separator that cannot appear in them unescaped, so ("a","bc") and ("ab","c") differ.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// NormalizeLine collapses whitespace so that re-indenting a line does not
// change the fingerprint of the finding on it.
func NormalizeLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// WasThere reports whether the finding was there before the change under
// review: a baseline has it (unchanged or updated), or the target branch
// pinned the dependency already (PreExisting). Reviews show the others
// first.
func (f *Finding) WasThere() bool {
	return f.PreExisting || f.BaselineState == BaselineUnchanged || f.BaselineState == BaselineUpdated
}
