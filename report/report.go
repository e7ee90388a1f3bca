// Package report writes a finished scan: the SARIF 2.1.0 log (the one
// source of truth), the console table, and JSON. It knows the normalised
// findings only, never an engine's own types.
package report

import (
	"time"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
)

// Scan is everything a report needs about one finished scan.
type Scan struct {
	// Root is the absolute scan root (SARIF's SRCROOT).
	Root    string
	Results []scanners.Result
	Verdict policy.Verdict
	Gate    policy.Gate
	// ToolVersion is Tollgate's own version.
	ToolVersion string
	// Category distinguishes several Tollgate analyses of one repository; it
	// is part of every run's automationDetails.id (empty means "tollgate").
	Category string
	// Automation identifies the pipeline run (see AutomationFromEnv).
	Automation Automation
	// RunProperties are copied into every run's properties (e.g. pipeline facts).
	RunProperties map[string]any
	// Started and Finished bound the whole scan.
	Started, Finished time.Time
	// VersionControl describes the scanned revision, when known.
	VersionControl *VersionControl
	// Policy says where repository policy came from, and what a pull
	// request changes in it (shown, not applied).
	Policy PolicyReport
	// Warnings are configuration problems of the whole scan (refused keys of
	// the checkout's .tollgate.yaml, a pull request's policy changes): every
	// SARIF run carries them as toolConfigurationNotifications; the console,
	// the summary and the task show them once.
	Warnings []scanners.Notification
}

// PolicyReport is where a scan's repository policy came from.
type PolicyReport struct {
	// Origin names it: "the checkout", "the target branch main (...)", or
	// the built-in defaults.
	Origin string
	// PullRequest is set when the policy is not the checkout's own.
	PullRequest bool
	// Changes are the policy files the pull request changes.
	Changes []PolicyChange
}

// PolicyChange is one policy file a pull request changes.
type PolicyChange struct {
	Path, Change string
}

// VersionControl is the repository and revision that was scanned.
type VersionControl struct {
	RepositoryURI string
	Revision      string
	Branch        string
}

// levelOf maps a severity to a SARIF result level.
func levelOf(s scanners.Severity) string {
	switch s {
	case scanners.SeverityCritical, scanners.SeverityHigh:
		return "error"
	case scanners.SeverityMedium:
		return "warning"
	default:
		return "note"
	}
}

// SecuritySeverity is the score GitHub code scanning ranks by: the CVSS
// score when there is one, else one derived from the severity.
func SecuritySeverity(s scanners.Severity, cvss float64) string {
	if cvss > 0 {
		return formatScore(cvss)
	}
	switch s {
	case scanners.SeverityCritical:
		return "9.5"
	case scanners.SeverityHigh:
		return "8.0"
	case scanners.SeverityMedium:
		return "5.5"
	case scanners.SeverityLow:
		return "2.0"
	default:
		return "0.0"
	}
}
