package prcomments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
)

// DefaultMaxThreads caps the review threads Tollgate keeps open on a pull
// request; the rest are counted in the summary comment.
const DefaultMaxThreads = 25

// The pull-request status Tollgate posts: "security/tollgate/gate" in a
// branch policy's status check.
const (
	StatusGenre = "security"
	StatusName  = "tollgate/gate"
)

// Options is one decoration: the pull request, the scan's findings and
// verdict, and what the local checkout says the pull request changes.
type Options struct {
	Target Target
	// MaxThreads caps Tollgate's active threads (0: DefaultMaxThreads).
	MaxThreads int
	// Budget bounds the time spent waiting on throttling (0: one minute).
	Budget time.Duration
	// Findings are the findings that fail the gate and the suppressed ones
	// (Suppressed set), with repository-relative paths.
	Findings []Finding
	// Summary is what the summary comment says besides the thread counts
	// (Passed, Failing, Suppressed, BuildURL).
	Summary Summary
	// State is the status's state: "succeeded", "failed" or "error".
	State string
	// Description is the status's one line (the verdict and counts).
	Description string
	// Changed reports whether the local diff against the target branch
	// changes line of path (repository-relative); nil when the clone cannot
	// say (no target branch, a shallow clone).
	Changed func(path string, line int) bool
}

// Result is what one decoration did.
type Result struct {
	Created, Updated       int
	Threaded, Overflow     int
	Elsewhere              int
	SummaryCreated         bool
	SummaryUpdated         bool
	StatusPosted           bool
	Requests               int
	Waited                 time.Duration
	Iteration              int
	ChangedFilesFromServer bool
}

// fileChange is one file of the pull request's latest iteration.
type fileChange struct {
	trackingID int
	added      bool
}

// decorator holds one decoration's client and pull request.
type decorator struct {
	c    *git.ClientImpl
	cnt  *counting
	t    Target
	log  *slog.Logger
	errs []error
}

func (d *decorator) ids() (*string, *string, *int) {
	return &d.t.Project, &d.t.RepositoryID, &d.t.PullRequestID
}

// fail records a failed call and reports whether the decoration must stop
// (the identity lacks a permission: every further call would fail alike).
func (d *decorator) fail(op string, err error) error {
	status := statusOf(err)
	if status == 0 {
		status = int(d.cnt.auth.Load())
	}
	if status == 401 || status == 403 {
		return &AuthError{Status: status, Op: op, Err: err}
	}
	d.errs = append(d.errs, fmt.Errorf("%s: %w", op, err))
	return nil
}

// Decorate brings the pull request in step with the scan: one thread per
// failing finding on a line the pull request changes (up to the cap),
// earlier threads updated, fixed, wontFix or reopened, one summary comment
// edited in place, and the tollgate/gate status. A permission refusal stops
// it with an *AuthError; other failed calls are joined in the error while
// the rest goes on.
func Decorate(ctx context.Context, log *slog.Logger, o Options) (res Result, err error) {
	retry := &Retry{Budget: o.Budget}
	cnt := &counting{}
	d := &decorator{c: newClient(o.Target, retry, cnt), cnt: cnt, t: o.Target, log: log}
	defer func() {
		res.Requests = int(cnt.n.Load())
		res.Waited = retry.Spent()
	}()
	maxThreads := o.MaxThreads
	if maxThreads <= 0 {
		maxThreads = DefaultMaxThreads
	}

	iteration, files, err := d.changes(ctx)
	if err != nil {
		return res, err
	}
	res.Iteration, res.ChangedFilesFromServer = iteration, files != nil
	changed := changedLines(files, o.Changed)

	existing, summary, err := d.threads(ctx)
	if err != nil {
		return res, err
	}
	var failing, suppressed []Finding
	for _, f := range o.Findings {
		if f.Suppressed {
			suppressed = append(suppressed, f)
		} else {
			failing = append(failing, f)
		}
	}
	onChanged, elsewhere := Split(failing, changed)
	// A finding keeps its thread while it fails, even when the pull
	// request's latest changes no longer touch its line.
	has := make(map[string]bool, len(existing))
	for _, t := range existing {
		has[t.Fingerprint] = true
	}
	wanted := onChanged
	for _, f := range elsewhere {
		if has[f.Fingerprint] {
			wanted = append(wanted, f)
		}
	}
	wanted = append(wanted, suppressed...)
	plan := Reconcile(existing, wanted, maxThreads)
	res.Threaded, res.Overflow, res.Elsewhere = len(onChanged)-plan.Overflow, plan.Overflow, len(elsewhere)

	for _, c := range plan.Create {
		ok, err := d.create(ctx, c, iteration, files)
		if err != nil {
			return res, err
		}
		if ok {
			res.Created++
		}
	}
	for _, u := range plan.Update {
		if err := d.update(ctx, u); err != nil {
			return res, err
		}
		res.Updated++
	}

	s := o.Summary
	s.Threaded, s.Overflow, s.Elsewhere = res.Threaded, res.Overflow, res.Elsewhere
	created, updated, err := d.summary(ctx, summary, SummaryBody(s), s.Passed)
	if err != nil {
		return res, err
	}
	res.SummaryCreated, res.SummaryUpdated = created, updated

	posted, err := d.status(ctx, o.State, o.Description, o.Target.BuildURL, iteration)
	if err != nil {
		return res, err
	}
	res.StatusPosted = posted
	return res, errors.Join(d.errs...)
}

// changedLines is what counts as a line the pull request changes: a line
// the local diff changes, in a file the server lists for the latest
// iteration; every line of a file the iteration adds when the local diff
// cannot say; the local diff alone when the server could not list files.
// Line 0 (a finding about the whole file) counts in a file the pull
// request adds.
func changedLines(files map[string]fileChange, local func(string, int) bool) func(string, int) bool {
	return func(path string, line int) bool {
		if files == nil {
			return local != nil && local(path, line)
		}
		fc, ok := files[path]
		if !ok {
			return false
		}
		if local == nil || line == 0 {
			return fc.added
		}
		return local(path, line)
	}
}

// changes reads the latest iteration and the files it changes (paths
// without the leading slash). A failure other than a permission leaves
// files nil: the local diff decides.
func (d *decorator) changes(ctx context.Context) (int, map[string]fileChange, error) {
	project, repo, pr := d.ids()
	no := false
	its, err := d.c.GetPullRequestIterations(ctx, git.GetPullRequestIterationsArgs{Project: project, RepositoryId: repo, PullRequestId: pr, IncludeCommits: &no})
	if err != nil {
		return 0, nil, d.fail("listing the pull request's iterations", err)
	}
	latest := 0
	for _, it := range *its {
		if it.Id != nil && *it.Id > latest {
			latest = *it.Id
		}
	}
	if latest == 0 {
		return 0, nil, nil
	}
	files := map[string]fileChange{}
	top, skip := 2000, 0
	for page := 0; page < 100; page++ {
		cur := skip
		ch, err := d.c.GetPullRequestIterationChanges(ctx, git.GetPullRequestIterationChangesArgs{
			Project: project, RepositoryId: repo, PullRequestId: pr, IterationId: &latest, Top: &top, Skip: &cur})
		if err != nil {
			return latest, nil, d.fail("listing the files of the pull request's latest iteration", err)
		}
		if ch.ChangeEntries != nil {
			for _, e := range *ch.ChangeEntries {
				p := itemPath(e.Item)
				if p == "" {
					continue
				}
				fc := fileChange{}
				if e.ChangeTrackingId != nil {
					fc.trackingID = *e.ChangeTrackingId
				}
				if e.ChangeType != nil {
					for _, part := range strings.Split(string(*e.ChangeType), ",") {
						if strings.TrimSpace(part) == "add" {
							fc.added = true
						}
					}
				}
				files[p] = fc
			}
		}
		if ch.NextTop == nil || *ch.NextTop == 0 || ch.NextSkip == nil || *ch.NextSkip <= cur {
			break
		}
		skip = *ch.NextSkip
	}
	return latest, files, nil
}

// itemPath is a change entry's item path, repository-relative.
func itemPath(item any) string {
	m, ok := item.(map[string]any)
	if !ok {
		return ""
	}
	p, _ := m["path"].(string)
	return strings.TrimPrefix(p, "/")
}

// threads lists the pull request's threads Tollgate owns: the finding
// threads and the summary's (the oldest, when there are several).
func (d *decorator) threads(ctx context.Context) ([]Thread, *Thread, error) {
	project, repo, pr := d.ids()
	list, err := d.c.GetThreads(ctx, git.GetThreadsArgs{Project: project, RepositoryId: repo, PullRequestId: pr})
	if err != nil {
		return nil, nil, d.fail("listing the pull request's threads", err)
	}
	var out []Thread
	var summary *Thread
	for _, th := range *list {
		if th.Id == nil || (th.IsDeleted != nil && *th.IsDeleted) {
			continue
		}
		props := properties(th.Properties)
		t := Thread{ID: *th.Id, Fingerprint: props[PropFingerprint], LastSet: Status(props[PropStatus])}
		if th.Status != nil {
			t.Status = Status(*th.Status)
		}
		if th.Comments != nil {
			for _, c := range *th.Comments {
				if c.Id == nil || (c.IsDeleted != nil && *c.IsDeleted) || (c.ParentCommentId != nil && *c.ParentCommentId != 0) {
					continue
				}
				if t.CommentID == 0 || *c.Id < t.CommentID {
					t.CommentID = *c.Id
					t.Content = ""
					if c.Content != nil {
						t.Content = *c.Content
					}
				}
			}
		}
		switch {
		case props[PropSummary] != "":
			if summary == nil || t.ID < summary.ID {
				summary = &t
			}
		case t.Fingerprint != "":
			out = append(out, t)
		}
	}
	return out, summary, nil
}

// properties reads a thread's property collection: each value as the
// server returns it ({"$type": ..., "$value": ...}) or as a plain value.
func properties(v any) map[string]string {
	out := map[string]string{}
	m, ok := v.(map[string]any)
	if !ok {
		return out
	}
	for k, raw := range m {
		switch x := raw.(type) {
		case string:
			out[k] = x
		case map[string]any:
			for _, key := range []string{"$value", "value"} {
				if s, ok := x[key].(string); ok {
					out[k] = s
					break
				}
			}
		}
	}
	return out
}

// props is a property collection to send: string values.
func props(kv ...string) map[string]any {
	out := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = map[string]any{"type": "System.String", "value": kv[i+1]}
	}
	return out
}

// create opens a finding's thread; false when the call failed (and was
// recorded), an error when the decoration must stop.
func (d *decorator) create(ctx context.Context, c Create, iteration int, files map[string]fileChange) (bool, error) {
	f := c.Finding
	content := c.Content
	parent := 0
	text := git.CommentTypeValues.Text
	active := git.CommentThreadStatusValues.Active
	path := "/" + f.Path
	startCol, endCol := max(f.StartColumn, 1), max(f.EndColumn, 1)
	end := max(f.EndLine, f.StartLine)
	if end == f.StartLine && endCol < startCol {
		endCol = startCol
	}
	th := git.GitPullRequestCommentThread{
		Comments:      &[]git.Comment{{ParentCommentId: &parent, Content: &content, CommentType: &text}},
		Status:        &active,
		Properties:    props(PropFingerprint, f.Fingerprint, PropStatus, string(StatusActive)),
		ThreadContext: &git.CommentThreadContext{FilePath: &path},
	}
	if f.StartLine > 0 { // else a comment on the whole file
		th.ThreadContext.RightFileStart = &git.CommentPosition{Line: &f.StartLine, Offset: &startCol}
		th.ThreadContext.RightFileEnd = &git.CommentPosition{Line: &end, Offset: &endCol}
	}
	if fc, ok := files[f.Path]; ok && fc.trackingID > 0 && iteration > 0 {
		first, second, id := iteration, iteration, fc.trackingID
		th.PullRequestThreadContext = &git.GitPullRequestCommentThreadContext{
			ChangeTrackingId: &id,
			IterationContext: &git.CommentIterationContext{FirstComparingIteration: &first, SecondComparingIteration: &second},
		}
	}
	project, repo, pr := d.ids()
	if _, err := d.c.CreateThread(ctx, git.CreateThreadArgs{Project: project, RepositoryId: repo, PullRequestId: pr, CommentThread: &th}); err != nil {
		return false, d.fail(fmt.Sprintf("creating the thread of %s at %s:%d", f.RuleID, f.Path, f.StartLine), err)
	}
	return true, nil
}

func (d *decorator) update(ctx context.Context, u Update) error {
	project, repo, pr := d.ids()
	if u.Content != "" && u.CommentID > 0 {
		content := u.Content
		_, err := d.c.UpdateComment(ctx, git.UpdateCommentArgs{Project: project, RepositoryId: repo, PullRequestId: pr,
			ThreadId: &u.ThreadID, CommentId: &u.CommentID, Comment: &git.Comment{Content: &content}})
		if err != nil {
			if stop := d.fail(fmt.Sprintf("updating thread %d's comment", u.ThreadID), err); stop != nil {
				return stop
			}
		}
	}
	if u.Status != "" {
		st := git.CommentThreadStatus(u.Status)
		_, err := d.c.UpdateThread(ctx, git.UpdateThreadArgs{Project: project, RepositoryId: repo, PullRequestId: pr, ThreadId: &u.ThreadID,
			CommentThread: &git.GitPullRequestCommentThread{Status: &st, Properties: props(PropStatus, string(u.Status))}})
		if err != nil {
			return d.fail(fmt.Sprintf("setting thread %d's status", u.ThreadID), err)
		}
	}
	return nil
}

// summary creates the summary thread or edits its comment in place. Its
// status follows the verdict (active while the gate fails, closed when it
// passes) unless a person set another.
func (d *decorator) summary(ctx context.Context, t *Thread, body string, passed bool) (created, updated bool, err error) {
	want := StatusActive
	if passed {
		want = StatusClosed
	}
	if t == nil {
		project, repo, pr := d.ids()
		parent := 0
		text := git.CommentTypeValues.Text
		st := git.CommentThreadStatus(want)
		th := git.GitPullRequestCommentThread{
			Comments:   &[]git.Comment{{ParentCommentId: &parent, Content: &body, CommentType: &text}},
			Status:     &st,
			Properties: props(PropSummary, "1", PropStatus, string(want)),
		}
		if _, err := d.c.CreateThread(ctx, git.CreateThreadArgs{Project: project, RepositoryId: repo, PullRequestId: pr, CommentThread: &th}); err != nil {
			return false, false, d.fail("creating the summary comment", err)
		}
		return true, false, nil
	}
	u, changed := step(*t, body, want)
	if !changed {
		return false, false, nil
	}
	n := len(d.errs)
	if err := d.update(ctx, u); err != nil {
		return false, false, err
	}
	return false, len(d.errs) == n, nil
}

// status posts tollgate/gate unless the latest one of this iteration says
// the same already.
func (d *decorator) status(ctx context.Context, state, description, targetURL string, iteration int) (bool, error) {
	project, repo, pr := d.ids()
	list, err := d.c.GetPullRequestStatuses(ctx, git.GetPullRequestStatusesArgs{Project: project, RepositoryId: repo, PullRequestId: pr})
	if err != nil {
		if stop := d.fail("listing the pull request's statuses", err); stop != nil {
			return false, stop
		}
		list = &[]git.GitPullRequestStatus{}
	}
	var last *git.GitPullRequestStatus
	for i, s := range *list {
		if s.Context == nil || s.Context.Genre == nil || s.Context.Name == nil || *s.Context.Genre != StatusGenre || *s.Context.Name != StatusName {
			continue
		}
		if last == nil || (s.Id != nil && last.Id != nil && *s.Id > *last.Id) {
			last = &(*list)[i]
		}
	}
	if last != nil && str(last.State) == state && deref(last.Description) == description && deref(last.TargetUrl) == targetURL &&
		(iteration == 0 || (last.IterationId != nil && *last.IterationId == iteration)) {
		return false, nil
	}
	genre, name := StatusGenre, StatusName
	st := git.GitStatusState(state)
	s := git.GitPullRequestStatus{Context: &git.GitStatusContext{Genre: &genre, Name: &name}, State: &st, Description: &description}
	if targetURL != "" {
		s.TargetUrl = &targetURL
	}
	if iteration > 0 {
		s.IterationId = &iteration
	}
	if _, err := d.c.CreatePullRequestStatus(ctx, git.CreatePullRequestStatusArgs{Project: project, RepositoryId: repo, PullRequestId: pr, Status: &s}); err != nil {
		return false, d.fail("posting the tollgate/gate status", err)
	}
	return true, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func str(s *git.GitStatusState) string {
	if s == nil {
		return ""
	}
	return string(*s)
}
