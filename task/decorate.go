package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/task/prcomments"
)

// decorateTimeout bounds the whole decoration: the pipeline must not wait
// on Azure DevOps longer than this.
const decorateTimeout = 3 * time.Minute

// Decoration is what DecoratePR did, for the log and the summary.
type Decoration struct {
	// Skipped says why nothing was sent ("" when the pull request was
	// decorated or the decoration failed).
	Skipped string
	Result  prcomments.Result
	// Err is a failed decoration; an *prcomments.AuthError names the
	// permission the build identity lacks.
	Err error
}

// Line is the decoration's one log line (no text from the checkout).
func (d Decoration) Line() string {
	switch {
	case d.Skipped != "":
		return "pull-request comments: nothing sent: " + d.Skipped
	case d.Err != nil:
		return "pull-request comments failed: " + d.Err.Error()
	}
	r := d.Result
	return fmt.Sprintf("pull-request comments: %d thread(s) created, %d updated, %d finding(s) on changed lines over the cap, %d elsewhere; summary %s; status %s; %d request(s), %s waited on throttling",
		r.Created, r.Updated, r.Overflow, r.Elsewhere, pick(r.SummaryCreated, "created", pick(r.SummaryUpdated, "updated", "unchanged")),
		pick(r.StatusPosted, "posted", "unchanged"), r.Requests, r.Waited.Round(time.Millisecond))
}

func pick(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// DecoratePR decorates the Azure Repos pull request of this build with the
// scan's outcome when opts.PR.Comments is on: review threads for failing
// findings on the lines it changes, one summary comment and the
// security/tollgate/gate status. It never changes the verdict; the caller
// decides what a failure means (opts.PR.Required).
func DecoratePR(ctx context.Context, log *slog.Logger, out *scan.Outcome, opts config.Options, getenv func(string) string) Decoration {
	t, err := prcomments.FromEnv(getenv)
	if errors.Is(err, prcomments.ErrNotApplicable) {
		return Decoration{Skipped: err.Error()}
	}
	if err != nil {
		return Decoration{Err: fmt.Errorf("the pipeline does not give what pull-request comments need: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, decorateTimeout)
	defer cancel()

	prefix, changed := localChanges(ctx, log, opts, t.TargetBranch)
	var findings []prcomments.Finding
	failing := map[string]int{}
	for _, r := range out.Results {
		for i := range r.Findings {
			f := &r.Findings[i]
			fails, suppressed := out.Gate.Fails(f), f.Suppressed()
			if !fails && !suppressed {
				continue
			}
			pf := commentFinding(f, prefix)
			if suppressed {
				pf.Suppressed = true
				for _, s := range f.Suppressions {
					if s.Status == scanners.SuppressionAccepted {
						pf.Justification = s.Justification
						break
					}
				}
			} else {
				failing[strings.ToLower(f.Severity.String())]++
			}
			findings = append(findings, pf)
		}
	}
	v := out.Verdict
	// The status's state for the run's verdict.
	state := map[string]string{"pass": "succeeded", "fail": "failed", "error": "error"}[verdictWord(v)]
	res, err := prcomments.Decorate(ctx, log, prcomments.Options{
		Target:      t,
		MaxThreads:  opts.PR.MaxComments,
		Findings:    findings,
		Summary:     prcomments.Summary{Passed: v.Pass && len(v.FailedEngines) == 0, Failing: failing, Suppressed: v.Suppressed, BuildURL: t.BuildURL},
		State:       state,
		Description: statusDescription(out),
		Changed:     changed,
	})
	return Decoration{Result: res, Err: err}
}

// statusDescription is the status's one line: the verdict and the counts.
func statusDescription(out *scan.Outcome) string {
	line := report.VerdictLine(out.Scan)
	if i := strings.Index(line, " -> exit"); i > 0 {
		line = line[:i]
	}
	return "Tollgate " + line
}

// commentFinding is what a thread says about f; its path is the
// repository's (prefix is the scan root's directory in the repository).
func commentFinding(f *scanners.Finding, prefix string) prcomments.Finding {
	fp := f.FingerprintV2
	if fp == "" {
		fp = f.Fingerprint
	}
	pf := prcomments.Finding{
		Fingerprint: fp,
		Severity:    strings.ToLower(f.Severity.String()),
		RuleID:      f.RuleID,
		Title:       f.Title,
		Message:     f.Message, // the title is the thread's heading
		StartLine:   f.Location.StartLine,
		EndLine:     f.Location.EndLine,
		StartColumn: f.Location.StartColumn,
		EndColumn:   f.Location.EndColumn,
		HelpURI:     f.HelpURI,
		// A baseline had it, or the target branch pinned the package
		// already: not the pull request's own.
		PreExisting: f.WasThere(),
	}
	// A dependency's vulnerability sits on its lockfile line; an image's
	// belongs to the image, not to the line that names it.
	if (f.Vuln == nil || f.Engine == scanners.EngineDeps) && f.Location.Path != "" {
		pf.Path = path.Join(prefix, f.Location.Path)
	}
	switch {
	case f.Misconfig != nil:
		pf.Fix = f.Misconfig.Resolution
	case f.Vuln != nil && f.Vuln.FixedVersion != "":
		pf.Fix = fmt.Sprintf("upgrade %s to %s", f.Vuln.Package, f.Vuln.FixedVersion)
	case f.Secret != nil:
		pf.Fix = "revoke the secret, replace it with a reference to a secret store or a pipeline secret variable, and remove it from the history"
	}
	return pf
}

// localChanges is the scan root's place in the repository and the lines
// the checkout changes against the pull request's target branch (from
// their merge base), nil when the clone cannot say.
func localChanges(ctx context.Context, log *slog.Logger, opts config.Options, targetBranch string) (string, func(string, int) bool) {
	repo := opts.Repo
	if repo == nil {
		log.Info("pull-request comments: the scan root is not a git checkout; the server's file list decides")
		return "", nil
	}
	prefix := repo.Prefix()
	target := opts.Policy.Commit
	if target == "" && targetBranch != "" {
		res, _ := repo.Resolve(ctx, targetBranch)
		target = res.Commit
	}
	if target == "" {
		log.Info("pull-request comments: the target branch is not in the clone (fetchDepth: 0 brings it); threads go only on files the pull request adds")
		return prefix, nil
	}
	base := target
	if mb := repo.MergeBase(ctx, target, "HEAD"); mb != "" {
		base = mb
	}
	added, err := repo.AddedLines(ctx, base, "HEAD")
	if err != nil {
		log.Info("pull-request comments: the changed lines could not be listed", "error", err)
		return prefix, nil
	}
	return prefix, func(p string, line int) bool {
		rel, ok := strings.CutPrefix(p, prefix)
		return ok && added.Has(rel, line)
	}
}
