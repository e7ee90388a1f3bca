//go:build linux

// Package image_test builds the real Dockerfile with a real Docker engine
// and runs the images the ways users do: `docker run` on a checkout (read-only,
// no network, non-root, no capabilities), offline with the baked DB, against
// the local daemon through its socket, as an Azure Pipelines container job,
// and as the task's docker runner.
package image_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tollgate/tollgate/internal/tollgatebin"
	"github.com/tollgate/tollgate/report/sarifcheck"
	"github.com/tollgate/tollgate/scanners/images/imagetest"
	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

const (
	tag       = "tollgate-ci/tollgate:test"
	staticTag = tag + "-static"
)

var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(setup(m))
}

func setup(m *testing.M) int {
	var err error
	repoRoot, err = filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "a Docker engine is required (bash .ci/run installs docker.io and starts dockerd): %v\n%s", err, out)
		return 1
	}
	bases, err := exec.Command("bash", filepath.Join(repoRoot, "image/ci-base.sh")).Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "image/ci-base.sh: %v\n", err)
		return 1
	}
	base := strings.Fields(string(bases))

	// One loopback server is the Go module proxy (this machine's module
	// cache) and the registry that serves the fixture vulnerability DB.
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	mux.Handle("/", http.FileServer(http.Dir(filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download"))))
	srv := loopbackServer(mux)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dbDir, err := os.MkdirTemp("", "tollgate-db-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dbDir)
	if err := vulndbtest.Write(dbDir, vulndbtest.Default()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	art, err := vulndbtest.Artifact(dbDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The DB is new each run (its date is now), so its repository is too:
	// the image's DB stage is rebuilt while the build stage stays cached.
	dbRef, _ := name.NewTag(fmt.Sprintf("%s/tollgate-ci-%d/trivy-db:2", host, time.Now().UnixNano()))
	if err := remote.Write(dbRef, art); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The Java DB is baked beside it, from the same registry.
	if err := vulndbtest.WriteJava(dbDir, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	javaArt, err := vulndbtest.JavaArtifact(vulndb.JavaDir(dbDir))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	javaRef, _ := name.NewTag(fmt.Sprintf("%s/tollgate-ci-%d/trivy-java-db:1", host, time.Now().UnixNano()))
	if err := remote.Write(javaRef, javaArt); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	start := time.Now()
	build := exec.Command("bash", filepath.Join(repoRoot, "image/build.sh"), "-t", tag, "--bake-db", "--db-repository", dbRef.String(), "--java-db-repository", javaRef.String(), "--",
		"--network", "host",
		"--build-arg", "GO_IMAGE="+base[1],
		"--build-arg", "RUNTIME_IMAGE="+base[0],
		// Modules this machine has come from its cache; the rest from the proxy.
		"--build-arg", "GOPROXY="+srv.URL+",https://proxy.golang.org,direct")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the images: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "images built in %s\n", time.Since(start).Round(time.Second))
	return m.Run()
}

// stablePort is where the loopback module proxy listens when it is free.
// The proxy's URL is a build argument of the Dockerfile's build stage: a
// port that stays the same lets Docker reuse that stage (the compile) while
// the sources are unchanged, instead of compiling Tollgate again each run.
const stablePort = "127.0.0.1:47613"

func loopbackServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	if l, err := net.Listen("tcp", stablePort); err == nil {
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.Start()
	return srv
}

type result struct {
	stdout, stderr string
	code           int
}

func docker(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// demoCopy copies testdata/demo into a folder the image's user can read.
func demoCopy(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("cp", "-r", filepath.Join(repoRoot, "testdata/demo"), dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

// writable is a folder the image's user (10001) can write the SARIF into.
func writable(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

var hardened = []string{"run", "--rm", "--read-only", "--network", "none", "--user", "10001:10001", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"}

func TestDockerRunOnTheDemo(t *testing.T) {
	for _, img := range []string{tag, staticTag} {
		t.Run(img, func(t *testing.T) {
			src, out := demoCopy(t), writable(t)
			args := append(append([]string{}, hardened...), "-v", src+":/src:ro", "-v", out+":/out", img, "scan", "--sarif", "/out/tollgate.sarif", "/src")
			r := docker(t, args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1 (the demo fails at high)\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			// The image finds what the binary built here finds on the same
			// tree: the same results, one by one.
			got := sarifResults(t, filepath.Join(out, "tollgate.sarif"))
			want := sarifResults(t, hostScan(t, src))
			if len(want) < 20 || !slices.Equal(got, want) {
				t.Errorf("the image's results differ from the binary's:\n got %v\nwant %v", got, want)
			}
			validate(t, filepath.Join(out, "tollgate.sarif"))
			args = append(append([]string{}, hardened...), "-v", src+":/src:ro", img, "scan", "-q", "--fail-on", "none", "/src")
			if r := docker(t, args...); r.code != 0 {
				t.Errorf("--fail-on none: exit %d\n%s", r.code, r.stderr)
			}
		})
	}
}

// TestHistoryOfAnotherUsersCheckout: the full image (git, no
// safe.directory of its own) scans the history of a checkout that another
// user owns, as a container job mounts the agent's checkout: Tollgate
// trusts that one repository for its own git commands, and no other. An
// image that trusted every repository (safe.directory '*') let git use a
// repository a pull request commits as files.
func TestHistoryOfAnotherUsersCheckout(t *testing.T) {
	src := filepath.Join(t.TempDir(), "repo")
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	gitc("init", "-q", "-b", "main")
	token := "ghp_" + "R8fT2vLq9XwZ4mN7pK3sD6hJ1cB5yA0eUi2o"
	if err := os.WriteFile(filepath.Join(src, "app.py"), []byte("TOKEN = \""+token+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitc("add", "-A")
	gitc("commit", "-q", "-m", "add")
	if err := os.WriteFile(filepath.Join(src, "app.py"), []byte("TOKEN = None\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitc("commit", "-q", "-am", "remove")
	if out, err := exec.Command("chmod", "-R", "a+rX", src).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}
	// The checkout belongs to this machine's user, the scan runs as 10001.
	args := append(append([]string{}, hardened...), "-v", src+":/src:ro", tag,
		"scan", "--scanners", "secrets", "--secrets-mode", "history", "--format", "json", "/src")
	r := docker(t, args...)
	if r.code != 1 || !strings.Contains(r.stdout, "app.py") || !strings.Contains(r.stdout, "github-pat") {
		t.Fatalf("exit %d, want 1 with the removed token found in the history\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Error("the token's value is in the output")
	}
	// The image trusts no repository for git used directly.
	args = append(append([]string{}, hardened...), "-v", src+":/src:ro", "--entrypoint", "git", tag, "-C", "/src", "log", "--oneline")
	if r := docker(t, args...); r.code == 0 || !strings.Contains(r.stderr, "dubious ownership") {
		t.Errorf("git in the image trusts another user's repository: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestVersionShowsTheBakedDB(t *testing.T) {
	for _, img := range []string{tag, staticTag} {
		r := docker(t, "run", "--rm", "--network", "none", img, "version")
		if r.code != 0 || !strings.Contains(r.stdout, "vulnerability DB: updated") || !strings.Contains(r.stdout, "/opt/tollgate/cache/db") {
			t.Errorf("%s version: exit %d\n%s%s", img, r.code, r.stdout, r.stderr)
		}
		label := docker(t, "image", "inspect", "--format", `{{index .Config.Labels "io.tollgate.vulndb.updated"}} {{index .Config.Labels "org.opencontainers.image.licenses"}} {{.Config.User}}`, img)
		f := strings.Fields(label.stdout)
		if len(f) != 3 || !strings.HasPrefix(f[0], "20") || f[1] != "Apache-2.0" || f[2] != "10001:10001" {
			t.Errorf("%s labels/user: %q", img, label.stdout)
		}
	}
}

func fixtureArchive(t *testing.T, ref string) string {
	t.Helper()
	img, err := imagetest.Alpine()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "alpine.tar")
	if err := imagetest.WriteDockerArchive(p, ref, img); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func vulnIDs(t *testing.T, jsonReport string) []string {
	t.Helper()
	var rep struct {
		Results []struct {
			Scanner  string `json:"scanner"`
			Findings []struct {
				RuleID string `json:"ruleId"`
			} `json:"findings"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(jsonReport), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, jsonReport)
	}
	var ids []string
	for _, r := range rep.Results {
		for _, f := range r.Findings {
			if r.Scanner == "image" {
				ids = append(ids, f.RuleID)
			}
		}
	}
	return ids
}

func TestOfflineImageScanWithTheBakedDB(t *testing.T) {
	archive := fixtureArchive(t, "tollgate-fixture/alpine:3.18")
	scan := []string{"scan", "--scanners", "image", "--image", "docker-archive:/in/alpine.tar", "--offline", "--fail-on", "none", "--format", "json", "/in"}
	for _, img := range []string{tag, staticTag} {
		// Trivy unpacks layers under /tmp: a read-only root needs a tmpfs.
		args := append(append([]string{}, hardened...), "--tmpfs", "/tmp:rw,nosuid,nodev,noexec,size=256m", "-v", filepath.Dir(archive)+":/in:ro", img)
		r := docker(t, append(args, scan...)...)
		ids := vulnIDs(t, r.stdout)
		slices.Sort(ids)
		want := []string{vulndbtest.AlpineOpenSSL, vulndbtest.AlpineOpenSSL, vulndbtest.AlpineMusl, vulndbtest.AlpineBusybox, vulndbtest.PythonRequests}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("%s: vulnerabilities %v, want %v (exit %d)\n%s", img, ids, want, r.code, r.stderr)
		}
	}
	// Without it the image engine fails, says what to do, and the scan
	// completes with exit 3.
	args := append(append([]string{}, hardened...), "-v", filepath.Dir(archive)+":/in:ro", staticTag)
	r := docker(t, append(args, scan...)...)
	if r.code != 3 || !strings.Contains(r.stdout, "--tmpfs /tmp") {
		t.Errorf("read-only /tmp: exit %d, want 3 (engine failed) and a notification naming --tmpfs /tmp\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestDaemonImageThroughTheSocket(t *testing.T) {
	ref := fmt.Sprintf("tollgate-fixture/socket-alpine:%d", time.Now().UnixNano())
	archive := fixtureArchive(t, ref)
	if r := docker(t, "load", "-i", archive); r.code != 0 {
		t.Fatalf("docker load: %s", r.stderr)
	}
	t.Cleanup(func() { docker(t, "rmi", "-f", ref) })
	var st syscall.Stat_t
	if err := syscall.Stat("/var/run/docker.sock", &st); err != nil {
		t.Fatal(err)
	}
	r := docker(t, "run", "--rm", "--network", "none", "--user", "10001:10001", "--group-add", fmt.Sprint(st.Gid),
		"-v", "/var/run/docker.sock:/var/run/docker.sock", tag,
		"scan", "--scanners", "image", "--image", "docker:"+ref, "--offline", "--fail-on", "none", "--format", "json", "/tmp")
	if ids := vulnIDs(t, r.stdout); len(ids) != 5 {
		t.Errorf("daemon image from inside the container: %v (exit %d)\n%s", ids, r.code, r.stderr)
	}
}

func TestContainerJob(t *testing.T) {
	// As the agent does: create with its own keep-alive command, then exec steps.
	name := fmt.Sprintf("tollgate-job-%d", time.Now().UnixNano())
	if r := docker(t, "create", "--name", name, tag, "sleep", "infinity"); r.code != 0 {
		t.Fatalf("docker create: %s", r.stderr)
	}
	t.Cleanup(func() { docker(t, "rm", "-f", name) })
	if r := docker(t, "start", name); r.code != 0 {
		t.Fatalf("docker start: %s", r.stderr)
	}
	time.Sleep(time.Second)
	if r := docker(t, "inspect", "--format", "{{.State.Running}}", name); strings.TrimSpace(r.stdout) != "true" {
		t.Fatalf("the container did not keep running: %s %s", r.stdout, docker(t, "logs", name).stderr)
	}
	r := docker(t, "exec", name, "bash", "-c", "set -e; ldd --version | head -1; git --version; tollgate version | head -1")
	if r.code != 0 || !strings.Contains(r.stdout, "GLIBC") && !strings.Contains(r.stdout, "GNU libc") || !strings.Contains(r.stdout, "git version") || !strings.Contains(r.stdout, "tollgate ") {
		t.Errorf("steps in the container job: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A root exec, as the agent does to add its user, works too.
	if r := docker(t, "exec", "-u", "0", name, "bash", "-c", "id -u"); strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("root exec: %q %s", r.stdout, r.stderr)
	}
}

func TestTaskDockerRunner(t *testing.T) {
	src := demoCopy(t)
	base := t.TempDir()
	staging, tmp := filepath.Join(base, "a"), filepath.Join(base, "_temp")
	for _, d := range []string{staging, tmp} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	// A docker in front of the real one records what `docker run` is given:
	// its arguments and its environment (-e NAME passes the variable from it).
	realDocker, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	wrapDir, runLog := t.TempDir(), filepath.Join(base, "docker-run.log")
	wrapper := "#!/bin/sh\nif [ \"$1\" = run ]; then { printf 'arg %s\\n' \"$@\"; env; } >> " + runLog + "; fi\nexec " + realDocker + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(wrapDir, "docker"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(repoRoot, "task/shim/index.js"))
	cmd.Env = []string{
		"PATH=" + wrapDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + base,
		"TF_BUILD=True", "SYSTEM_JOBID=job", "SYSTEM_JOBATTEMPT=1",
		"BUILD_SOURCESDIRECTORY=" + src, "BUILD_ARTIFACTSTAGINGDIRECTORY=" + staging, "AGENT_TEMPDIRECTORY=" + tmp,
		"SYSTEM_ACCESSTOKEN=never-passed",
		"INPUT_RUNNER=docker", "INPUT_IMAGE=" + tag, "INPUT_FAILON=critical", "INPUT_OFFLINE=true",
	}
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	sarif := filepath.Join(staging, "CodeAnalysisLogs", "tollgate-job-1.sarif")
	if code != 1 || !strings.Contains(text, "##vso[task.complete result=Failed]") ||
		!strings.Contains(text, "##vso[artifact.upload artifactname=CodeAnalysisLogs;containerfolder=CodeAnalysisLogs]"+sarif) {
		t.Errorf("runner docker: exit %d\n%s", code, text)
	}
	if _, err := os.Stat(sarif); err != nil {
		t.Errorf("the SARIF is not at the agent's path: %v", err)
	}
	seen, err := os.ReadFile(runLog)
	if err != nil || !strings.Contains(string(seen), "arg "+tag) {
		t.Fatalf("docker run was not recorded (%v):\n%s", err, seen)
	}
	if strings.Contains(string(seen), "never-passed") || strings.Contains(string(seen), "SYSTEM_ACCESSTOKEN") || strings.Contains(text, "never-passed") {
		t.Errorf("the access token reached docker run or the output:\n%s", seen)
	}
}

// TestImageFigures prints the figures the README quotes (size, compressed
// size, start-up) and holds the sizes to the README's bounds; start-up time
// is printed only (timing belongs to benchmarks).
func TestImageFigures(t *testing.T) {
	for _, c := range []struct {
		img              string
		maxMB, maxGzipMB int64
	}{{tag, 450, 160}, {staticTag, 200, 60}} {
		size := docker(t, "image", "inspect", "--format", "{{.Size}}", c.img)
		bytes, err := strconv.ParseInt(strings.TrimSpace(size.stdout), 10, 64)
		if err != nil {
			t.Fatalf("%s size %q: %v", c.img, size.stdout, err)
		}
		// docker save, gzipped in process: a failed save is an error here,
		// not the size of an empty stream (a shell pipe reports wc's status).
		save := exec.Command("docker", "save", c.img)
		var count countWriter
		gz, _ := gzip.NewWriterLevel(&count, 6)
		var stderr strings.Builder
		save.Stdout, save.Stderr = gz, &stderr
		if err := save.Run(); err != nil {
			t.Fatalf("docker save %s: %v\n%s", c.img, err, stderr.String())
		}
		if err := gz.Close(); err != nil {
			t.Fatal(err)
		}
		compressed := count.n
		if compressed < 1<<20 {
			t.Fatalf("docker save %s: %d bytes compressed, not an image", c.img, compressed)
		}
		if bytes > c.maxMB<<20 || compressed > c.maxGzipMB<<20 || compressed >= bytes {
			t.Errorf("%s: %d MiB (%d MiB compressed); want at most %d MiB (%d MiB)", c.img, bytes>>20, compressed>>20, c.maxMB, c.maxGzipMB)
		}
		start := time.Now()
		for range 5 {
			if r := docker(t, "run", "--rm", "--network", "none", c.img, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "tollgate ") {
				t.Fatalf("%s version: exit %d %s", c.img, r.code, r.stderr)
			}
		}
		t.Logf("%s: %d bytes, %d bytes compressed (docker save | gzip), `docker run ... version` %s average",
			c.img, bytes, compressed, (time.Since(start) / 5).Round(time.Millisecond))
	}
}

// hostBinary is tollgate built on this machine, for comparing the image's
// results with.
var hostBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tollgate-host-")
	if err != nil {
		return "", err
	}
	return tollgatebin.Path(context.Background(), repoRoot, dir)
})

// hostScan scans src with the host binary and returns its SARIF path.
func hostScan(t *testing.T, src string) string {
	t.Helper()
	bin, err := hostBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "host.sarif")
	cmd := exec.Command(bin, "scan", "--sarif", p, src)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("host scan: %v\n%s", err, out)
		}
	}
	return p
}

// sarifResults lists "tool rule uri:line" for every result of a log, sorted.
func sarifResults(t *testing.T, path string) []string {
	t.Helper()
	results, err := sarifcheck.Results(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range results {
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}

// validate checks a log the image wrote with the Multitool and the schema.
func validate(t *testing.T, path string) {
	t.Helper()
	sarifcheck.Check(t, path, "Sarif;Gh;Ado")
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
