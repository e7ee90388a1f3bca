package prcomments

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"

	"github.com/tollgate/tollgate/scanners"
)

// Target is the pull request a pipeline run decorates, as the agent's
// variables name it. Token is the job's access token (SYSTEM_ACCESSTOKEN):
// it is sent as the Authorization header and nowhere else.
type Target struct {
	CollectionURL string // SYSTEM_COLLECTIONURI
	Project       string // SYSTEM_TEAMPROJECTID
	RepositoryID  string // BUILD_REPOSITORY_ID
	PullRequestID int    // SYSTEM_PULLREQUEST_PULLREQUESTID
	TargetBranch  string // scanners.PullRequestTarget (SYSTEM_PULLREQUEST_TARGETBRANCH)
	BuildURL      string // the build's results page
	Token         string
}

// String names the pull request without the token.
func (t Target) String() string {
	return fmt.Sprintf("pull request %d of repository %s", t.PullRequestID, t.RepositoryID)
}

// ErrNotApplicable is returned by FromEnv for a build that is not an Azure
// Repos pull-request build: nothing is sent, the caller says why in a note.
var ErrNotApplicable = errors.New("not a pull-request build on Azure Repos")

// PermissionHint names what the build identity needs, in the words of the
// repository's security page.
const PermissionHint = `the build identity ("<project> Build Service (<organization>)") needs "Contribute to pull requests" on the repository (Project settings > Repositories > the repository > Security)`

// FromEnv reads the pull request from the pipeline's variables. It returns
// an error wrapping ErrNotApplicable when the build is not a pull-request
// build on Azure Repos, and another error when one is but a variable the
// decoration needs is missing or wrong (the token not mapped, most often).
func FromEnv(getenv func(string) string) (Target, error) {
	provider := strings.TrimSpace(getenv("BUILD_REPOSITORY_PROVIDER"))
	prID := strings.TrimSpace(getenv("SYSTEM_PULLREQUEST_PULLREQUESTID"))
	switch {
	case prID == "":
		return Target{}, fmt.Errorf("%w: SYSTEM_PULLREQUEST_PULLREQUESTID is not set", ErrNotApplicable)
	case !strings.EqualFold(provider, "TfsGit"):
		return Target{}, fmt.Errorf("%w: the repository provider is %q, not TfsGit", ErrNotApplicable, provider)
	}
	target, _ := scanners.PullRequestTarget(getenv) // SYSTEM_PULLREQUEST_TARGETBRANCH in an Azure Pipelines PR build
	t := Target{
		CollectionURL: strings.TrimSpace(getenv("SYSTEM_COLLECTIONURI")),
		Project:       strings.TrimSpace(getenv("SYSTEM_TEAMPROJECTID")),
		RepositoryID:  strings.TrimSpace(getenv("BUILD_REPOSITORY_ID")),
		TargetBranch:  target,
		Token:         getenv("SYSTEM_ACCESSTOKEN"),
	}
	var errs []error
	n, err := strconv.Atoi(prID)
	if err != nil || n <= 0 {
		errs = append(errs, fmt.Errorf("SYSTEM_PULLREQUEST_PULLREQUESTID %q is not a pull request number", prID))
	}
	t.PullRequestID = n
	for _, v := range []struct{ name, val string }{
		{"SYSTEM_COLLECTIONURI", t.CollectionURL}, {"SYSTEM_TEAMPROJECTID", t.Project}, {"BUILD_REPOSITORY_ID", t.RepositoryID},
	} {
		if v.val == "" {
			errs = append(errs, fmt.Errorf("%s is not set", v.name))
		}
	}
	if strings.TrimSpace(t.Token) == "" {
		errs = append(errs, errors.New("SYSTEM_ACCESSTOKEN is not set: map it in the step, `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`"))
	}
	if t.CollectionURL != "" {
		if err := checkCollectionURL(t.CollectionURL); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Target{}, err
	}
	if id := strings.TrimSpace(getenv("BUILD_BUILDID")); id != "" {
		if _, err := strconv.Atoi(id); err == nil {
			project := strings.TrimSpace(getenv("SYSTEM_TEAMPROJECT"))
			if project == "" {
				project = t.Project
			}
			t.BuildURL = strings.TrimRight(t.CollectionURL, "/") + "/" + url.PathEscape(project) + "/_build/results?buildId=" + id
		}
	}
	return t, nil
}

// checkCollectionURL accepts https, and plain http only to this machine
// (the token must not cross a network in the clear).
func checkCollectionURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("SYSTEM_COLLECTIONURI %q is not a URL", raw)
	}
	if u.User != nil {
		return errors.New("SYSTEM_COLLECTIONURI must not carry credentials")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("SYSTEM_COLLECTIONURI %q: the access token is only sent over https", u.Redacted())
}

// counting counts the requests that reach the network (each retry too).
type counting struct {
	next http.RoundTripper
	n    atomic.Int64
	// auth records the last 401 or 403 (the client's error decoding can lose
	// the status of a response whose body is not JSON).
	auth atomic.Int64
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	resp, err := c.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		c.auth.Store(int64(resp.StatusCode))
	}
	return resp, err
}

// newClient is Microsoft's Git client for the collection, with Retry under
// it (the client itself never retries) and a per-request timeout.
func newClient(t Target, retry *Retry, count *counting) *git.ClientImpl {
	base := strings.TrimRight(t.CollectionURL, "/")
	conn := &azuredevops.Connection{
		// The job access token is an OAuth bearer token.
		AuthorizationString:     "Bearer " + t.Token,
		BaseUrl:                 base,
		SuppressFedAuthRedirect: true,
		UserAgent:               "Tollgate",
	}
	count.next = retry
	hc := &http.Client{Transport: count, Timeout: 30 * time.Second,
		// A redirect could carry the Authorization header elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &git.ClientImpl{Client: *azuredevops.NewClientWithOptions(conn, base, azuredevops.WithHTTPClient(hc))}
}

// statusOf is the HTTP status of a failed call, 0 when it is not known.
func statusOf(err error) int {
	var we azuredevops.WrappedError
	if errors.As(err, &we) && we.StatusCode != nil {
		return *we.StatusCode
	}
	var wp *azuredevops.WrappedError
	if errors.As(err, &wp) && wp != nil && wp.StatusCode != nil {
		return *wp.StatusCode
	}
	return 0
}

// AuthError is a decoration refused for want of permission.
type AuthError struct {
	Status int
	Op     string
	Err    error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("%s: Azure DevOps answered %d %s: %s", e.Op, e.Status, http.StatusText(e.Status), PermissionHint)
}

func (e *AuthError) Unwrap() error { return e.Err }
