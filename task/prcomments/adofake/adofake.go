// Package adofake is an in-process Azure DevOps server for tests: the
// Git pull-request endpoints Tollgate's decoration calls (resource
// locations, iterations and their changes, threads and comments, statuses),
// with state kept across calls, request bodies checked against the REST
// API's documented shapes, and faults (429 with Retry-After, 403) injected
// on demand. It serves on 127.0.0.1 only.
package adofake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Location IDs of the Git area, as Azure DevOps registers them (and as
// Microsoft's Go client asks for them).
const (
	locThreads   = "ab6e2e5d-a0b7-4153-b64a-a4efe0d49449"
	locComments  = "965a3ec7-5ed8-455a-bdcb-835a5ea7fe7b"
	locIter      = "d43911ee-6958-46b0-a42b-8445b8a0d004"
	locIterChg   = "4216bdcf-b6b1-4d59-8b82-c34cc183fc8b"
	locStatuses  = "b5f6bb4f-8d1e-4d79-8d11-4c9172c99c35"
	routePRBase  = "{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}"
	maxVersion   = "7.1"
	releasedVer  = "7.0"
	threadStatus = "active fixed wontFix closed byDesign pending unknown"
)

// Position is a CommentPosition.
type Position struct {
	Line   int `json:"line"`
	Offset int `json:"offset"`
}

// ThreadContext is a thread's file anchor.
type ThreadContext struct {
	FilePath       string    `json:"filePath"`
	RightFileStart *Position `json:"rightFileStart,omitempty"`
	RightFileEnd   *Position `json:"rightFileEnd,omitempty"`
}

// Comment is one comment of a thread.
type Comment struct {
	ID              int    `json:"id"`
	ParentCommentID int    `json:"parentCommentId"`
	Content         string `json:"content"`
	CommentType     string `json:"commentType,omitempty"`
	Author          string `json:"-"`
}

// Thread is a pull-request thread as the server keeps it.
type Thread struct {
	ID                       int               `json:"id"`
	Status                   string            `json:"status"`
	Comments                 []Comment         `json:"comments"`
	Properties               map[string]string `json:"-"`
	ThreadContext            *ThreadContext    `json:"threadContext,omitempty"`
	PullRequestThreadContext json.RawMessage   `json:"pullRequestThreadContext,omitempty"`
	IsDeleted                bool              `json:"isDeleted"`
}

// Status is a posted pull-request status.
type Status struct {
	ID          int    `json:"id"`
	State       string `json:"state"`
	Description string `json:"description"`
	TargetURL   string `json:"targetUrl,omitempty"`
	IterationID int    `json:"iterationId,omitempty"`
	Context     struct {
		Genre string `json:"genre"`
		Name  string `json:"name"`
	} `json:"context"`
}

// Change is a file of the latest iteration.
type Change struct {
	Path       string // with the leading slash
	ChangeType string // add, edit, delete, rename...
}

// Fault makes matching requests fail: Times of them (0: every one) answer
// Status, with Retry-After when set.
type Fault struct {
	Method     string // "" any
	Path       string // a substring of the request path; "" any
	Status     int
	RetryAfter string
	Times      int
}

// Server is the fake. Its exported methods are safe to call while it serves.
type Server struct {
	URL     string // the collection URL, http://127.0.0.1:port/org/
	Project string
	Repo    string
	PR      int
	Token   string

	srv *httptest.Server

	mu         sync.Mutex
	iterations int
	changes    []Change
	threads    []*Thread
	statuses   []*Status
	faults     []*Fault
	requests   []string
	problems   []string
}

// New starts a server for one pull request of one repository, with one
// iteration that changes files.
func New(token string, files ...Change) *Server {
	s := &Server{Project: "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c", Repo: "3411ebc1-d5aa-464f-9615-0b527bc66719", PR: 42, Token: token,
		iterations: 1, changes: files}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/org/"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Env is the pipeline variables of a pull-request build of this server's
// pull request.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"TF_BUILD":                         "True",
		"BUILD_REPOSITORY_PROVIDER":        "TfsGit",
		"SYSTEM_COLLECTIONURI":             s.URL,
		"SYSTEM_TEAMPROJECTID":             s.Project,
		"SYSTEM_TEAMPROJECT":               "Contoso",
		"BUILD_REPOSITORY_ID":              s.Repo,
		"SYSTEM_PULLREQUEST_PULLREQUESTID": strconv.Itoa(s.PR),
		"BUILD_BUILDID":                    "1234",
		"SYSTEM_ACCESSTOKEN":               s.Token,
	}
}

// SetChanges replaces the latest iteration's files (a new push).
func (s *Server) SetChanges(files ...Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iterations++
	s.changes = files
}

// AddFault queues a fault.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Threads is a copy of the threads.
func (s *Server) Threads() []Thread {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Thread, 0, len(s.threads))
	for _, t := range s.threads {
		c := *t
		c.Comments = slices.Clone(t.Comments)
		c.Properties = make(map[string]string, len(t.Properties))
		for k, v := range t.Properties {
			c.Properties[k] = v
		}
		out = append(out, c)
	}
	return out
}

// Statuses is a copy of the posted statuses, oldest first.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.statuses))
	for _, st := range s.statuses {
		out = append(out, *st)
	}
	return out
}

// Requests lists the requests served so far ("METHOD /path" each, faults
// included) and forgets them.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

// Problems lists the requests that broke the API's contract (a missing
// api-version, a body without a required field, a bad value).
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

// PersonSetsStatus changes a thread's status as a reviewer would in the
// web UI (Tollgate's status property is left as it was).
func (s *Server) PersonSetsStatus(id int, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.threads {
		if t.ID == id {
			t.Status = status
		}
	}
}

// PersonReplies adds a reviewer's reply to a thread.
func (s *Server) PersonReplies(id int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.threads {
		if t.ID == id {
			t.Comments = append(t.Comments, Comment{ID: len(t.Comments) + 1, ParentCommentID: 1, Content: text, CommentType: "text", Author: "reviewer"})
		}
	}
}

func (s *Server) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"$id": "1", "message": msg, "typeKey": "TollgateFakeException", "errorCode": 0, "eventId": 3000})
}

var apiVersionRE = regexp.MustCompile(`api-version=(7\.[01](-preview(\.[0-9]+)?)?)`)

var (
	reIter     = regexp.MustCompile(`^/org/([^/]+)/_apis/git/repositories/([^/]+)/pullRequests/([0-9]+)/iterations$`)
	reIterChg  = regexp.MustCompile(`^/org/([^/]+)/_apis/git/repositories/([^/]+)/pullRequests/([0-9]+)/iterations/([0-9]+)/changes$`)
	reThreads  = regexp.MustCompile(`^/org/([^/]+)/_apis/git/repositories/([^/]+)/pullRequests/([0-9]+)/threads(?:/([0-9]+))?$`)
	reComment  = regexp.MustCompile(`^/org/([^/]+)/_apis/git/repositories/([^/]+)/pullRequests/([0-9]+)/threads/([0-9]+)/comments/([0-9]+)$`)
	reStatuses = regexp.MustCompile(`^/org/([^/]+)/_apis/git/repositories/([^/]+)/pullRequests/([0-9]+)/statuses$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.Contains(r.URL.Path, f.Path) {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = slices.Delete(s.faults, i, i+1)
				}
			}
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			apiError(w, f.Status, fmt.Sprintf("injected %d", f.Status))
			return
		}
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		apiError(w, http.StatusUnauthorized, "TF400813: The user is not authorized to access this resource.")
		return
	}
	if r.Method == http.MethodOptions && r.URL.Path == "/org/_apis" {
		s.locations(w)
		return
	}
	m := apiVersionRE.FindStringSubmatch(r.Header.Get("Accept"))
	if m == nil {
		s.problem("%s %s: no api-version 7.x in Accept %q", r.Method, r.URL.Path, r.Header.Get("Accept"))
		apiError(w, http.StatusBadRequest, "VSS800006: no api-version")
		return
	}
	var body []byte
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			s.problem("%s %s: Content-Type %q", r.Method, r.URL.Path, ct)
		}
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, 1<<20)); err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	route := func(re *regexp.Regexp) []string {
		sm := re.FindStringSubmatch(r.URL.Path)
		if sm == nil {
			return nil
		}
		if sm[1] != s.Project || sm[2] != s.Repo || sm[3] != strconv.Itoa(s.PR) {
			s.problem("%s %s: not this server's project, repository and pull request", r.Method, r.URL.Path)
			return nil
		}
		return sm
	}
	switch {
	case r.Method == http.MethodGet && route(reIter) != nil:
		var its []map[string]any
		for i := 1; i <= s.iterations; i++ {
			its = append(its, map[string]any{"id": i, "description": fmt.Sprintf("push %d", i)})
		}
		writeJSON(w, 200, map[string]any{"count": len(its), "value": its})
	case r.Method == http.MethodGet && route(reIterChg) != nil:
		s.iterationChanges(w, r, route(reIterChg))
	case r.Method == http.MethodGet && route(reThreads) != nil && route(reThreads)[4] == "":
		list := make([]any, 0, len(s.threads))
		for _, t := range s.threads {
			list = append(list, threadJSON(t))
		}
		writeJSON(w, 200, map[string]any{"count": len(list), "value": list})
	case r.Method == http.MethodPost && route(reThreads) != nil && route(reThreads)[4] == "":
		s.createThread(w, body)
	case r.Method == http.MethodPatch && route(reThreads) != nil && route(reThreads)[4] != "":
		s.updateThread(w, route(reThreads)[4], body)
	case r.Method == http.MethodPatch && route(reComment) != nil:
		sm := route(reComment)
		s.updateComment(w, sm[4], sm[5], body)
	case r.Method == http.MethodGet && route(reStatuses) != nil:
		writeJSON(w, 200, map[string]any{"count": len(s.statuses), "value": s.statuses})
	case r.Method == http.MethodPost && route(reStatuses) != nil:
		s.createStatus(w, body)
	default:
		s.problem("%s %s: no such endpoint", r.Method, r.URL.Path)
		apiError(w, http.StatusNotFound, "no such endpoint")
	}
}

func (s *Server) locations(w http.ResponseWriter) {
	loc := func(id, resource, tail string, version int) map[string]any {
		return map[string]any{"id": id, "area": "git", "resourceName": resource, "routeTemplate": routePRBase + tail,
			"resourceVersion": version, "minVersion": "3.0", "maxVersion": maxVersion, "releasedVersion": releasedVer}
	}
	list := []any{
		loc(locThreads, "pullRequestThreads", "/threads/{threadId}", 1),
		loc(locComments, "pullRequestThreadComments", "/threads/{threadId}/comments/{commentId}", 1),
		loc(locIter, "pullRequestIterations", "/iterations/{iterationId}", 2),
		loc(locIterChg, "pullRequestIterationChanges", "/iterations/{iterationId}/changes", 1),
		loc(locStatuses, "pullRequestStatuses", "/statuses/{statusId}", 1),
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "value": list})
}

func (s *Server) iterationChanges(w http.ResponseWriter, r *http.Request, sm []string) {
	it, _ := strconv.Atoi(sm[4])
	if it < 1 || it > s.iterations {
		apiError(w, http.StatusNotFound, "no such iteration")
		return
	}
	top, skip := 100, 0
	if v := r.URL.Query().Get("$top"); v != "" {
		top, _ = strconv.Atoi(v)
		if top > 2000 || top < 1 {
			s.problem("iteration changes: $top %s is out of 1..2000", v)
			top = 2000
		}
	}
	if v := r.URL.Query().Get("$skip"); v != "" {
		skip, _ = strconv.Atoi(v)
	}
	var entries []any
	for i, c := range s.changes {
		if i < skip || i >= skip+top {
			continue
		}
		entries = append(entries, map[string]any{"changeTrackingId": i + 1, "changeId": i + 1, "changeType": c.ChangeType,
			"item": map[string]any{"objectId": "0000000000000000000000000000000000000000", "path": c.Path}})
	}
	resp := map[string]any{"changeEntries": entries}
	if skip+top < len(s.changes) {
		resp["nextSkip"], resp["nextTop"] = skip+top, top
	} else {
		resp["nextSkip"], resp["nextTop"] = 0, 0
	}
	writeJSON(w, 200, resp)
}

func threadJSON(t *Thread) map[string]any {
	props := map[string]any{}
	for k, v := range t.Properties {
		props[k] = map[string]any{"$type": "System.String", "$value": v}
	}
	comments := make([]any, 0, len(t.Comments))
	for _, c := range t.Comments {
		author := map[string]any{"displayName": "Contoso Build Service (org)", "id": "00000000-0000-0000-0000-00000000b111"}
		if c.Author != "" {
			author = map[string]any{"displayName": c.Author, "id": "00000000-0000-0000-0000-00000000a111"}
		}
		comments = append(comments, map[string]any{"id": c.ID, "parentCommentId": c.ParentCommentID, "content": c.Content,
			"commentType": c.CommentType, "author": author, "publishedDate": time.Unix(0, 0).UTC().Format(time.RFC3339)})
	}
	out := map[string]any{"id": t.ID, "status": t.Status, "comments": comments, "properties": props, "isDeleted": t.IsDeleted,
		"publishedDate": time.Unix(0, 0).UTC().Format(time.RFC3339)}
	if t.ThreadContext != nil {
		out["threadContext"] = t.ThreadContext
	}
	if len(t.PullRequestThreadContext) > 0 {
		out["pullRequestThreadContext"] = t.PullRequestThreadContext
	}
	return out
}

// wireThread is a thread as a client sends it.
type wireThread struct {
	Comments []struct {
		ParentCommentID *int   `json:"parentCommentId"`
		Content         string `json:"content"`
		CommentType     string `json:"commentType"`
	} `json:"comments"`
	Status                   string                     `json:"status"`
	Properties               map[string]json.RawMessage `json:"properties"`
	ThreadContext            *ThreadContext             `json:"threadContext"`
	PullRequestThreadContext *struct {
		ChangeTrackingID int `json:"changeTrackingId"`
		IterationContext *struct {
			First  int `json:"firstComparingIteration"`
			Second int `json:"secondComparingIteration"`
		} `json:"iterationContext"`
	} `json:"pullRequestThreadContext"`
}

// readProps checks the documented property shape, {"type": T, "value": V}
// (or the "$type"/"$value" the server returns), and reads string values.
func (s *Server) readProps(raw map[string]json.RawMessage) (map[string]string, bool) {
	out := map[string]string{}
	for k, v := range raw {
		var typed map[string]any
		if err := json.Unmarshal(v, &typed); err != nil {
			s.problem("thread property %s: not a {type, value} object: %s", k, v)
			return nil, false
		}
		val, ok := typed["value"]
		if !ok {
			val, ok = typed["$value"]
		}
		if !ok {
			s.problem("thread property %s: no value", k)
			return nil, false
		}
		out[k] = fmt.Sprint(val)
	}
	return out, true
}

func (s *Server) createThread(w http.ResponseWriter, body []byte) {
	var in wireThread
	if err := json.Unmarshal(body, &in); err != nil {
		s.problem("create thread: %v", err)
		apiError(w, 400, err.Error())
		return
	}
	var bad []string
	if len(in.Comments) == 0 {
		bad = append(bad, "no comments")
	}
	for _, c := range in.Comments {
		if c.Content == "" || c.ParentCommentID == nil || *c.ParentCommentID != 0 || (c.CommentType != "" && c.CommentType != "text") {
			bad = append(bad, fmt.Sprintf("comment %+v: want content, parentCommentId 0, commentType text", c))
		}
	}
	if !strings.Contains(" "+threadStatus+" ", " "+in.Status+" ") {
		bad = append(bad, fmt.Sprintf("status %q", in.Status))
	}
	if tc := in.ThreadContext; tc != nil {
		fileLevel := tc.RightFileStart == nil && tc.RightFileEnd == nil // a comment on the whole file
		if !strings.HasPrefix(tc.FilePath, "/") || (!fileLevel && (tc.RightFileStart == nil || tc.RightFileEnd == nil ||
			tc.RightFileStart.Line < 1 || tc.RightFileStart.Offset < 1 || tc.RightFileEnd.Line < tc.RightFileStart.Line || tc.RightFileEnd.Offset < 1)) {
			bad = append(bad, fmt.Sprintf("threadContext %+v: want an absolute filePath and 1-based right-side positions (both or neither), end not before start", tc))
		}
		found := false
		for _, c := range s.changes {
			found = found || c.Path == tc.FilePath
		}
		if !found {
			bad = append(bad, fmt.Sprintf("threadContext: %s is not a file of the pull request", tc.FilePath))
		}
	}
	if p := in.PullRequestThreadContext; p != nil && (p.ChangeTrackingID < 1 || p.IterationContext == nil || p.IterationContext.First < 1 || p.IterationContext.Second > s.iterations) {
		bad = append(bad, "pullRequestThreadContext: want a changeTrackingId and an iteration context of existing iterations")
	}
	props, ok := s.readProps(in.Properties)
	if !ok || len(bad) > 0 {
		s.problem("create thread: %s", strings.Join(bad, "; "))
		apiError(w, 400, "invalid thread")
		return
	}
	t := &Thread{ID: len(s.threads) + 1, Status: in.Status, Properties: props, ThreadContext: in.ThreadContext}
	if in.PullRequestThreadContext != nil {
		t.PullRequestThreadContext, _ = json.Marshal(in.PullRequestThreadContext)
	}
	for i, c := range in.Comments {
		t.Comments = append(t.Comments, Comment{ID: i + 1, Content: c.Content, CommentType: "text"})
	}
	s.threads = append(s.threads, t)
	writeJSON(w, 200, threadJSON(t))
}

func (s *Server) thread(id string) *Thread {
	n, _ := strconv.Atoi(id)
	for _, t := range s.threads {
		if t.ID == n {
			return t
		}
	}
	return nil
}

func (s *Server) updateThread(w http.ResponseWriter, id string, body []byte) {
	t := s.thread(id)
	if t == nil {
		apiError(w, 404, "no such thread")
		return
	}
	var in wireThread
	if err := json.Unmarshal(body, &in); err != nil {
		s.problem("update thread: %v", err)
		apiError(w, 400, err.Error())
		return
	}
	if in.Status != "" && !strings.Contains(" "+threadStatus+" ", " "+in.Status+" ") {
		s.problem("update thread %s: status %q", id, in.Status)
		apiError(w, 400, "invalid status")
		return
	}
	if len(in.Comments) > 0 || in.ThreadContext != nil {
		s.problem("update thread %s: comments and threadContext cannot be changed here", id)
	}
	props, ok := s.readProps(in.Properties)
	if !ok {
		apiError(w, 400, "invalid properties")
		return
	}
	if in.Status != "" {
		t.Status = in.Status
	}
	for k, v := range props {
		t.Properties[k] = v
	}
	writeJSON(w, 200, threadJSON(t))
}

func (s *Server) updateComment(w http.ResponseWriter, tid, cid string, body []byte) {
	t := s.thread(tid)
	n, _ := strconv.Atoi(cid)
	if t == nil || n < 1 || n > len(t.Comments) {
		apiError(w, 404, "no such comment")
		return
	}
	var in struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Content == nil || *in.Content == "" {
		s.problem("update comment %s/%s: want content (%s)", tid, cid, body)
		apiError(w, 400, "invalid comment")
		return
	}
	t.Comments[n-1].Content = *in.Content
	writeJSON(w, 200, t.Comments[n-1])
}

func (s *Server) createStatus(w http.ResponseWriter, body []byte) {
	var in Status
	if err := json.Unmarshal(body, &in); err != nil {
		s.problem("create status: %v", err)
		apiError(w, 400, err.Error())
		return
	}
	var bad []string
	if in.Context.Name == "" || in.Context.Genre == "" {
		bad = append(bad, "context needs a genre and a name")
	}
	if !slices.Contains([]string{"succeeded", "failed", "error", "pending", "notApplicable"}, in.State) {
		bad = append(bad, fmt.Sprintf("state %q", in.State))
	}
	if in.IterationID > s.iterations || in.IterationID < 0 {
		bad = append(bad, fmt.Sprintf("iterationId %d", in.IterationID))
	}
	if len(bad) > 0 {
		s.problem("create status: %s", strings.Join(bad, "; "))
		apiError(w, 400, "invalid status")
		return
	}
	in.ID = len(s.statuses) + 1
	s.statuses = append(s.statuses, &in)
	writeJSON(w, 200, in)
}
