package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	stdlog "log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tollgate/tollgate/scanners/images/imagetest"
	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

// readmeCommands are the command lines of the README's sh blocks (a
// trailing comment cut, continued lines joined), in order.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	var cont strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```sh":
			in = true
			continue
		case strings.HasPrefix(line, "```"):
			in = false
			continue
		case !in:
			continue
		}
		if cut := regexp.MustCompile(`\s+#\s.*$`).ReplaceAllString(line, ""); !strings.HasPrefix(strings.TrimSpace(line), "#") {
			line = cut
		} else {
			continue // a comment line
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		cont.WriteString(line)
		out = append(out, strings.Join(strings.Fields(cont.String()), " "))
		cont.Reset()
	}
	return out
}

// readmeSandbox is where the README's commands run: `tollgate` on PATH is
// the binary under test; the vulnerability DB and the images come from a
// registry served on 127.0.0.1 (named by the same variables a user sets),
// the docker daemon is absent.
type readmeSandbox struct {
	env      []string
	host     string // the loopback registry
	dbCache  string // a cache with the fixture DB already on disk
	emptyDir string
}

func newReadmeSandbox(t *testing.T) *readmeSandbox {
	t.Helper()
	bin := t.TempDir()
	must(t, os.Symlink(binary, filepath.Join(bin, "tollgate")))
	srv := httptest.NewServer(registry.New(registry.Logger(stdlog.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(ref string, img v1.Image) {
		tag, err := name.NewTag(ref)
		must(t, err)
		must(t, remote.Write(tag, img))
	}
	src := t.TempDir()
	content := vulndbtest.Default().With(vulndbtest.Dependencies())
	art, err := vulndbtest.WriteArtifact(src, content)
	must(t, err)
	push(host+"/aquasec/trivy-db:2", art)
	must(t, vulndbtest.WriteJava(src, []vulndbtest.JavaIndex{{GroupID: "org.example", ArtifactID: "lib", Version: "1.0", SHA1: []byte{1, 2, 3}}}))
	javaArt, err := vulndbtest.JavaArtifact(vulndb.JavaDir(src))
	must(t, err)
	push(host+"/aquasec/trivy-java-db:1", javaArt)
	alpine, err := imagetest.Alpine()
	must(t, err)
	for _, ref := range []string{"myapp:ci", "web:1.4.2", "base:3.18"} {
		push(host+"/"+ref, alpine)
	}
	dbCache := t.TempDir()
	must(t, vulndbtest.Write(vulndb.Dir(dbCache), content))
	return &readmeSandbox{host: host, dbCache: dbCache, emptyDir: t.TempDir(), env: []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TOLLGATE_DB_REPOSITORY=" + host + "/aquasec/trivy-db:2",
		"TOLLGATE_JAVA_DB_REPOSITORY=" + host + "/aquasec/trivy-java-db:1",
		"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "no-docker.sock"),
	}}
}

// sh runs a README line with sh in dir, with extra variables.
func (s *readmeSandbox) sh(t *testing.T, dir, line string, env ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(s.env), env...)
	return runCommand(t, cmd)
}

// readmeCase is how a README command line is run and what the README says
// it does; elsewhere names the test (or CI step) that runs a line this
// test cannot (docker run of the published image, the CI script itself).
type readmeCase struct {
	elsewhere string
	run       func(t *testing.T, s *readmeSandbox, line string)
}

// expect asserts the exit code and that each text is in stdout or stderr.
func expect(t *testing.T, line string, r runResult, code int, texts ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit %d, want %d\n%s%s", line, r.code, code, tailOf(r.stdout), tailOf(r.stderr))
	}
	for _, want := range texts {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("%s: the output lacks %q\n%s%s", line, want, tailOf(r.stdout), tailOf(r.stderr))
		}
	}
}

// synopsis: a line of the command summary (placeholders in capitals) is a
// command that exists: its --help succeeds and tollgate help lists it.
func synopsis(t *testing.T, s *readmeSandbox, line string) {
	words := strings.Fields(line)
	cmd := []string{words[1]}
	if words[1] == "db" {
		cmd = append(cmd, words[2])
	}
	expect(t, line, s.sh(t, s.emptyDir, "tollgate "+strings.Join(cmd, " ")+" --help"), 0)
	switch cmd[0] {
	case "db":
		expect(t, line, s.sh(t, s.emptyDir, "tollgate db info --help"), 0)
	case "task":
		// Its inputs are INPUT_* variables: an argument is refused, not
		// ignored (the scan would run on the working directory).
		expect(t, line, s.sh(t, s.emptyDir, "tollgate task --sarif x"), 2, "task takes no arguments")
	}
	expect(t, line, s.sh(t, s.emptyDir, "tollgate help"), 0, "tollgate "+cmd[0])
}

// emptyCheckout is a checkout with nothing to find, for the image lines.
func emptyCheckout(t *testing.T) string {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("# app\n"), 0o644))
	return dir
}

// readmeCases covers every command line of the README's sh blocks.
var readmeCases = map[string]readmeCase{
	"GOEXPERIMENT=jsonv2 go run -tags gore2regex ./cmd/tollgate scan --sarif demo.sarif testdata/demo": {run: func(t *testing.T, s *readmeSandbox, line string) {
		// The README's first command, where the README runs it: the module's
		// root (demo.sarif is ignored by git there, and removed after).
		root, err := filepath.Abs("../..")
		must(t, err)
		out := filepath.Join(root, "demo.sarif")
		t.Cleanup(func() { _ = os.Remove(out) })
		r := s.sh(t, root, line, "GOCACHE="+goEnv(t, "GOCACHE"), "GOMODCACHE="+goEnv(t, "GOMODCACHE"), "GOFLAGS="+os.Getenv("GOFLAGS"), "CGO_ENABLED=0", "GOPROXY=off", "TOLLGATE_CACHE_DIR="+t.TempDir())
		expect(t, line, r, 1, "FAIL")
		validateSARIF(t, out, "Sarif;Gh;Ado")
	}},
	"bash .ci/run": {elsewhere: "CI runs it on a clean clone; ci_test.go checks it installs every command the tests call"},

	"tollgate scan [flags] [PATH]":                                {run: synopsis},
	"tollgate baseline FILE [flags] [PATH]":                       {run: synopsis},
	"tollgate scan --shard K/N [flags] [PATH]":                    {run: synopsis},
	"tollgate merge --sarif OUT [flags] SHARD.sarif...":           {run: synopsis},
	"tollgate explain ID":                                         {run: synopsis},
	"tollgate task":                                               {run: synopsis},
	"tollgate db download | db info":                              {run: synopsis},
	"tollgate version":                                            {run: synopsis},
	"tollgate help":                                               {run: synopsis},
	"tollgate scan --scanners secrets,iac,image .":                {run: referencedImages},
	"tollgate scan --image myapp:ci .":                            {run: imageLine},
	"tollgate scan --image registry:myacr.azurecr.io/web:1.4.2 .": {run: imageLine},
	"tollgate scan --image docker-archive:web.tar --image oci-layout:out/oci .": {run: func(t *testing.T, s *readmeSandbox, line string) {
		dir := emptyCheckout(t)
		img, err := imagetest.Alpine()
		must(t, err)
		must(t, imagetest.WriteDockerArchive(filepath.Join(dir, "web.tar"), "web:ci", img))
		must(t, imagetest.WriteOCILayout(filepath.Join(dir, "out", "oci"), img))
		r := s.sh(t, dir, line, "TOLLGATE_CACHE_DIR="+s.dbCache)
		expect(t, line, r, 1, "web:ci busybox@1.36.1-r2", "oci busybox@1.36.1-r2") // both images
	}},

	"tollgate db download": {run: func(t *testing.T, s *readmeSandbox, line string) {
		cache := t.TempDir()
		expect(t, line, s.sh(t, s.emptyDir, line, "TOLLGATE_CACHE_DIR="+cache), 0, "vulnerability DB updated", "Java DB updated")
		// The next lines of the block, with the DB just downloaded.
		dir := filepath.Join(t.TempDir(), "web")
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(npmLock("4.17.20", "1.2.6")), 0o644))
		r := s.sh(t, dir, "tollgate scan .", "TOLLGATE_CACHE_DIR="+cache)
		expect(t, "tollgate scan . (after db download)", r, 1, vulndbtest.NpmLodash)
	}},
	"tollgate scan .": {run: func(t *testing.T, s *readmeSandbox, line string) {
		dir := filepath.Join(t.TempDir(), "web")
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(npmLock("4.17.20", "1.2.6")), 0o644))
		// The deps engine runs by default when the DB is on disk, not
		// otherwise.
		expect(t, line, s.sh(t, dir, line, "TOLLGATE_CACHE_DIR="+s.dbCache), 1, vulndbtest.NpmLodash, "deps")
		r := s.sh(t, dir, line, "TOLLGATE_CACHE_DIR="+t.TempDir(), "TOLLGATE_OFFLINE=true")
		if strings.Contains(r.stdout, vulndbtest.NpmLodash) {
			t.Errorf("%s without a DB found %s:\n%s", line, vulndbtest.NpmLodash, r.stdout)
		}
	}},
	"tollgate scan --scanners deps --sbom out/sbom .": {run: func(t *testing.T, s *readmeSandbox, line string) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(npmLock("4.17.20", "1.2.6")), 0o644))
		expect(t, line, s.sh(t, dir, line, "TOLLGATE_CACHE_DIR="+s.dbCache), 1, vulndbtest.NpmLodash)
		sboms, _ := filepath.Glob(filepath.Join(dir, "out", "sbom", "*.cdx.json"))
		if len(sboms) == 0 {
			t.Errorf("%s wrote no SBOM under out/sbom", line)
		}
	}},
	"tollgate scan --policy-from main .": {run: func(t *testing.T, s *readmeSandbox, line string) {
		// A pull request into main that pins a vulnerable minimist: that
		// one counts; lodash, vulnerable on main already, does not.
		src := depsPRRepo(t)
		dir := filepath.Join(t.TempDir(), "s")
		git(t, filepath.Dir(dir), "clone", "-q", "--no-single-branch", "--branch", "downgrade", "file://"+src, dir)
		r := s.sh(t, dir, line+" --format json --output "+filepath.Join(t.TempDir(), "r.json")+" --scanners deps", "TOLLGATE_CACHE_DIR="+s.dbCache)
		expect(t, line, r, 1)
		docs := filepath.Join(t.TempDir(), "s")
		git(t, filepath.Dir(docs), "clone", "-q", "--no-single-branch", "--branch", "docs", "file://"+src, docs)
		expect(t, line+" (a pull request that changes no dependency)", s.sh(t, docs, line+" --scanners deps", "TOLLGATE_CACHE_DIR="+s.dbCache), 0)
	}},

	"docker run --rm -v \"$PWD:/src\" ghcr.io/tollgate/tollgate:0.1.0 scan /src":                                                                                                  {elsewhere: "image/image_test.go TestDockerRunOnTheDemo runs the image built from this Dockerfile the same way (the published image cannot be pulled offline)"},
	"docker run --rm -v \"$PWD:/src\" tollgate:0.1.0 scan /src":                                                                                                                   {elsewhere: "image/image_test.go TestDockerRunOnTheDemo"},
	"docker run --rm -v \"$PWD:/src\" tollgate:0.1.0 scan --sarif /src/tollgate.sarif /src":                                                                                       {elsewhere: "image/image_test.go TestDockerRunOnTheDemo"},
	"docker run --rm --read-only --tmpfs /tmp --network none --cap-drop ALL -v \"$PWD:/src:ro\" -v \"$PWD/out:/out\" tollgate:0.1.0-static scan --sarif /out/tollgate.sarif /src": {elsewhere: "image/image_test.go TestOfflineImageScanWithTheBakedDB (read-only, no network, no capabilities, the tmpfs)"},
	"docker run --rm -v /var/run/docker.sock:/var/run/docker.sock --group-add \"$(stat -c %g /var/run/docker.sock)\" tollgate:0.1.0 scan --image docker:myapp:ci /tmp":            {elsewhere: "image/image_test.go TestDaemonImageThroughTheSocket"},

	"bash bench/run.sh": {elsewhere: "builds gitleaks and trivy from the module proxy (network): run by hand, figures in bench/RESULTS.md"},
	"bash bench/run.sh --runs 7 --sizes 1000,10000 --output /tmp/table.md":     {elsewhere: "as bash bench/run.sh"},
	"GOEXPERIMENT=jsonv2 go test -tags gore2regex -run '^$' -bench . ./bench/": {elsewhere: ".ci/run's benchmark smoke runs every benchmark of bench/ once"},
	"bash bench/compare-cold.sh OLD NEW TREE 5":                                {elsewhere: "two Tollgate builds by hand (placeholders)"},
}

// imageLine: an image the pipeline names is scanned from the registry
// (myapp:ci after the absent daemon); the registry of the README's example
// is the loopback registry here.
func imageLine(t *testing.T, s *readmeSandbox, line string) {
	run := strings.NewReplacer("myacr.azurecr.io", s.host, "myapp:ci", s.host+"/myapp:ci").Replace(line)
	r := s.sh(t, emptyCheckout(t), run, "TOLLGATE_CACHE_DIR="+s.dbCache)
	expect(t, line, r, 1, vulndbtest.AlpineBusybox)
}

// referencedImages: --scanners with image scans the images the checkout
// references (here a Dockerfile's FROM on the registry of the pipeline's
// choice).
func referencedImages(t *testing.T, s *readmeSandbox, line string) {
	dir := emptyCheckout(t)
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+s.host+"/base:3.18\nUSER 10001\nHEALTHCHECK CMD true\n"), 0o644))
	r := s.sh(t, dir, line, "TOLLGATE_CACHE_DIR="+s.dbCache, "TOLLGATE_DISCOVER_REGISTRY="+s.host)
	expect(t, line, r, 1, vulndbtest.AlpineBusybox)
}

// goEnv is a go env value of this machine, for a go command run with a
// sandbox's variables.
func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	must(t, err)
	return strings.TrimSpace(string(out))
}

// TestREADMECommands: every command line of the README's sh blocks, and the
// CLI shard recipe of "Parallel jobs", runs as written with `tollgate` on
// PATH (a registry on 127.0.0.1 stands in for the network, named by the
// variables a user sets; an example registry host is replaced by it), and
// what the README says it does is asserted. A line run elsewhere names the
// test that runs it. A command line the README gains without a case here
// fails the test, and so does a case whose line the README lost.
func TestREADMECommands(t *testing.T) {
	t.Parallel()
	lines := readmeCommands(t)
	for _, l := range lines {
		if _, ok := readmeCases[l]; !ok {
			t.Errorf("the README's command %q has no case in readmeCases", l)
		}
	}
	for l := range readmeCases {
		if !slices.Contains(lines, l) {
			t.Errorf("readmeCases has %q, which the README's sh blocks no longer hold", l)
		}
	}
	// A line run elsewhere names a test that exists.
	for l, c := range readmeCases {
		if m := regexp.MustCompile(`^(\S+_test\.go) (Test\w+)`).FindStringSubmatch(c.elsewhere); m != nil {
			src, err := os.ReadFile(filepath.Join("../..", m[1]))
			if err != nil || !bytes.Contains(src, []byte("func "+m[2]+"(")) {
				t.Errorf("%q: %s has no %s (%v)", l, m[1], m[2], err)
			}
		}
	}
	s := newReadmeSandbox(t)
	for _, l := range lines {
		c, ok := readmeCases[l]
		if !ok || c.run == nil {
			continue
		}
		t.Run(strings.ReplaceAll(l, "/", "_"), func(t *testing.T) {
			t.Parallel()
			c.run(t, s, l)
		})
	}
	t.Run("shard recipe", func(t *testing.T) {
		t.Parallel()
		readme, err := os.ReadFile("../../README.md")
		must(t, err)
		scanCmd, mergeCmd := "tollgate scan --shard 2/4 --sarif ../shards/shard-2.sarif .", "tollgate merge --sarif tollgate.sarif ../shards/shard-*.sarif"
		for _, c := range []string{scanCmd, mergeCmd} {
			if !bytes.Contains(readme, []byte("`"+c+"`")) {
				t.Fatalf("the README's shard recipe no longer says `%s`", c)
			}
		}
		work := t.TempDir()
		dir := filepath.Join(work, "repo")
		copyDir(t, demoDir(t), dir)
		for _, k := range []string{"1", "2", "3", "4"} {
			r := s.sh(t, dir, strings.ReplaceAll(scanCmd, "2", k))
			expect(t, "shard "+k, r, 0, "SHARD "+k+"/4")
		}
		r := s.sh(t, dir, mergeCmd)
		one := s.sh(t, dir, "tollgate scan --sarif ../one.sarif .")
		expect(t, mergeCmd, r, one.code)
		sameWithoutShard(t, "one scan and the README's shard recipe", filepath.Join(work, "one.sarif"), filepath.Join(dir, "tollgate.sarif"))
	})
}
