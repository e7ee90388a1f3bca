package prcomments

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/report"
)

// Inline markdown a comment must never carry from text it was given.
var live = regexp.MustCompile(`(?i)(^|[^\\])\[[^\]]*[^\\]\]\(|!\[|(^|[^\\])<[a-z/!]|https?://|www\.|(^|[^&#\w])@\w|\*\*[^*]+\*\*|^#|(^|[^\\])` + "`")

func TestMarkdownEscapesEveryActiveConstruct(t *testing.T) {
	for _, in := range []string{
		"[click](https://evil.example/x)",
		"![img](http://evil.example/p.png)",
		"<img src=x onerror=alert(1)>",
		"</div><script>alert(1)</script>",
		"see https://evil.example and www.evil.example",
		"ping @alice and @<6C1B2D0E-0000-0000-0000-000000000000>",
		"**bold** _it_ ~~gone~~",
		"# heading\n- item\n| a | b |",
		"`code` and ```fence```",
		"line\r\n##vso[task.complete result=Succeeded]",
		"evil\u202egnp.exe and zero\u200bwidth",
		":smile: mailto:x@y.z",
	} {
		got := report.Markdown(in)
		if live.MatchString(got) {
			t.Errorf("report.Markdown(%q) = %q: still renders markup", in, got)
		}
		if strings.ContainsAny(got, "\r\n\u202e\u200b") {
			t.Errorf("report.Markdown(%q) = %q: line break or invisible character kept", in, got)
		}
	}
	if got, want := report.Markdown("main.tf line 3: a < b & c"), `main.tf line 3: a \< b \& c`; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func TestCodeAndBlockCannotBeClosedByTheirContent(t *testing.T) {
	for _, in := range []string{"plain", "a`b", "``x``", "`", "", "two\nlines"} {
		got := Code(in)
		fence := strings.Repeat("`", longestRun(in, '`')+1)
		inner, ok := strings.CutPrefix(got, fence)
		if ok {
			inner, ok = strings.CutSuffix(inner, fence)
		}
		if !ok || longestRun(inner, '`') >= len(fence) || strings.Contains(got, "\n") {
			t.Errorf("Code(%q) = %q: its content could close the span", in, got)
		}
	}
	got := Block("yaml", "a: 1\n```\nb: ````x")
	if !strings.HasPrefix(got, "`````yaml\n") || !strings.HasSuffix(got, "\n`````") {
		t.Errorf("Block = %q: the fence must be longer than any run inside", got)
	}
}

func TestLinkOnlyForAbsoluteHTTPS(t *testing.T) {
	for target, want := range map[string]string{
		"https://avd.aquasec.com/misconfig/avd-aws-0086":   "[More](https://avd.aquasec.com/misconfig/avd-aws-0086)",
		"https://example.com/a(b)c":                        "[More](https://example.com/a%28b%29c)",
		"javascript:alert(1)":                              "More",
		"http://example.com/":                              "More",
		"/relative/path":                                   "More",
		"https://user:pw@example.com/":                     "More",
		"https://example.com/x\" onclick=\"alert(1)":       "[More](https://example.com/x%22%20onclick=%22alert%281%29)",
		"https://example.com/ok?a=b&c=d#frag":              "[More](https://example.com/ok?a=b&c=d#frag)",
		"https://cwe.mitre.org/data/definitions/798.html ": "[More](https://cwe.mitre.org/data/definitions/798.html%20)",
	} {
		if got := Link("More", target); got != want {
			t.Errorf("Link(%q) = %q, want %q", target, got, want)
		}
	}
}

func finding(fp string) Finding {
	return Finding{Fingerprint: fp, Severity: "high", RuleID: "AVD-AWS-0086", Title: "S3 public access block",
		Message: "Bucket " + fp + " does not block public ACLs", Path: "infra/main.tf", StartLine: 3, EndLine: 7,
		Fix: "Set block_public_acls = true", HelpURI: "https://avd.aquasec.com/misconfig/avd-aws-0086"}
}

func TestBodyHasWhatAReviewerNeeds(t *testing.T) {
	f := finding("0123abcd")
	f.Message = "value [x](https://evil.example) in @team"
	got := Body(f)
	for _, want := range []string{"HIGH", "`AVD-AWS-0086`", "S3 public access block", "How to fix", "block\\_public\\_acls",
		"](https://avd.aquasec.com/misconfig/avd-aws-0086)", "fingerprint: 0123abcd", "reason:"} {
		if !strings.Contains(got, want) {
			t.Errorf("body lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "](https://evil") || strings.Contains(got, "@team") {
		t.Errorf("message not escaped:\n%s", got)
	}
}

// run applies a plan to threads the way the client does, so that a test can
// run Reconcile again on the result.
func run(threads []Thread, p Plan) []Thread {
	next := 100 + len(threads)
	for _, c := range p.Create {
		threads = append(threads, Thread{ID: next, Fingerprint: c.Finding.Fingerprint, Status: StatusActive, LastSet: StatusActive, CommentID: 1, Content: c.Content})
		next++
	}
	for _, u := range p.Update {
		for i := range threads {
			if threads[i].ID != u.ThreadID {
				continue
			}
			if u.Content != "" {
				threads[i].Content = u.Content
			}
			if u.Status != "" {
				threads[i].Status, threads[i].LastSet = u.Status, u.Status
			}
		}
	}
	return threads
}

func TestReconcileAcrossRuns(t *testing.T) {
	a, b, c := finding("aa"), finding("bb"), finding("cc")
	foreign := Thread{ID: 1, Status: StatusActive, Content: "a person's comment"}

	p := Reconcile([]Thread{foreign}, []Finding{a, b, c}, 25)
	if len(p.Create) != 3 || len(p.Update) != 0 || p.Overflow != 0 {
		t.Fatalf("first run: %+v", p)
	}
	threads := run([]Thread{foreign}, p)

	if p := Reconcile(threads, []Finding{a, b, c}, 25); len(p.Create)+len(p.Update) != 0 {
		t.Fatalf("a re-run with nothing changed must send nothing: %+v", p)
	}

	// b is fixed, c is suppressed, a's message changed.
	a.Message = "Bucket aa still does not block public ACLs"
	c.Suppressed, c.Justification = true, "accepted by the security team"
	p = Reconcile(threads, []Finding{a, c}, 25)
	if len(p.Create) != 0 || len(p.Update) != 3 {
		t.Fatalf("second run: %+v", p)
	}
	got := map[int]Update{}
	for _, u := range p.Update {
		got[u.ThreadID] = u
	}
	ids := map[string]int{}
	for _, th := range threads {
		ids[th.Fingerprint] = th.ID
	}
	if u := got[ids["aa"]]; u.Status != "" || !strings.Contains(u.Content, "still does not") {
		t.Errorf("changed message: %+v", u)
	}
	if u := got[ids["bb"]]; u.Status != StatusFixed || u.Content != "" {
		t.Errorf("gone finding: %+v", u)
	}
	if u := got[ids["cc"]]; u.Status != StatusWontFix || !strings.Contains(u.Content, "accepted by the security team") {
		t.Errorf("suppressed finding: %+v", u)
	}
	if _, touched := got[foreign.ID]; touched {
		t.Error("a thread Tollgate does not own was changed")
	}
	threads = run(threads, p)

	// b comes back: its thread is reopened, not duplicated.
	p = Reconcile(threads, []Finding{a, b, c}, 25)
	if len(p.Create) != 0 || len(p.Update) != 1 || p.Update[0].ThreadID != ids["bb"] || p.Update[0].Status != StatusActive {
		t.Fatalf("returning finding: %+v", p)
	}
}

func TestReconcileKeepsAStatusAPersonSet(t *testing.T) {
	a := finding("aa")
	threads := run(nil, Reconcile(nil, []Finding{a}, 25))
	threads[0].Status = "closed" // a reviewer closed it
	if p := Reconcile(threads, []Finding{a}, 25); len(p.Update) != 0 {
		t.Errorf("reopened a thread a person closed: %+v", p)
	}
	if p := Reconcile(threads, nil, 25); len(p.Update) != 0 {
		t.Errorf("changed a person's status when the finding went: %+v", p)
	}
}

func TestReconcileCapsThreads(t *testing.T) {
	var wanted []Finding
	for i := range 200 {
		wanted = append(wanted, finding(strings.Repeat("f", 1+i%7)+string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	p := Reconcile(nil, wanted, 25)
	if len(p.Create) != 25 || p.Overflow != 175 {
		t.Fatalf("create %d, overflow %d; want 25 and 175", len(p.Create), p.Overflow)
	}
	for i, c := range p.Create {
		if c.Finding.Fingerprint != wanted[i].Fingerprint {
			t.Fatalf("thread %d is for %s, want the %d-th most important finding %s", i, c.Finding.Fingerprint, i, wanted[i].Fingerprint)
		}
	}
	threads := run(nil, p)
	if p := Reconcile(threads, wanted, 25); len(p.Create) != 0 || p.Overflow != 175 || len(p.Update) != 0 {
		t.Fatalf("a re-run at the cap: create %d, overflow %d, update %d", len(p.Create), p.Overflow, len(p.Update))
	}
	// One threaded finding is fixed: its thread is marked fixed and the
	// freed place goes to the next finding.
	p = Reconcile(threads, wanted[1:], 25)
	if len(p.Create) != 1 || p.Create[0].Finding.Fingerprint != wanted[25].Fingerprint || p.Overflow != 174 {
		t.Fatalf("after one fix: create %+v, overflow %d", p.Create, p.Overflow)
	}
}

func TestReconcileDuplicateThreadsAndFindings(t *testing.T) {
	a := finding("aa")
	threads := []Thread{
		{ID: 7, Fingerprint: "aa", Status: StatusActive, LastSet: StatusActive, CommentID: 1, Content: Body(a)},
		{ID: 9, Fingerprint: "aa", Status: StatusActive, LastSet: StatusActive, CommentID: 1, Content: "older text"},
	}
	p := Reconcile(threads, []Finding{a, a}, 25)
	if len(p.Create) != 0 || len(p.Update) != 0 {
		t.Fatalf("the oldest thread of a fingerprint is kept in step and the other left alone: %+v", p)
	}
}
