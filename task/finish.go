package task

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/paths"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/deps"
)

// finish reports a finished scan (or merge) to the agent: issues, the SARIF
// artifact, the summary and JUnit, output variables, the pull request's
// comments, and the task's result, whose exit code it returns.
func finish(ctx context.Context, cmds *Commands, log *slog.Logger, out *scan.Outcome, opts config.Options, st Settings, sarifPath string, getenv func(string) string) int {
	shard := out.Verdict.Shard.Split() // a part of the findings: the merge job reports them
	logIssues(cmds, out, st, sarifPath, shard)
	publish(cmds, log, out, st, sarifPath, shard, getenv)
	publishSBOMs(cmds, log, opts, st)
	setOutputs(cmds, out.Verdict, opts.Registry, sarifPath)
	line := report.VerdictLine(out.Scan)
	if opts.PR.Comments && !shard {
		d := DecoratePR(ctx, log, out, opts, getenv)
		switch {
		case d.Skipped != "":
			log.Info(d.Line())
		case d.Err != nil:
			cmds.LogIssue("warning", "", 0, 0, "tollgate-pr-comments", "Tollgate "+d.Line())
			if opts.PR.Required {
				cmds.Complete(Failed, "Tollgate: "+line+"; the pull request could not be decorated (prCommentsRequired)")
				return policy.ExitScannerFailed
			}
		default:
			log.Info(d.Line())
		}
	}
	return complete(cmds, out.Verdict, st, line)
}

// logIssues logs the configuration warnings, the failing findings (at most
// st.MaxIssues, then a count) and the engines' errors as the step's issues.
func logIssues(cmds *Commands, out *scan.Outcome, st Settings, sarifPath string, shard bool) {
	for _, n := range out.Warnings {
		cmds.LogIssue("warning", n.Path, n.Line, 0, n.Code, "Tollgate configuration: "+n.Message)
	}
	logged := 0
	failing := 0
	for _, r := range out.Results {
		for i := range r.Findings {
			f := &r.Findings[i]
			if shard || !out.Gate.Fails(f) {
				continue
			}
			failing++
			if logged >= st.MaxIssues {
				continue
			}
			logged++
			cmds.LogIssue("error", f.Location.Path, f.Location.StartLine, f.Location.StartColumn, f.RuleID,
				fmt.Sprintf("[%s] %s: %s", f.Severity, f.Engine, issueText(f)))
		}
		for _, n := range r.Status.Notifications {
			if n.Level == scanners.LevelError {
				cmds.LogIssue("warning", n.Path, n.Line, 0, n.Code, fmt.Sprintf("Tollgate %s engine: %s", r.Engine, n.Message))
			}
		}
	}
	if failing > logged {
		cmds.LogIssue("error", "", 0, 0, "tollgate-more", fmt.Sprintf("... and %d more failing finding(s); see the SARIF log %s", failing-logged, filepath.Base(sarifPath)))
	}
}

// SBOMArtifact is the artifact the task publishes the SBOMs (input sbom)
// to, beside the SARIF log's.
const SBOMArtifact = "SBOM"

// publishSBOMs uploads the CycloneDX SBOMs the scan wrote (input sbom) to
// their own artifact.
func publishSBOMs(cmds *Commands, log *slog.Logger, opts config.Options, st Settings) {
	d, ok := opts.EngineOptions[scanners.EngineDeps].(*deps.Options)
	if !ok || d.SBOMDir == "" || !st.Publish {
		return
	}
	files, err := filepath.Glob(filepath.Join(d.SBOMDir, "*.cdx.json"))
	if err != nil || len(files) == 0 {
		log.Warn("no SBOM to publish", "dir", d.SBOMDir)
		return
	}
	for _, f := range files {
		cmds.UploadArtifact(SBOMArtifact, f)
	}
}

// publish uploads the SARIF log as the artifact, and (but for a shard) the
// markdown summary and the JUnit results that report writes.
func publish(cmds *Commands, log *slog.Logger, out *scan.Outcome, st Settings, sarifPath string, shard bool, getenv func(string) string) {
	if st.Publish {
		cmds.UploadArtifact(st.ArtifactName, sarifPath)
	}
	if shard {
		log.Info("shard: the merge job writes the summary, the JUnit results and the pull request's comments")
		return
	}
	base := strings.TrimSuffix(filepath.Base(sarifPath), ".sarif")
	fo := report.FormatOptions{SARIFName: filepath.Base(sarifPath)}
	if st.Publish {
		fo.Artifact = st.ArtifactName
	}
	summary := agentTempFile(getenv, paths.Native(), os.TempDir(), base+"-summary.md")
	if err := scan.WriteFileAtomic(summary, func(w io.Writer) error { return report.WriteSummary(w, out.Scan, fo) }); err != nil {
		log.Warn("could not write the summary", "error", err)
	} else {
		cmds.UploadSummary(summary)
	}
	if st.PublishJUnit {
		junit := agentTempFile(getenv, paths.Native(), os.TempDir(), base+"-junit.xml")
		if err := scan.WriteFileAtomic(junit, func(w io.Writer) error { return report.WriteJUnit(w, out.Scan, fo) }); err != nil {
			log.Warn("could not write the JUnit report", "error", err)
		} else {
			cmds.PublishJUnit(junit, "Tollgate security gate")
		}
	}
}

// setOutputs sets the step's output variables: the SARIF file, the verdict,
// the counts by kind, by severity and by engine.
func setOutputs(cmds *Commands, v policy.Verdict, engines scanners.Registry, sarifPath string) {
	cmds.SetOutput("sarifFile", sarifPath)
	cmds.SetOutput("verdict", verdictWord(v))
	cmds.SetOutput("findings", strconv.Itoa(v.Total))
	cmds.SetOutput("failing", strconv.Itoa(v.Failing))
	cmds.SetOutput("suppressed", strconv.Itoa(v.Suppressed))
	cmds.SetOutput("new", strconv.Itoa(v.New))
	for _, sev := range []scanners.Severity{scanners.SeverityCritical, scanners.SeverityHigh, scanners.SeverityMedium, scanners.SeverityLow, scanners.SeverityUnknown} {
		n := 0
		for _, counts := range v.Counts {
			n += counts[sev.String()]
		}
		cmds.SetOutput(strings.ToLower(sev.String()), strconv.Itoa(n))
	}
	for _, e := range engines.Names() {
		n := 0
		for _, c := range v.Counts[e] {
			n += c
		}
		cmds.SetOutput(e+"Findings", strconv.Itoa(n))
	}
}

// complete sets the task's result from the verdict and returns the exit
// code: an engine failure (when it fails the task), the gate, or a pass with
// or without issues.
func complete(cmds *Commands, v policy.Verdict, st Settings, line string) int {
	switch {
	case len(v.FailedEngines) > 0 && st.FailOnScannerError:
		cmds.Complete(Failed, "Tollgate: "+line)
		return policy.ExitScannerFailed
	case !v.Pass && !v.Shard.Split():
		cmds.Complete(Failed, "Tollgate: "+line)
		return policy.ExitPolicyFailure
	case v.Total > 0 || len(v.FailedEngines) > 0 || len(v.PartialEngines) > 0:
		cmds.Complete(SucceededWithIssues, "Tollgate: "+line)
	default:
		cmds.Complete(Succeeded, "Tollgate: "+line)
	}
	return policy.ExitPass
}

// verdictWord is the run's verdict in one word: pass, fail, error (an
// engine failed), or deferred (a shard: the merge decides).
func verdictWord(v policy.Verdict) string {
	switch {
	case len(v.FailedEngines) > 0:
		return "error"
	case v.Shard.Split():
		return "deferred" // the merge job applies the gate
	case !v.Pass:
		return "fail"
	}
	return "pass"
}

func issueText(f *scanners.Finding) string {
	if f.Vuln != nil {
		return f.Message
	}
	if f.Title != "" && f.Title != f.Message && f.Secret == nil {
		return strings.TrimSuffix(f.Title, ".") + ": " + f.Message
	}
	return f.Message
}
