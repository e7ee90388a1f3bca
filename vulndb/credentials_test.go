package vulndb_test

import (
	"context"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

// authRegistry is a registry on 127.0.0.1 whose protected repositories
// answer only the one Basic credential it is given (a 401 with a Basic
// challenge otherwise, as is /v2/ without credentials, so that
// go-containerregistry sends Basic auth at all); the other repositories
// are public. It records the Authorization header of every request by
// repository ("" for /v2/ itself).
type authRegistry struct {
	host       string
	user, pass string
	basic      string // the Authorization header protected repositories accept
	protected  []string

	mu   sync.Mutex
	auth map[string][]string
}

var repoPath = regexp.MustCompile(`^/v2/(.+?)/(?:manifests|blobs|tags)/`)

func startAuthRegistry(t *testing.T, user, pass string, protected ...string) *authRegistry {
	t.Helper()
	r := &authRegistry{user: user, pass: pass, basic: basicAuth(user, pass), protected: protected, auth: map[string][]string{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		repo := ""
		if m := repoPath.FindStringSubmatch(req.URL.Path); m != nil {
			repo = m[1]
		}
		got := req.Header.Get("Authorization")
		r.mu.Lock()
		r.auth[repo] = append(r.auth[repo], got)
		r.mu.Unlock()
		if (repo == "" || slices.Contains(r.protected, repo)) && got != r.basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="fixture"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// push writes the fixture vulnerability DB artifact to repo:tag.
func (r *authRegistry) push(t *testing.T, ref string) {
	t.Helper()
	src := t.TempDir()
	art, err := vulndbtest.WriteArtifact(src, vulndbtest.Default())
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(r.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, art, remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	clear(r.auth)
	r.mu.Unlock()
}

// wantAuth checks that repo was asked for and that every request for it
// carried the Authorization header want ("" for none).
func (r *authRegistry) wantAuth(t *testing.T, repo, want, what string) {
	t.Helper()
	r.mu.Lock()
	seen := slices.Clone(r.auth[repo])
	r.mu.Unlock()
	if len(seen) == 0 {
		t.Errorf("no request for %s", repo)
	}
	for _, h := range seen {
		if h != want {
			t.Errorf("a request for %s carried %q, want %s", repo, h, what)
		}
	}
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// dockerConfig points the docker keychain at a config of its own (and away
// from this machine's): auths maps a registry to its user and password;
// none leaves the config empty.
func dockerConfig(t *testing.T, auths map[string][2]string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("REGISTRY_AUTH_FILE", "")
	dir := filepath.Join(home, ".docker")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	var entries []string
	for host, up := range auths {
		entries = append(entries, `"`+host+`": {"auth": "`+base64.StdEncoding.EncodeToString([]byte(up[0]+":"+up[1]))+`"}`)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths": {`+strings.Join(entries, ", ")+`}}`), 0o600); err != nil {
		t.Fatal(err)
	}
}

func download(t *testing.T, opt vulndb.DownloadOptions) error {
	t.Helper()
	opt.Backoff = remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}
	_, err := vulndb.Download(context.Background(), t.TempDir(), opt)
	return err
}

// The pipeline's credentials go to the repository SendCredentials allows
// (asked by its full name, host and path) and not to a mirror the options
// name on the same host, which is asked with no credentials at all.
func TestDownloadSendsCredentialsOnlyWhereAllowed(t *testing.T) {
	const user, pass = "ci-bot", "pipeline-s3cret"
	dockerConfig(t, nil)
	reg := startAuthRegistry(t, user, pass, "own/trivy-db")
	reg.push(t, "own/trivy-db:2")

	var asked []string
	err := download(t, vulndb.DownloadOptions{
		// The mirror first: it has no DB, so both are asked.
		Repositories: []string{reg.host + "/mirror/trivy-db:2", reg.host + "/own/trivy-db:2"},
		Username:     user,
		Password:     pass,
		SendCredentials: func(repo string) bool {
			asked = append(asked, repo)
			return repo == reg.host+"/own/trivy-db"
		},
	})
	if err != nil {
		t.Fatalf("download from the allowed repository: %v", err)
	}
	if want := []string{reg.host + "/mirror/trivy-db", reg.host + "/own/trivy-db"}; !slices.Equal(asked, want) {
		t.Errorf("SendCredentials asked about %q, want %q", asked, want)
	}
	reg.wantAuth(t, "own/trivy-db", reg.basic, "the pipeline's Basic credentials")
	reg.wantAuth(t, "mirror/trivy-db", "", "no credentials")
}

// With no username the docker config's credentials for the registry's host
// are used, as docker would.
func TestDownloadUsesTheDockerConfigWithoutUsername(t *testing.T) {
	const user, pass = "docker-login", "config-s3cret"
	reg := startAuthRegistry(t, user, pass, "own/trivy-db")
	dockerConfig(t, map[string][2]string{reg.host: {user, pass}})
	reg.push(t, "own/trivy-db:2")

	if err := download(t, vulndb.DownloadOptions{Repositories: []string{reg.host + "/own/trivy-db:2"}}); err != nil {
		t.Fatalf("download with the docker config's credentials: %v", err)
	}
	reg.wantAuth(t, "own/trivy-db", reg.basic, "the docker config's Basic credentials")
}

// A repository SendCredentials refuses falls back to the docker config, as
// with no username: it gets the credentials docker has for its host, never
// the pipeline's.
func TestDownloadRefusedRepositoryGetsTheDockerConfigNotThePipelines(t *testing.T) {
	const user, pass = "ci-bot", "pipeline-s3cret"
	const dockerUser, dockerPass = "docker-login", "config-s3cret"
	reg := startAuthRegistry(t, user, pass, "own/trivy-db")
	dockerConfig(t, map[string][2]string{reg.host: {dockerUser, dockerPass}})
	reg.push(t, "own/trivy-db:2")

	err := download(t, vulndb.DownloadOptions{
		Repositories:    []string{reg.host + "/mirror/trivy-db:2", reg.host + "/own/trivy-db:2"},
		Username:        user,
		Password:        pass,
		SendCredentials: func(repo string) bool { return repo == reg.host+"/own/trivy-db" },
	})
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	reg.wantAuth(t, "mirror/trivy-db", basicAuth(dockerUser, dockerPass), "the docker config's credentials")
	reg.wantAuth(t, "own/trivy-db", reg.basic, "the pipeline's credentials")
}
