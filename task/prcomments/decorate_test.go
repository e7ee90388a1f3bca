package prcomments_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/task/prcomments"
	"github.com/tollgate/tollgate/task/prcomments/adofake"
)

const token = "fake-job-token-7f3c91d2" // the job access token the fake expects

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func target(t *testing.T, s *adofake.Server) prcomments.Target {
	t.Helper()
	env := s.Env()
	tg, err := prcomments.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func finding(fp, sev, path string, line int) prcomments.Finding {
	return prcomments.Finding{Fingerprint: fp, Severity: sev, RuleID: "RULE-" + fp, Title: "title of " + fp,
		Message: "message of " + fp, Path: path, StartLine: line, EndLine: line}
}

func allChanged(string, int) bool { return true }

func decorate(t *testing.T, s *adofake.Server, fs []prcomments.Finding, changed func(string, int) bool, max int) prcomments.Result {
	t.Helper()
	res, err := prcomments.Decorate(context.Background(), quiet(), prcomments.Options{
		Target: target(t, s), MaxThreads: max, Findings: fs, Changed: changed,
		State: "failed", Description: "Tollgate FAIL", Summary: prcomments.Summary{Failing: map[string]int{"high": len(fs)}},
	})
	if err != nil {
		t.Fatalf("Decorate: %v", err)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("requests the API would refuse:\n%s", strings.Join(p, "\n"))
	}
	return res
}

func byFingerprint(s *adofake.Server) map[string]adofake.Thread {
	out := map[string]adofake.Thread{}
	for _, th := range s.Threads() {
		if fp := th.Properties[prcomments.PropFingerprint]; fp != "" {
			out[fp] = th
		}
	}
	return out
}

func writes(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if strings.HasPrefix(r, "POST ") || strings.HasPrefix(r, "PATCH ") {
			out = append(out, r)
		}
	}
	return out
}

// TestDecorateKeepsThreadsInStep follows one pull request across runs: the
// first run opens a thread per finding on a changed line (anchored, with
// the fingerprint), a summary and a status; a re-run writes nothing; a
// fixed finding's thread is marked fixed, a suppressed one's wontFix, and
// a finding that comes back reopens its thread; a person's status stays.
func TestDecorateKeepsThreadsInStep(t *testing.T) {
	s := adofake.New(token, adofake.Change{Path: "/infra/main.tf", ChangeType: "edit"}, adofake.Change{Path: "/app/config.yaml", ChangeType: "add"})
	defer s.Close()
	changed := func(p string, line int) bool {
		return p == "infra/main.tf" && line >= 10 && line <= 20 || p == "app/config.yaml"
	}
	a, b := finding("aaa", "high", "infra/main.tf", 12), finding("bbb", "critical", "app/config.yaml", 3)
	elsewhere := finding("ccc", "high", "infra/main.tf", 40) // not a changed line
	other := finding("ddd", "high", "lib/other.tf", 5)       // not a file of the pull request

	res := decorate(t, s, []prcomments.Finding{a, b, elsewhere, other}, changed, 25)
	if res.Created != 2 || res.Elsewhere != 2 || !res.SummaryCreated || !res.StatusPosted || !res.ChangedFilesFromServer || res.Iteration != 1 {
		t.Fatalf("first run: %+v", res)
	}
	threads := byFingerprint(s)
	if len(threads) != 2 {
		t.Fatalf("threads: %+v", threads)
	}
	ta := threads["aaa"]
	if ta.ThreadContext == nil || ta.ThreadContext.FilePath != "/infra/main.tf" || ta.ThreadContext.RightFileStart.Line != 12 ||
		ta.Status != "active" || len(ta.PullRequestThreadContext) == 0 || !strings.Contains(ta.Comments[0].Content, "RULE-aaa") {
		t.Fatalf("thread of aaa: %+v", ta)
	}
	st := s.Statuses()
	if len(st) != 1 || st[0].Context.Genre != "security" || st[0].Context.Name != "tollgate/gate" || st[0].State != "failed" ||
		st[0].IterationID != 1 || !strings.Contains(st[0].TargetURL, "_build/results?buildId=1234") {
		t.Fatalf("status: %+v", st)
	}
	var summary *adofake.Thread
	for _, th := range s.Threads() {
		if th.Properties[prcomments.PropSummary] != "" {
			summary = &th
		}
	}
	if summary == nil || summary.ThreadContext != nil || !strings.Contains(summary.Comments[0].Content, "2 elsewhere") {
		t.Fatalf("summary: %+v", summary)
	}
	s.Requests()

	// A re-run with nothing changed only reads.
	res = decorate(t, s, []prcomments.Finding{a, b, elsewhere, other}, changed, 25)
	if w := writes(s.Requests()); len(w) != 0 || res.Created+res.Updated != 0 || res.SummaryUpdated || res.StatusPosted {
		t.Fatalf("re-run wrote %v (%+v)", w, res)
	}

	// b is fixed, a is suppressed; a reviewer resolved nothing yet.
	as := a
	as.Suppressed, as.Justification = true, "accepted until the module is replaced"
	decorate(t, s, []prcomments.Finding{as, elsewhere, other}, changed, 25)
	threads = byFingerprint(s)
	if threads["bbb"].Status != "fixed" || threads["aaa"].Status != "wontFix" || !strings.Contains(threads["aaa"].Comments[0].Content, "accepted until the module is replaced") {
		t.Fatalf("after fix and suppression: aaa %s, bbb %s", threads["aaa"].Status, threads["bbb"].Status)
	}
	if n := len(byFingerprint(s)); n != 2 {
		t.Fatalf("%d threads, want the same 2", n)
	}

	// b comes back: its thread reopens (no second thread). A person marks
	// a's thread closed after replying: that status is kept.
	s.PersonReplies(threads["aaa"].ID, "agreed, see the ticket")
	s.PersonSetsStatus(threads["aaa"].ID, "closed")
	decorate(t, s, []prcomments.Finding{a, b}, changed, 25)
	threads = byFingerprint(s)
	if threads["bbb"].Status != "active" || threads["aaa"].Status != "closed" || len(threads["aaa"].Comments) != 2 {
		t.Fatalf("after b came back: aaa %s (%d comments), bbb %s", threads["aaa"].Status, len(threads["aaa"].Comments), threads["bbb"].Status)
	}
	if n := len(s.Threads()); n != 3 {
		t.Fatalf("%d threads in all, want 2 findings' and the summary", n)
	}
}

// TestDecorateWholeFileFindings: a finding about a whole file (no line)
// gets a thread on the file when the pull request adds the file, and is
// counted elsewhere when the pull request only edits it.
func TestDecorateWholeFileFindings(t *testing.T) {
	s := adofake.New(token, adofake.Change{Path: "/new/Dockerfile", ChangeType: "add"}, adofake.Change{Path: "/old/Dockerfile", ChangeType: "edit"})
	defer s.Close()
	added, edited := finding("new", "high", "new/Dockerfile", 0), finding("old", "high", "old/Dockerfile", 0)
	added.EndLine, edited.EndLine = 0, 0
	res := decorate(t, s, []prcomments.Finding{added, edited}, allChanged, 25)
	threads := byFingerprint(s)
	th, ok := threads["new"]
	if res.Created != 1 || res.Elsewhere != 1 || !ok || th.ThreadContext == nil || th.ThreadContext.FilePath != "/new/Dockerfile" || th.ThreadContext.RightFileStart != nil {
		t.Fatalf("%+v; threads %+v", res, threads)
	}
}

// TestDecorateCapsThreads: with more failing findings on changed lines than
// the cap, the most severe get threads and the summary counts the rest.
func TestDecorateCapsThreads(t *testing.T) {
	s := adofake.New(token, adofake.Change{Path: "/a.tf", ChangeType: "add"})
	defer s.Close()
	var fs []prcomments.Finding
	for i := range 30 {
		sev := "medium"
		if i%10 == 0 {
			sev = "critical"
		}
		fs = append(fs, finding(fmt.Sprintf("f%02d", i), sev, "a.tf", i+1))
	}
	res := decorate(t, s, fs, allChanged, 5)
	if res.Created != 5 || res.Overflow != 25 || res.Threaded != 5 {
		t.Fatalf("%+v", res)
	}
	threads := byFingerprint(s)
	for _, fp := range []string{"f00", "f10", "f20"} {
		if _, ok := threads[fp]; !ok {
			t.Errorf("critical finding %s has no thread", fp)
		}
	}
	var summary string
	for _, th := range s.Threads() {
		if th.Properties[prcomments.PropSummary] != "" {
			summary = th.Comments[0].Content
		}
	}
	if !strings.Contains(summary, "25 more on changed lines, over the comment limit") {
		t.Fatalf("summary:\n%s", summary)
	}
}

// TestDecorateRetriesThrottling: a 429 with Retry-After: 1 on creating a
// thread is waited out and the thread is created once.
func TestDecorateRetriesThrottling(t *testing.T) {
	s := adofake.New(token, adofake.Change{Path: "/a.tf", ChangeType: "add"})
	defer s.Close()
	s.AddFault(adofake.Fault{Method: "POST", Path: "/threads", Status: 429, RetryAfter: "1", Times: 1})
	start := time.Now()
	res := decorate(t, s, []prcomments.Finding{finding("aaa", "high", "a.tf", 1)}, allChanged, 25)
	if res.Created != 1 || res.Waited < time.Second || time.Since(start) < time.Second {
		t.Fatalf("%+v after %s", res, time.Since(start))
	}
	if n := len(byFingerprint(s)); n != 1 {
		t.Fatalf("%d threads, want 1", n)
	}
}

// TestDecorateForbidden: a 403 stops the decoration with an AuthError that
// names the permission the build identity lacks.
func TestDecorateForbidden(t *testing.T) {
	s := adofake.New(token, adofake.Change{Path: "/a.tf", ChangeType: "add"})
	defer s.Close()
	s.AddFault(adofake.Fault{Method: "POST", Status: 403})
	_, err := prcomments.Decorate(context.Background(), quiet(), prcomments.Options{Target: target(t, s),
		Findings: []prcomments.Finding{finding("aaa", "high", "a.tf", 1)}, Changed: allChanged, State: "failed"})
	var ae *prcomments.AuthError
	if !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(err.Error(), "Contribute to pull requests") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Fatal("the error shows the token")
	}
	// A wrong token is the same kind of failure (401).
	s.ClearFaults()
	tg := target(t, s)
	tg.Token = "not-the-token"
	_, err = prcomments.Decorate(context.Background(), quiet(), prcomments.Options{Target: tg, State: "failed"})
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("wrong token: err = %v", err)
	}
}

// TestDecorateWithoutServerFiles: when the iteration's files cannot be
// read (a 500), the local diff alone decides and the rest goes on.
func TestDecorateWithoutServerFiles(t *testing.T) {
	s := adofake.New(token, adofake.Change{Path: "/a.tf", ChangeType: "edit"})
	defer s.Close()
	s.AddFault(adofake.Fault{Method: "GET", Path: "/changes", Status: 500})
	res, err := prcomments.Decorate(context.Background(), quiet(), prcomments.Options{Target: target(t, s),
		Findings: []prcomments.Finding{finding("aaa", "high", "a.tf", 1)}, Changed: allChanged, State: "failed"})
	if err == nil || !strings.Contains(err.Error(), "latest iteration") {
		t.Fatalf("err = %v, want the failed listing named", err)
	}
	if res.Created != 1 || res.ChangedFilesFromServer || !res.StatusPosted {
		t.Fatalf("%+v", res)
	}
}

func TestFromEnv(t *testing.T) {
	s := adofake.New(token)
	defer s.Close()
	env := s.Env()
	get := func(k string) string { return env[k] }
	if _, err := prcomments.FromEnv(get); err != nil {
		t.Fatal(err)
	}
	env["BUILD_REPOSITORY_PROVIDER"] = "GitHub"
	if _, err := prcomments.FromEnv(get); !errors.Is(err, prcomments.ErrNotApplicable) {
		t.Fatalf("GitHub repository: %v", err)
	}
	env["BUILD_REPOSITORY_PROVIDER"] = "TfsGit"
	delete(env, "SYSTEM_PULLREQUEST_PULLREQUESTID")
	if _, err := prcomments.FromEnv(get); !errors.Is(err, prcomments.ErrNotApplicable) {
		t.Fatalf("not a PR: %v", err)
	}
	env["SYSTEM_PULLREQUEST_PULLREQUESTID"] = "42"
	delete(env, "SYSTEM_ACCESSTOKEN")
	if _, err := prcomments.FromEnv(get); err == nil || errors.Is(err, prcomments.ErrNotApplicable) || !strings.Contains(err.Error(), "$(System.AccessToken)") {
		t.Fatalf("no token: %v", err)
	}
	env["SYSTEM_ACCESSTOKEN"] = token
	env["SYSTEM_COLLECTIONURI"] = "http://dev.example.com/org/"
	if _, err := prcomments.FromEnv(get); err == nil || !strings.Contains(err.Error(), "only sent over https") {
		t.Fatalf("plain http: %v", err)
	}
}

// BenchmarkDecorate200 decorates a pull request with 200 failing findings
// on changed lines under the default cap of 25, first run and re-run, on
// the loopback fake: requests per run and time per run.
func BenchmarkDecorate200(b *testing.B) {
	var fs []prcomments.Finding
	for i := range 200 {
		fs = append(fs, finding(fmt.Sprintf("f%03d", i), []string{"critical", "high", "medium"}[i%3], fmt.Sprintf("src/f%02d.tf", i%20), i+1))
	}
	var changes []adofake.Change
	for i := range 20 {
		changes = append(changes, adofake.Change{Path: fmt.Sprintf("/src/f%02d.tf", i), ChangeType: "edit"})
	}
	for _, run := range []string{"first", "rerun"} {
		b.Run(run, func(b *testing.B) {
			var reqs int
			for b.Loop() {
				b.StopTimer()
				s := adofake.New(token, changes...)
				env := s.Env()
				tg, err := prcomments.FromEnv(func(k string) string { return env[k] })
				if err != nil {
					b.Fatal(err)
				}
				o := prcomments.Options{Target: tg, Findings: fs, Changed: allChanged, State: "failed", Description: "Tollgate FAIL"}
				if run == "rerun" {
					if _, err := prcomments.Decorate(context.Background(), quiet(), o); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				res, err := prcomments.Decorate(context.Background(), quiet(), o)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if run == "first" && (res.Created != 25 || res.Overflow != 175) {
					b.Fatalf("%+v", res)
				}
				reqs = res.Requests
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(reqs), "requests/run")
		})
	}
}
