package images_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	trivylog "github.com/aquasecurity/trivy/pkg/log"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/images"
	"github.com/tollgate/tollgate/scanners/images/imagetest"
	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

func TestMain(m *testing.M) {
	trivylog.InitLogger(false, true)
	os.Exit(m.Run())
}

var quiet = slog.New(slog.DiscardHandler)

// fixtureCache is a cache directory holding the fixture DB.
func fixtureCache(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := vulndbtest.Write(vulndb.Dir(dir), vulndbtest.Default()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withoutJavaNote is notifications without the java-db-missing note that
// every image scan without a Java DB carries.
func withoutJavaNote(ns []scanners.Notification) []scanners.Notification {
	return slices.DeleteFunc(slices.Clone(ns), func(n scanners.Notification) bool { return n.Code == "java-db-missing" })
}

func mustImage(t *testing.T, f func() (v1.Image, error)) v1.Image {
	t.Helper()
	img, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func scan(t *testing.T, opts images.Options, root string) scanners.Result {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	opts.Offline = true
	res, err := images.New(opts, quiet).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	res.Normalize()
	if res.Status.State != scanners.Succeeded {
		t.Fatalf("state %s: %+v", res.Status.State, res.Status.Notifications)
	}
	return res
}

// got lists "VULN pkg installed->fixed SEVERITY" per finding.
func got(res scanners.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, fmt.Sprintf("%s %s %s->%s %s", f.RuleID, f.Vuln.Package, f.Vuln.InstalledVersion, f.Vuln.FixedVersion, f.Severity))
	}
	slices.Sort(out)
	return out
}

var wantAlpine = []string{
	"CVE-2099-0001 libssl3 3.1.2-r0->3.1.4-r1 MEDIUM",
	"CVE-2099-0001 openssl 3.1.2-r0->3.1.4-r1 MEDIUM",
	"CVE-2099-0002 musl 1.2.4-r1->1.2.4-r3 HIGH",
	"CVE-2099-0003 busybox 1.36.1-r2->1.36.1-r6 CRITICAL",
	"CVE-2099-0201 requests 2.19.0->2.20.0 HIGH",
}

func TestDockerArchive(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "alpine.tar")
	if err := imagetest.WriteDockerArchive(archive, "tollgate-fixture/alpine:3.18", mustImage(t, imagetest.Alpine)); err != nil {
		t.Fatal(err)
	}
	res := scan(t, images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: fixtureCache(t)}, "")
	if g := got(res); !slices.Equal(g, wantAlpine) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(wantAlpine, "\n"))
	}
	for _, f := range res.Findings {
		if f.Location.Image != "tollgate-fixture/alpine:3.18" || f.Location.Path != "" {
			t.Errorf("%s: location %+v, want the image and no checkout path", f.RuleID, f.Location)
		}
		if f.Vuln.ImageDigest == "" || !strings.HasPrefix(f.Vuln.ImageDigest, "sha256:") {
			t.Errorf("%s: no image digest", f.RuleID)
		}
		if !strings.Contains(f.Message, f.Vuln.Package) || !strings.Contains(f.Message, f.Vuln.InstalledVersion) || !strings.Contains(f.Message, f.Vuln.FixedVersion) {
			t.Errorf("message %q does not name package, installed and fixed version", f.Message)
		}
	}
	busybox := res.Findings[slices.IndexFunc(res.Findings, func(f scanners.Finding) bool { return f.Vuln.Package == "busybox" })]
	if busybox.Vuln.CVSSScore != 9.8 || !strings.HasPrefix(busybox.Vuln.CVSSVector, "CVSS:3.1/") {
		t.Errorf("busybox CVSS = %v %q", busybox.Vuln.CVSSScore, busybox.Vuln.CVSSVector)
	}
	if i := slices.IndexFunc(res.Rules, func(r scanners.Rule) bool { return r.ID == vulndbtest.AlpineBusybox }); i < 0 || res.Rules[i].CVSSScore != 9.8 {
		t.Errorf("rule of %s lacks its CVSS score: %+v", vulndbtest.AlpineBusybox, res.Rules)
	}
	if res.Tool.Properties["vulnerabilityDB.updatedAt"] == "" {
		t.Error("the DB's date is not reported")
	}
	// --pkg-types os drops the Python package.
	os := scan(t, images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: fixtureCache(t), PkgTypes: []string{"os"}}, "")
	if len(os.Findings) != len(wantAlpine)-1 {
		t.Errorf("--pkg-types os: %v", got(os))
	}
}

func TestOCILayoutAndIgnoreUnfixed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "debian-layout")
	if err := imagetest.WriteOCILayout(dir, mustImage(t, imagetest.Debian)); err != nil {
		t.Fatal(err)
	}
	cache := fixtureCache(t)
	want := []string{
		"CVE-2099-0101 libssl3 3.0.11-1~deb12u1->3.0.13-1~deb12u1 HIGH",
		"CVE-2099-0102 zlib1g 1:1.2.13.dfsg-1-> CRITICAL",
	}
	res := scan(t, images.Options{Images: []string{"oci-layout:" + dir}, CacheDir: cache}, "")
	if g := got(res); !slices.Equal(g, want) {
		t.Errorf("findings %v, want %v", g, want)
	}
	res = scan(t, images.Options{Images: []string{"oci-layout:" + dir}, CacheDir: cache, IgnoreUnfixed: true}, "")
	if g := got(res); !slices.Equal(g, want[:1]) {
		t.Errorf("--ignore-unfixed: %v, want %v", g, want[:1])
	}
}

// startRegistry serves an in-process registry on 127.0.0.1, through wrap.
func startRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

func TestRegistry(t *testing.T) {
	host := startRegistry(t, nil)
	push(t, host+"/fixture/alpine:3.18", mustImage(t, imagetest.Alpine))
	cache := fixtureCache(t)
	for _, ref := range []string{"registry:" + host + "/fixture/alpine:3.18", host + "/fixture/alpine:3.18"} {
		res := scan(t, images.Options{Images: []string{ref}, CacheDir: cache}, "")
		if g := got(res); !slices.Equal(g, wantAlpine) {
			t.Errorf("%s: findings %v", ref, g)
		}
	}
	// A requested image that cannot be scanned fails the engine (never a
	// pass with the image unseen); the other images are still scanned and
	// their findings kept.
	tgt, err := scanners.Walk(context.Background(), t.TempDir(), scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := images.New(images.Options{Offline: true, CacheDir: cache,
		Images: []string{"registry:" + host + "/fixture/missing:1", "registry:" + host + "/fixture/alpine:3.18"}}, quiet).Scan(context.Background(), tgt)
	if err == nil || !strings.Contains(err.Error(), "1 requested image(s) could not be scanned") {
		t.Errorf("error %v, want the requested image's failure", err)
	}
	if notes := withoutJavaNote(res.Status.Notifications); res.Status.State != scanners.Failed || len(res.Findings) != len(wantAlpine) ||
		len(notes) == 0 || !strings.Contains(notes[0].Message, "fixture/missing:1") {
		t.Errorf("state %s, %d findings, notes %+v", res.Status.State, len(res.Findings), res.Status.Notifications)
	}
}

func TestDockerDaemon(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("docker is required: .ci/run installs docker.io and starts dockerd")
	}
	archive := filepath.Join(t.TempDir(), "alpine.tar")
	ref := fmt.Sprintf("tollgate-fixture/daemon-alpine:%d", time.Now().UnixNano())
	if err := imagetest.WriteDockerArchive(archive, ref, mustImage(t, imagetest.Alpine)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "load", "-i", archive).CombinedOutput(); err != nil {
		t.Fatalf("docker load: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	cache := fixtureCache(t)
	for _, r := range []string{"docker:" + ref, ref} {
		res := scan(t, images.Options{Images: []string{r}, CacheDir: cache}, "")
		if g := got(res); !slices.Equal(g, wantAlpine) {
			t.Errorf("%s: findings %v", r, g)
		}
	}
}

func TestDBDownloadRetriesAndMirrors(t *testing.T) {
	src := t.TempDir()
	art, err := vulndbtest.WriteArtifact(src, vulndbtest.Default())
	if err != nil {
		t.Fatal(err)
	}
	var manifestGets, throttled atomic.Int32
	host := startRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") && strings.Contains(r.URL.Path, "trivy-db") {
				if manifestGets.Add(1) == 1 {
					throttled.Add(1)
					w.Header().Set("Retry-After", "0")
					http.Error(w, "slow down", http.StatusTooManyRequests)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	push(t, host+"/aquasec/trivy-db:2", art)

	cache := t.TempDir()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	meta, err := vulndb.Download(context.Background(), cache, vulndb.DownloadOptions{
		Repositories: []string{host + "/nowhere/trivy-db:2", host + "/aquasec/trivy-db:2"},
		Backoff:      remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3},
		Now:          func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if throttled.Load() != 1 || manifestGets.Load() < 2 {
		t.Errorf("the 429 was not retried: %d manifest requests", manifestGets.Load())
	}
	if !meta.DownloadedAt.Equal(now) || meta.Version != vulndb.SchemaVersion {
		t.Errorf("metadata %+v", meta)
	}
	if _, err := os.Stat(vulndb.Path(vulndb.Dir(cache))); err != nil {
		t.Fatal(err)
	}
	// The downloaded DB scans.
	archive := filepath.Join(t.TempDir(), "alpine.tar")
	if err := imagetest.WriteDockerArchive(archive, "tollgate-fixture/alpine:3.18", mustImage(t, imagetest.Alpine)); err != nil {
		t.Fatal(err)
	}
	if g := got(scan(t, images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: cache}, "")); !slices.Equal(g, wantAlpine) {
		t.Errorf("findings with the downloaded DB: %v", g)
	}

	if _, err := vulndb.Download(context.Background(), t.TempDir(), vulndb.DownloadOptions{
		Repositories: []string{host + "/nowhere/trivy-db:2"},
		Backoff:      remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1},
	}); err == nil || !strings.Contains(err.Error(), "nowhere/trivy-db:2") {
		t.Errorf("a failed download must name the repository: %v", err)
	}
}

func TestScanDownloadsAMissingDB(t *testing.T) {
	src := t.TempDir()
	art, err := vulndbtest.WriteArtifact(src, vulndbtest.Default())
	if err != nil {
		t.Fatal(err)
	}
	host := startRegistry(t, nil)
	push(t, host+"/db/trivy-db:2", art)
	archive := filepath.Join(t.TempDir(), "alpine.tar")
	if err := imagetest.WriteDockerArchive(archive, "tollgate-fixture/alpine:3.18", mustImage(t, imagetest.Alpine)); err != nil {
		t.Fatal(err)
	}
	tgt, err := scanners.Walk(context.Background(), t.TempDir(), scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	cache := t.TempDir()
	res, err := images.New(images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: cache,
		DBRepositories: []string{host + "/db/trivy-db:2"}}, quiet).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != len(wantAlpine) {
		t.Errorf("findings after downloading the DB: %d", len(res.Findings))
	}

	// --offline with no DB fails the engine and says why.
	_, err = images.New(images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: t.TempDir(), Offline: true}, quiet).Scan(context.Background(), tgt)
	if err == nil || !strings.Contains(err.Error(), "--offline") || !strings.Contains(err.Error(), "no vulnerability DB") {
		t.Errorf("offline without a DB: %v", err)
	}
}

func TestStaleDBWarns(t *testing.T) {
	cache := t.TempDir()
	c := vulndbtest.Default()
	c.UpdatedAt = time.Now().Add(-30 * 24 * time.Hour)
	if err := vulndbtest.Write(vulndb.Dir(cache), c); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "alpine.tar")
	if err := imagetest.WriteDockerArchive(archive, "tollgate-fixture/alpine:3.18", mustImage(t, imagetest.Alpine)); err != nil {
		t.Fatal(err)
	}
	res := scan(t, images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: cache}, "")
	if notes := withoutJavaNote(res.Status.Notifications); len(notes) != 1 || notes[0].Code != "db-stale" ||
		!strings.Contains(notes[0].Message, "30 days old") {
		t.Errorf("notifications %+v", res.Status.Notifications)
	}
}

func TestDiscovery(t *testing.T) {
	host := startRegistry(t, nil)
	push(t, host+"/fixture/alpine:3.18", mustImage(t, imagetest.Alpine))
	push(t, host+"/fixture/debian:12", mustImage(t, imagetest.Debian))
	push(t, host+"/fixture/alpine:edge", mustImage(t, imagetest.Alpine))
	push(t, host+"/fixture/helm-alpine:1", mustImage(t, imagetest.Alpine))

	root := t.TempDir()
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app/Dockerfile", strings.Join([]string{
		"# syntax=docker/dockerfile:1",
		"ARG REGISTRY=" + host,
		"ARG BASE=fixture/alpine",
		"ARG TAG",
		"FROM ${REGISTRY}/${BASE}:3.18 AS build",
		"RUN make",
		"FROM build AS test",
		"RUN make test",
		"FROM scratch AS artifact",
		"COPY --from=build /out /",
		"FROM $REGISTRY/fixture/unpinned:${TAG}",
		"",
	}, "\n"))
	write("deploy/k8s/deployment.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: `+host+`/fixture/debian:12
      containers:
        - name: api
          image: `+host+`/fixture/debian:12
`)
	write("compose.yaml", "services:\n  web:\n    build: .\n    image: "+host+"/fixture/alpine:edge\n  db:\n    image: ${DB_IMAGE}\n")
	write("not-k8s.yaml", "image: "+host+"/fixture/ignored:1\n")
	write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
	write("charts/web/values.yaml", "image:\n  repository: "+host+"/fixture/helm-alpine\n  tag: \"1\"\n")
	write("charts/web/templates/deployment.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`)
	write("charts/broken/Chart.yaml", "apiVersion: v2\nname: broken\nversion: 0.1.0\n")
	write("charts/broken/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n  x: {{ .Values.missing.deeper }}\n")

	res := scan(t, images.Options{Discover: true, CacheDir: fixtureCache(t), DiscoverRegistries: []string{host}}, root)
	where := map[string]string{}
	for _, f := range res.Findings {
		where[f.Location.Image] = fmt.Sprintf("%s:%d", f.Location.Path, f.Location.StartLine)
	}
	want := map[string]string{
		host + "/fixture/alpine:3.18":   "app/Dockerfile:5",
		host + "/fixture/debian:12":     "deploy/k8s/deployment.yaml:10",
		host + "/fixture/alpine:edge":   "compose.yaml:4",
		host + "/fixture/helm-alpine:1": "charts/web/templates/deployment.yaml:10",
	}
	for img, loc := range want {
		if where[img] != loc {
			t.Errorf("%s located at %q, want %q", img, where[img], loc)
		}
	}
	if len(where) != len(want) {
		t.Errorf("images scanned: %v", where)
	}
	notes := fmt.Sprint(res.Status.Notifications)
	for _, n := range []string{"app/Dockerfile:11", "compose.yaml:6", "Helm chart charts/broken could not be rendered"} {
		if !strings.Contains(notes, n) {
			t.Errorf("no note about the unresolved image at %s: %s", n, notes)
		}
	}
}

func TestParseRef(t *testing.T) {
	for in, want := range map[string]string{
		"alpine:3.18":     "alpine:3.18",
		"docker:my/app:1": "docker:my/app:1",
		"registry:ghcr.io/a/b@sha256:" + strings.Repeat("a", 64): "registry:ghcr.io/a/b@sha256:" + strings.Repeat("a", 64),
		"docker-archive:./out/app.tar":                           "docker-archive:./out/app.tar",
		"oci-layout:/tmp/layout":                                 "oci-layout:/tmp/layout",
	} {
		r, err := images.ParseRef(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRef(%q) = %v, %v", in, r, err)
		}
	}
	for _, bad := range []string{"", "docker:", "registry:UPPER/Case", "./app.tar", "a b"} {
		if _, err := images.ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

func TestRegistryAuth(t *testing.T) {
	const user, pass = "ci-bot", "s3cret-token"
	host := startRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="fixture"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	tag, err := name.NewTag(host + "/private/alpine:3.18")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, mustImage(t, imagetest.Alpine), remote.WithAuth(&authn.Basic{Username: user, Password: pass})); err != nil {
		t.Fatal(err)
	}
	cache := fixtureCache(t)
	res := scan(t, images.Options{Images: []string{"registry:" + tag.String()}, CacheDir: cache, Username: user, Password: pass}, "")
	if g := got(res); !slices.Equal(g, wantAlpine) {
		t.Errorf("with credentials: %v", g)
	}
	tgt, err := scanners.Walk(context.Background(), t.TempDir(), scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err = images.New(images.Options{Images: []string{"registry:" + tag.String()}, CacheDir: cache, Offline: true}, quiet).Scan(context.Background(), tgt)
	if err == nil {
		t.Error("an image that could not be pulled passed")
	}
	if res.Status.State != scanners.Failed || !strings.Contains(fmt.Sprint(res.Status.Notifications), "401 Unauthorized") {
		t.Errorf("without credentials: %s %+v", res.Status.State, res.Status.Notifications)
	}
	if strings.Contains(fmt.Sprint(res.Status.Notifications), pass) {
		t.Error("the password leaked into a notification")
	}
}

// A read-only root filesystem leaves no room to unpack layers: the error
// names the directory and the remedy instead of failing per image.
func TestUnwritableTempDir(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "alpine.tar")
	if err := imagetest.WriteDockerArchive(archive, "fixture/alpine:3.18", mustImage(t, imagetest.Alpine)); err != nil {
		t.Fatal(err)
	}
	cache := fixtureCache(t)
	tgt, err := scanners.Walk(context.Background(), t.TempDir(), scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	missing := filepath.Join(t.TempDir(), "gone")
	t.Setenv("TMPDIR", missing)
	_, err = images.New(images.Options{Offline: true, CacheDir: cache, Images: []string{"docker-archive:" + archive}}, quiet).Scan(context.Background(), tgt)
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--tmpfs /tmp") {
		t.Fatalf("error %v, want the directory and the remedy", err)
	}
}

// The registry credentials go to the repositories of the pipeline's own
// images only (host and path): a discovered image on another host, or in
// another repository of the same host, never receives them, and a
// discovered image on a registry that is not allowed is not pulled at all.
func TestCredentialsScopedToTheirRegistry(t *testing.T) {
	const user, pass = "ci-bot", "pipeline-s3cret"
	var mu sync.Mutex
	seen := map[string][]string{} // host -> Authorization headers
	record := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				key := name
				if strings.Contains(r.URL.Path, "/otherteam/") {
					key += "/otherteam"
				}
				seen[key] = append(seen[key], r.Header.Get("Authorization"))
				mu.Unlock()
				next.ServeHTTP(w, r)
			})
		}
	}
	own := startRegistry(t, record("own"))
	other := startRegistry(t, record("other"))
	trap := startRegistry(t, record("trap"))
	push(t, own+"/app/api:1", mustImage(t, imagetest.Alpine))
	push(t, own+"/otherteam/private-svc:1", mustImage(t, imagetest.Alpine))
	push(t, other+"/base/alpine:3.18", mustImage(t, imagetest.Alpine))
	push(t, trap+"/x/alpine:3.18", mustImage(t, imagetest.Alpine))
	mu.Lock()
	clear(seen)
	mu.Unlock()

	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "Dockerfile"), []byte("FROM "+other+"/base/alpine:3.18\nFROM "+trap+"/x/alpine:3.18\nFROM "+own+"/otherteam/private-svc:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := images.New(images.Options{Offline: true, CacheDir: fixtureCache(t), Discover: true,
		Images: []string{"registry:" + own + "/app/api:1"}, DiscoverRegistries: []string{other},
		Username: user, Password: pass, DockerHost: "unix:///nonexistent/docker.sock"}, quiet).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatalf("scan: %v (%+v)", err, res.Status.Notifications)
	}
	mu.Lock()
	defer mu.Unlock()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	if !slices.Contains(seen["own"], basic) {
		t.Errorf("the pipeline's registry never got its credentials: %q", seen["own"])
	}
	if len(seen["other"]) == 0 {
		t.Error("the allowed registry of a discovered image was not asked")
	}
	for _, h := range seen["other"] {
		if strings.Contains(h, base64.StdEncoding.EncodeToString([]byte(user+":"+pass))) {
			t.Errorf("credentials sent to a discovered image's registry: %q", h)
		}
	}
	// Another repository on the pipeline's own host (another team's image,
	// named by the checkout) is pulled without them.
	if len(seen["own/otherteam"]) == 0 {
		t.Error("the discovered image on the pipeline's host was not asked for")
	}
	for _, h := range seen["own/otherteam"] {
		if strings.Contains(h, base64.StdEncoding.EncodeToString([]byte(user+":"+pass))) {
			t.Errorf("credentials sent to another repository of the pipeline's registry: %q", h)
		}
	}
	if len(seen["trap"]) != 0 {
		t.Errorf("a registry that is not allowed was contacted %d time(s)", len(seen["trap"]))
	}
	notes := fmt.Sprint(res.Status.Notifications)
	if !strings.Contains(notes, "--discover-registry "+trap) {
		t.Errorf("the image not pulled is not named with the flag: %s", notes)
	}
	if len(res.Findings) != 3*len(wantAlpine) {
		t.Errorf("%d findings, want the pipeline's and the allowed discovered images'", len(res.Findings))
	}
}

// TestImageSBOM: --sbom writes one CycloneDX 1.6 SBOM per scanned image,
// listing the packages the engine matched (every vulnerable package among
// them).
func TestImageSBOM(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "alpine.tar")
	if err := imagetest.WriteDockerArchive(archive, "tollgate-fixture/alpine:3.18", mustImage(t, imagetest.Alpine)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res := scan(t, images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: fixtureCache(t), SBOMDir: dir}, "")
	files, _ := filepath.Glob(filepath.Join(dir, "*.cdx.json"))
	if len(files) != 1 || !strings.HasPrefix(filepath.Base(files[0]), "image-") {
		t.Fatalf("SBOMs %v, want one per image", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, c := range bom.Components {
		have[c.Name+"@"+c.Version] = true
	}
	if bom.SpecVersion != "1.6" {
		t.Errorf("spec version %s", bom.SpecVersion)
	}
	for _, f := range res.Findings {
		if !have[f.Vuln.Package+"@"+f.Vuln.InstalledVersion] {
			t.Errorf("the SBOM lacks %s@%s, which the engine found vulnerable", f.Vuln.Package, f.Vuln.InstalledVersion)
		}
	}
}

// TestJARsWithTheJavaDB: a JAR that only its SHA-1 can name is matched
// when Trivy's Java DB is on disk (here a fixture that knows the SHA-1 as
// log4j-core 2.14.1, vulnerable in the fixture DB); without the Java DB a
// note says the JARs were not matched.
func TestJARsWithTheJavaDB(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "app.tar")
	if err := imagetest.WriteDockerArchive(archive, "tollgate-fixture/app:1", mustImage(t, imagetest.AlpineWithJAR)); err != nil {
		t.Fatal(err)
	}
	jar, err := imagetest.JAR()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(jar)
	withDeps := func(t *testing.T) string {
		dir := t.TempDir()
		if err := vulndbtest.Write(vulndb.Dir(dir), vulndbtest.Default().With(vulndbtest.Dependencies())); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	log4j := func(res scanners.Result) bool {
		return slices.ContainsFunc(res.Findings, func(f scanners.Finding) bool {
			return f.RuleID == vulndbtest.MavenLog4j && f.Vuln.Package == "org.apache.logging.log4j:log4j-core" && f.Vuln.InstalledVersion == "2.14.1"
		})
	}

	cache := withDeps(t)
	res := scan(t, images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: cache}, "")
	if log4j(res) || !slices.ContainsFunc(res.Status.Notifications, func(n scanners.Notification) bool { return n.Code == "java-db-missing" }) {
		t.Fatalf("without the Java DB: findings %v, notes %+v; want no log4j and a java-db-missing note", got(res), res.Status.Notifications)
	}

	cache = withDeps(t)
	if err := vulndbtest.WriteJava(cache, []vulndbtest.JavaIndex{{GroupID: "org.apache.logging.log4j", ArtifactID: "log4j-core", Version: "2.14.1", SHA1: sum[:]}}); err != nil {
		t.Fatal(err)
	}
	res = scan(t, images.Options{Images: []string{"docker-archive:" + archive}, CacheDir: cache}, "")
	if !log4j(res) {
		t.Fatalf("with the Java DB: findings %v, want log4j-core 2.14.1 (%s)", got(res), vulndbtest.MavenLog4j)
	}
	if res.Tool.Properties["javaDB.updatedAt"] == "" {
		t.Error("the Java DB's date is not reported")
	}
}
