package prcomments

import (
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/report"
)

// Thread properties Tollgate sets on the threads it owns. A thread without
// PropFingerprint or PropSummary is somebody else's and is never touched.
const (
	PropFingerprint = "tollgate.fingerprint"
	// PropStatus is the status Tollgate last gave the thread; a status that
	// differs from it was set by a person, and Tollgate leaves it alone.
	PropStatus  = "tollgate.status"
	PropSummary = "tollgate.summary"
)

// Status is a pull-request thread's status as the REST API spells it.
type Status string

// The statuses Tollgate sets.
const (
	StatusActive  Status = "active"
	StatusFixed   Status = "fixed"
	StatusWontFix Status = "wontFix"
	StatusClosed  Status = "closed"
)

// Finding is what a review thread says about one finding.
type Finding struct {
	Fingerprint        string
	Severity           string
	RuleID             string
	Title              string
	Message            string
	Path               string // repository-relative, forward slashes
	StartLine, EndLine int
	// StartColumn and EndColumn anchor the thread within its lines (0:
	// the line's start).
	StartColumn, EndColumn int
	Fix                    string
	HelpURI                string
	// Suppressed findings do not open threads; a thread already open for
	// one is marked wontFix with the justification.
	Suppressed    bool
	Justification string
	// PreExisting findings were there before the pull request (a baseline
	// or the dependency engine's comparison with the target branch says
	// so): on a changed line they come after the findings the pull request
	// introduces, whatever their severity.
	PreExisting bool
}

// Body is the thread's first comment: severity, rule, message, how to fix,
// the help link and how to suppress. Every text from the scan is escaped; a
// secret's value is never part of a Finding.
func Body(f Finding) string {
	var b strings.Builder
	title := f.Title
	if title == "" {
		title = f.RuleID
	}
	fmt.Fprintf(&b, "**Tollgate: %s** %s %s\n\n", report.Markdown(strings.ToUpper(f.Severity)), Code(f.RuleID), report.Markdown(title))
	if f.Suppressed {
		fmt.Fprintf(&b, "Suppressed: %s\n\n", report.Markdown(f.Justification))
	}
	if f.Message != "" {
		b.WriteString(report.Markdown(f.Message) + "\n\n")
	}
	if f.Fix != "" {
		b.WriteString("**How to fix:** " + report.Markdown(f.Fix) + "\n\n")
	}
	// A rule the checkout defines may name any host for its help: the
	// build identity links to the allowed ones only (report.LinkAllowed).
	if f.HelpURI != "" && report.LinkAllowed(f.HelpURI) {
		b.WriteString(Link("More about "+f.RuleID, f.HelpURI) + "\n\n")
	}
	b.WriteString("To accept it, add to `.tollgate.yaml` on the target branch:\n\n")
	b.WriteString(Block("yaml", "ignore:\n  - fingerprint: "+yamlScalar(f.Fingerprint)+"\n    reason: <why this is acceptable>"))
	b.WriteString("\n")
	return b.String()
}

// yamlScalar quotes s for a YAML plain context when it is not a bare hex
// fingerprint.
func yamlScalar(s string) string {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

// Thread is what Reconcile needs to know of an existing thread.
type Thread struct {
	ID int
	// Fingerprint is the thread's PropFingerprint, empty for threads Tollgate
	// does not own.
	Fingerprint string
	Status      Status
	// LastSet is the thread's PropStatus.
	LastSet Status
	// CommentID and Content are Tollgate's first comment of the thread.
	CommentID int
	Content   string
}

// Create opens a thread for a finding.
type Create struct {
	Finding Finding
	Content string
}

// Update changes one thread: its first comment's content when Content is not
// empty, its status when Status is not empty (and then PropStatus with it, so
// that the next run can tell Tollgate's status from a person's).
type Update struct {
	ThreadID  int
	CommentID int
	Content   string
	Status    Status
}

// Plan is what brings the pull request in step with a scan.
type Plan struct {
	Create []Create
	Update []Update
	// Overflow counts failing findings on changed lines left without a thread
	// by the cap; the summary comment lists them.
	Overflow int
}

// Reconcile plans the threads for the failing findings on the pull request's
// changed lines (wanted, most important first) against the threads already
// there. A finding keeps its thread across runs by fingerprint; a new one
// gets a thread while fewer than maxThreads of Tollgate's threads are active;
// a thread whose finding is gone is marked fixed, one whose finding is now
// suppressed wontFix, and one whose finding came back active again. A status
// a person set is kept, and no thread is ever deleted.
func Reconcile(existing []Thread, wanted []Finding, maxThreads int) Plan {
	var p Plan
	byFP := make(map[string]Thread, len(existing))
	for _, t := range existing {
		if t.Fingerprint == "" {
			continue
		}
		if old, ok := byFP[t.Fingerprint]; ok && old.ID < t.ID {
			continue // the oldest thread of a fingerprint is the one kept in step
		}
		byFP[t.Fingerprint] = t
	}
	seen := make(map[string]bool, len(wanted))
	active := 0
	var fresh []Finding
	for _, f := range wanted {
		if f.Fingerprint == "" || seen[f.Fingerprint] {
			continue
		}
		seen[f.Fingerprint] = true
		t, ok := byFP[f.Fingerprint]
		if !ok {
			if !f.Suppressed {
				fresh = append(fresh, f)
			}
			continue
		}
		want := StatusActive
		if f.Suppressed {
			want = StatusWontFix
		}
		if u, changed := step(t, Body(f), want); changed {
			p.Update = append(p.Update, u)
		}
		if want == StatusActive {
			active++
		}
	}
	for _, f := range fresh {
		if active >= maxThreads {
			p.Overflow++
			continue
		}
		active++
		p.Create = append(p.Create, Create{Finding: f, Content: Body(f)})
	}
	for _, t := range existing {
		if t.Fingerprint == "" || seen[t.Fingerprint] || byFP[t.Fingerprint].ID != t.ID {
			continue
		}
		if u, changed := step(t, "", StatusFixed); changed {
			p.Update = append(p.Update, u)
		}
	}
	return p
}

// step moves one thread towards content and status, leaving a status that a
// person set (one that differs from what Tollgate last set) as it is.
func step(t Thread, content string, want Status) (Update, bool) {
	u := Update{ThreadID: t.ID, CommentID: t.CommentID}
	if content != "" && content != t.Content {
		u.Content = content
	}
	personSet := t.LastSet != "" && t.Status != t.LastSet
	if t.Status != want && !personSet {
		u.Status = want
	}
	return u, u.Content != "" || u.Status != ""
}
