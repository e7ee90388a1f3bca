//go:build !windows

// The hostile repository is POSIX-shaped: FIFOs, unreadable modes, a scan
// run as nobody, getrusage.

package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/tollgate/tollgate/report"
)

// hostile is a repository built to break a scanner: what a pull request can
// put in a checkout. Nothing in it is committed; its fake secrets are
// generated per run.
type hostile struct {
	root    string
	secrets map[string]string // where -> planted value
	// mustFind are "engine rule path:line" results the scan must still report.
	mustFind []string
	// notes are substrings the SARIF notifications must contain.
	notes []string
	// unreadable is a file of mode 000.
	unreadable string
}

func fakeToken(r *rand.Rand) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 36)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return "ghp_" + string(b)
}

func buildHostile(t *testing.T, base string, proxy string) *hostile {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	h := &hostile{root: filepath.Join(base, "repo"), secrets: map[string]string{}}
	root := h.root
	must(t, os.MkdirAll(root, 0o755))
	copyDir(t, demoDir(t), root)
	h.mustFind = append(h.mustFind, "gitleaks github-pat app/settings.py:6", "trivy-config KSV-0017 k8s/deployment.yaml:17",
		"trivy-config AWS-0107 terraform/main.tf:33")
	plant := func(rel, before, after string, line int) {
		t.Helper()
		tok := fakeToken(r)
		h.secrets[rel] = tok
		write(t, filepath.Join(root, filepath.FromSlash(rel)), before+tok+after)
		if line > 0 {
			h.mustFind = append(h.mustFind, fmt.Sprintf("gitleaks github-pat %s:%d", report.PathURI(rel), line))
		}
	}

	// Symlinks: loops, out of the root, to /proc and /dev/zero.
	outside := filepath.Join(base, "outside")
	must(t, os.MkdirAll(outside, 0o755))
	write(t, filepath.Join(outside, "creds.txt"), "token = \""+fakeToken(r)+"\"\n")
	for name, target := range map[string]string{
		"links/out-dir": outside, "links/out-file": filepath.Join(outside, "creds.txt"),
		"links/loop-a": "loop-b", "links/loop-b": "loop-a", "links/self": ".",
		"links/proc-environ": "/proc/self/environ", "links/zero": "/dev/zero", "links/root": "/",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.Symlink(target, p))
	}
	h.notes = append(h.notes, "symlink links/out-dir points outside the scan root", "symlink links/proc-environ points outside the scan root",
		"symlink links/zero points outside the scan root", "symlink links/loop-a cannot be resolved")

	// A FIFO (a reader that opened it would block forever).
	must(t, os.MkdirAll(filepath.Join(root, "special"), 0o755))
	must(t, syscall.Mkfifo(filepath.Join(root, "special", "pipe.yaml"), 0o644))
	h.notes = append(h.notes, "special/pipe.yaml is a named pipe")

	// A 2 GB sparse file: over the size cap, never read.
	big, err := os.Create(filepath.Join(root, "special", "huge.log"))
	must(t, err)
	must(t, big.Truncate(2<<30))
	must(t, big.Close())
	h.notes = append(h.notes, "special/huge.log is 2.0 GiB, over the 50.0 MiB file size limit")

	// A 1 MB single line with a secret in the middle.
	filler := strings.Repeat("var a=function(b){return b+1};", 512<<10/30)
	plant("min/bundle.min.js", filler+"var t=\"", "\";"+filler, 1)

	// Binary blobs and broken encodings.
	blob := make([]byte, 256<<10)
	for i := range blob {
		blob[i] = byte(r.Uint32())
	}
	must(t, os.WriteFile(filepath.Join(root, "special", "blob.bin"), blob, 0o644))
	plant("enc/latin1.txt", "\xff\xfe\xfa broken \x80\x81 text\nTOKEN=", "\n", 2)
	// A token in a UTF-16 file is found (gitleaks decodes UTF-16) and
	// redacted like any other.
	u16tok := fakeToken(r)
	h.secrets["enc/utf16.txt"] = u16tok
	h.mustFind = append(h.mustFind, "gitleaks github-pat enc/utf16.txt")
	u16 := utf16.Encode([]rune("password = \"" + u16tok + "\"\n"))
	var b16 bytes.Buffer
	b16.Write([]byte{0xff, 0xfe})
	for _, u := range u16 {
		b16.Write([]byte{byte(u), byte(u >> 8)})
	}
	must(t, os.WriteFile(filepath.Join(root, "enc", "utf16.txt"), b16.Bytes(), 0o644))

	// 500 levels of directories: a secret at level 100 is found, one at
	// level 300 is beyond --max-depth 128 and reported as not scanned.
	deep := ""
	for i := 1; i <= 500; i++ {
		deep += "d/"
		switch i {
		case 100:
			plant(deep+"found.env", "TOKEN=", "\n", 1)
		case 300:
			plant(deep+"beyond.env", "TOKEN=", "\n", 0)
		}
	}
	must(t, os.MkdirAll(filepath.Join(root, filepath.FromSlash(deep)), 0o755))
	h.notes = append(h.notes, "is nested deeper than 128 levels; not scanned")

	// 100,000 empty files.
	for i := range 100_000 {
		dir := filepath.Join(root, "empty", fmt.Sprintf("%03d", i/1000))
		if i%1000 == 0 {
			must(t, os.MkdirAll(dir, 0o755))
		}
		ext := ".txt"
		if i%100 == 0 {
			ext = ".yaml"
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%05d%s", i, ext)))
		must(t, err)
		must(t, f.Close())
	}

	// File names an agent or a terminal would act on.
	for _, name := range []string{"names/new\nline.env", "names/semi;colon].env", "names/per%cent%0A.env",
		"names/##vso[task.setvariable variable=PWNED]1.env", "names/##[error]fake.env"} {
		plant(name, "TOKEN=", " ##vso[task.complete result=Succeeded]\n", 1)
	}

	// Archives: a secret in a zip and in a tar (read with
	// --secrets-archive-depth), and a zip bomb: 2 GiB of zeros in ~2 MB,
	// more than the 1.5 GiB the scan's peak RSS is allowed, so a scan that
	// inflated it into memory would fail the bound.
	must(t, os.MkdirAll(filepath.Join(root, "archives"), 0o755))
	zipTok, tarTok := fakeToken(r), fakeToken(r)
	h.secrets["archives/bundle.zip"], h.secrets["archives/bundle.tar"] = zipTok, tarTok
	writeZip(t, filepath.Join(root, "archives", "bundle.zip"), map[string]io.Reader{"config/.env": strings.NewReader("TOKEN=" + zipTok + "\n")})
	writeTar(t, filepath.Join(root, "archives", "bundle.tar"), "deploy/.env", "TOKEN="+tarTok+"\n")
	writeZip(t, filepath.Join(root, "archives", "bomb.zip"), map[string]io.Reader{"zeros.bin": io.LimitReader(zeroReader{}, 2<<30)})

	// Malformed IaC next to good IaC.
	write(t, filepath.Join(root, "broken/bad.tf"), "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \n")
	write(t, filepath.Join(root, "broken/bad.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: [x\n")
	write(t, filepath.Join(root, "broken/azuredeploy.json"), "{\"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\", \"resources\": [\n")
	write(t, filepath.Join(root, "broken/package.json"), "{\"name\": \"x\", \"version\": \n")
	h.notes = append(h.notes, "broken/bad.tf could not be parsed", "broken/bad.yaml could not be parsed", "broken/azuredeploy.json could not be parsed")

	// A YAML alias bomb ("billion laughs").
	var bomb strings.Builder
	bomb.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		fmt.Fprintf(&bomb, "  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	write(t, filepath.Join(root, "k8s", "bomb.yaml"), bomb.String())
	h.notes = append(h.notes, "k8s/bomb.yaml")

	// A Helm chart whose template fails, next to one that renders.
	copyDir(t, filepath.Join("..", "..", "scanners", "iac", "testdata", "parity", "helm", "webapp"), filepath.Join(root, "charts", "webapp"))
	write(t, filepath.Join(root, "charts/broken/Chart.yaml"), "apiVersion: v2\nname: broken\nversion: 0.1.0\n")
	write(t, filepath.Join(root, "charts/broken/values.yaml"), "replicas: 1\n")
	write(t, filepath.Join(root, "charts/broken/templates/deploy.yaml"), "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ required \"a name is required\" .Values.name }}\n")
	h.mustFind = append(h.mustFind, "trivy-config KSV-0017 charts/webapp/templates/deployment.yaml")
	h.notes = append(h.notes, "charts/broken")

	// Terraform modules from remote sources: never fetched.
	write(t, filepath.Join(root, "remote/main.tf"), fmt.Sprintf(`module "git" {
  source = "git::%[1]s/modules/net.git?ref=v1"
}
module "http" {
  source = "%[1]s/modules/vpc.zip"
}
module "registry" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.0.0"
}
module "local" {
  source = "./local"
}
`, proxy))
	write(t, filepath.Join(root, "remote/local/main.tf"), "resource \"aws_s3_bucket\" \"local\" {\n  bucket = \"x\"\n}\n")
	h.notes = append(h.notes, `module "git" in remote/main.tf:1 has a remote source`, `module "registry" in remote/main.tf:7 has a remote source`)

	// A file the scanner cannot read (only meaningful when not root).
	write(t, filepath.Join(root, "secret-perm/locked.env"), "TOKEN="+fakeToken(r)+"\n")
	must(t, os.Chmod(filepath.Join(root, "secret-perm/locked.env"), 0o000))
	h.unreadable = "secret-perm/locked.env"
	return h
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func writeZip(t *testing.T, path string, files map[string]io.Reader) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	zw := zip.NewWriter(f)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	for name, r := range files {
		w, err := zw.Create(name)
		must(t, err)
		_, err = io.Copy(w, r)
		must(t, err)
	}
	must(t, zw.Close())
	must(t, f.Close())
}

func writeTar(t *testing.T, path, name, content string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}))
	_, err := tw.Write([]byte(content))
	must(t, err)
	must(t, tw.Close())
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

// asScanner runs cmd as an unprivileged user (nobody) when the tests run
// as root, so that a file of mode 000 is really unreadable.
func asScanner(cmd *exec.Cmd) {
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
}

func TestHostileRepository(t *testing.T) {
	t.Parallel()
	// Anything the scan tries to fetch lands here (as its proxy, and as the
	// modules' own host): it must stay at zero.
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()

	base, err := os.MkdirTemp("", "tollgate-hostile-")
	must(t, err)
	t.Cleanup(func() {
		_ = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				_ = os.Chmod(p, 0o644)
			}
			return nil
		})
		_ = os.RemoveAll(base)
	})
	must(t, os.Chmod(base, 0o755))
	h := buildHostile(t, base, srv.URL)

	out := filepath.Join(base, "out")
	must(t, os.MkdirAll(out, 0o777))
	must(t, os.Chmod(out, 0o777))
	bin := filepath.Join(base, "tollgate")
	copyFile(t, binary, bin)
	must(t, os.Chmod(bin, 0o755))

	sarifPath := filepath.Join(out, "hostile.sarif")
	jsonPath := filepath.Join(out, "hostile.json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "scan", "--scanners", "secrets,iac", "--secrets-archive-depth", "2", "--timeout", "8m",
		"--sarif", sarifPath, "--format", "json", "--output", jsonPath, "--debug", h.root)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + out, "HTTP_PROXY=" + srv.URL, "HTTPS_PROXY=" + srv.URL, "TF_BUILD=True"}
	asScanner(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("the scan did not complete: %v\n%s", err, tailOf(stderr.String()))
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1 (findings, every engine complete)\n%s\n%s", code, tailOf(stdout.String()), tailOf(stderr.String()))
	}
	// Bounded memory: nothing was inflated or read whole.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 1536<<10 {
		t.Errorf("peak RSS %d MiB, want under 1.5 GiB", ru.Maxrss>>10)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the scan made %d network request(s)", n)
	}

	log, raw := readSARIF(t, sarifPath)
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
	got := log.where()
	for _, want := range h.mustFind {
		found := got[want]
		for w := range got {
			found = found || (!strings.Contains(want, ":") && strings.HasPrefix(w, want+":"))
		}
		if !found {
			t.Errorf("missing %q", want)
		}
	}
	for w := range got {
		if strings.Contains(w, "links/") || strings.Contains(w, "beyond.env") || strings.Contains(w, "locked.env") {
			t.Errorf("a result that must not exist: %s", w)
		}
	}
	archiveHits := 0
	for w := range got {
		if strings.Contains(w, "archives/bundle.zip") || strings.Contains(w, "archives/bundle.tar") {
			archiveHits++
		}
	}
	if archiveHits != 2 {
		t.Errorf("%d secrets found in the archives, want 2: %v", archiveHits, got)
	}
	notes := strings.Join(log.notifications(), "\n")
	// The scan runs unprivileged (see asScanner): mode 000 is unreadable.
	h.notes = append(h.notes, "cannot read "+h.unreadable)
	for _, want := range h.notes {
		if !strings.Contains(notes, want) {
			t.Errorf("no notification containing %q", want)
		}
	}
	if t.Failed() {
		t.Logf("notifications:\n%s", notes)
	}

	// No secret in any output, no agent command from the input on stdout.
	jsonOut, err := os.ReadFile(jsonPath)
	must(t, err)
	for name, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "SARIF": string(raw), "JSON": string(jsonOut)} {
		for where, v := range h.secrets {
			if strings.Contains(text, v) {
				t.Errorf("%s carries the secret planted in %s", name, where)
			}
		}
	}
	for i, line := range strings.Split(stdout.String(), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "##vso[") || strings.Contains(l, "##[") {
			t.Errorf("stdout line %d carries an agent command: %q", i+1, line)
		}
	}
}
