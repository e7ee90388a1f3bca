package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

// cacheStats reads each engine's tollgate/resultCache run property.
func cacheStats(t *testing.T, path string) map[string][2]int {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	var log struct {
		Runs []struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"runs"`
	}
	must(t, json.Unmarshal(b, &log))
	out := map[string][2]int{}
	for _, r := range log.Runs {
		var engine string
		_ = json.Unmarshal(r.Properties["tollgate/engine"], &engine)
		var c struct{ Units, FromCache int }
		if raw, ok := r.Properties["tollgate/resultCache"]; ok {
			must(t, json.Unmarshal(raw, &c))
			out[engine] = [2]int{c.FromCache, c.Units}
		}
	}
	return out
}

var (
	sarifTimes      = regexp.MustCompile(`"(start|end)TimeUtc": "[^"]*"`)
	sarifCacheStats = regexp.MustCompile(`\s*"tollgate/resultCache": \{[^}]*\},`)
)

// sameSARIF compares two logs byte for byte, timestamps and the result
// cache's counts aside.
func sameSARIF(t *testing.T, what, a, b string) {
	t.Helper()
	ra, err := os.ReadFile(a)
	must(t, err)
	rb, err := os.ReadFile(b)
	must(t, err)
	clean := func(x []byte) []byte { return sarifCacheStats.ReplaceAll(sarifTimes.ReplaceAll(x, nil), nil) }
	ca, cb := clean(ra), clean(rb)
	if !bytes.Equal(ca, cb) {
		la, lb := strings.Split(string(ca), "\n"), strings.Split(string(cb), "\n")
		for i := 0; i < len(la) && i < len(lb); i++ {
			if la[i] != lb[i] {
				t.Fatalf("%s: the logs differ from line %d:\n%s\n%s", what, i+1, la[i], lb[i])
			}
		}
		t.Fatalf("%s: the logs differ in length: %d and %d lines", what, len(la), len(lb))
	}
}

// comparisonTrees are the trees a scan is compared on: the demo, both
// parity fixtures and a generated 1,000-file tree.
func comparisonTrees(t *testing.T) map[string]string {
	t.Helper()
	big := t.TempDir()
	genTree(t, big, 1000)
	return map[string]string{
		"demo":           demoDir(t),
		"iac parity":     "../../scanners/iac/testdata/parity",
		"secrets parity": "../../scanners/secrets/testdata/parity",
		"1k tree":        big,
	}
}

// scanTo runs a scan of dir into a SARIF log and returns its path.
func scanTo(t *testing.T, dir, out string, args ...string) string {
	t.Helper()
	r := tollgate(t, nil, append([]string{"scan", "-q", "--offline", "--scanners", "secrets,iac", "--sarif", out}, append(args, dir)...)...)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("scan of %s: exit %d\n%s", dir, r.code, r.stderr)
	}
	return out
}

// genTree writes a tree of n files like a repository's: source files,
// some with credentials, Kubernetes manifests, Dockerfiles and Terraform
// module trees (each a root module calling two local modules).
func genTree(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		var p, body string
		switch {
		case i%50 == 0:
			tree := i / 50
			p = fmt.Sprintf("infra/stack%02d/main.tf", tree)
			body = fmt.Sprintf(`module "net" {
  source = "../../modules/net%02d"
}
module "store" {
  source = "./store"
}
resource "azurerm_storage_account" "logs%d" {
  name                     = "logs%d"
  resource_group_name      = "rg"
  location                 = "westeurope"
  account_tier             = "Standard"
  account_replication_type = "LRS"
  min_tls_version          = "TLS1_0"
}
`, tree, i, i)
			write(t, filepath.Join(dir, fmt.Sprintf("infra/stack%02d/store/main.tf", tree)), fmt.Sprintf(`resource "aws_s3_bucket" "b%d" {
  bucket = "bucket-%d"
}
`, i, i))
			write(t, filepath.Join(dir, fmt.Sprintf("modules/net%02d/main.tf", tree)), fmt.Sprintf(`resource "aws_security_group_rule" "ssh%d" {
  type        = "ingress"
  from_port   = 22
  to_port     = 22
  protocol    = "tcp"
  cidr_blocks = ["0.0.0.0/0"]
  security_group_id = "sg-%d"
}
`, i, i))
		case i%7 == 0:
			p = fmt.Sprintf("deploy/app%04d.yaml", i)
			body = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app%d
spec:
  template:
    spec:
      containers:
        - name: app
          image: example.azurecr.io/app:%d
          securityContext:
            privileged: true
`, i, i)
		case i%13 == 0:
			p = fmt.Sprintf("svc/s%04d/Dockerfile", i)
			body = fmt.Sprintf("FROM alpine:3.%d\nRUN apk add curl\nUSER root\n", i%20)
		case i%11 == 0:
			p = fmt.Sprintf("src/config%04d.env", i)
			body = fmt.Sprintf("DB_HOST=db%d.internal\nDB_PASSWORD=Zq8Rt2Lm9Vw4Zp7K%04dd3Sf6Hj1\nAWS_KEY=AKIAQ7RW3LMZK2X%05d\n", i, i, i)
		default:
			p = fmt.Sprintf("src/pkg%02d/file%04d.go", i%40, i)
			body = fmt.Sprintf("package pkg%02d\n\n// F%d is generated.\nfunc F%d() int { return %d }\n", i%40, i, i, i)
		}
		write(t, filepath.Join(dir, p), body)
	}
}

// TestResultCacheWarmEqualsCold: a scan that takes its results from the
// cache writes the SARIF log a scan without the cache writes, byte for
// byte (timestamps and the cache's counts aside), on the demo, the parity
// fixtures of both engines and a generated 1,000-file tree; every unit of
// an unchanged tree comes from the cache; a changed file is scanned again,
// alone, and so is the Terraform tree a changed module belongs to.
func TestResultCacheWarmEqualsCold(t *testing.T) {
	t.Parallel()
	trees := comparisonTrees(t)
	big := trees["1k tree"]
	for name, dir := range trees {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, cacheDir := t.TempDir(), t.TempDir()
			cold := scanTo(t, dir, filepath.Join(out, "cold.sarif"), "--no-result-cache")
			if st := cacheStats(t, cold); len(st) != 0 {
				t.Errorf("--no-result-cache: the log has cache counts %v", st)
			}
			first := scanTo(t, dir, filepath.Join(out, "first.sarif"), "--cache-dir", cacheDir)
			warm := scanTo(t, dir, filepath.Join(out, "warm.sarif"), "--cache-dir", cacheDir)
			sameSARIF(t, "cold and first", cold, first)
			sameSARIF(t, "cold and warm", cold, warm)
			validateSARIF(t, warm, "Sarif;Gh;Ado") // with its cache counts
			for engine, c := range cacheStats(t, first) {
				if c[0] != 0 || c[1] == 0 {
					t.Errorf("first scan, %s: %d of %d units from the cache, want 0 of some", engine, c[0], c[1])
				}
			}
			st := cacheStats(t, warm)
			if len(st) != 2 {
				t.Fatalf("warm scan: cache counts of %d engines, want 2: %v", len(st), st)
			}
			for engine, c := range st {
				if c[0] != c[1] || c[1] == 0 {
					t.Errorf("warm scan, %s: %d of %d units from the cache, want all", engine, c[0], c[1])
				}
			}
			// The counts are the store's: the first scan wrote an entry per
			// engine, and without them the same scan takes nothing from the
			// cache (and still writes the same log).
			entries, _ := filepath.Glob(filepath.Join(cacheDir, "results", "*", "*.entry"))
			if len(entries) < len(st) {
				t.Fatalf("the cache holds %d entries after two scans, want one per engine (%d)", len(entries), len(st))
			}
			if name != "demo" {
				return
			}
			for _, e := range entries {
				must(t, os.Remove(e))
			}
			emptied := scanTo(t, dir, filepath.Join(out, "emptied.sarif"), "--cache-dir", cacheDir)
			sameSARIF(t, "cold and emptied", cold, emptied)
			for engine, c := range cacheStats(t, emptied) {
				if c[0] != 0 {
					t.Errorf("scan after the entries were removed, %s: %d of %d units from the cache, want 0", engine, c[0], c[1])
				}
			}
		})
	}

	t.Run("a changed file", func(t *testing.T) {
		dir, out, cacheDir := t.TempDir(), t.TempDir(), t.TempDir()
		genTree(t, dir, 1000)
		scanTo(t, dir, filepath.Join(out, "first.sarif"), "--cache-dir", cacheDir)
		before := cacheStats(t, filepath.Join(out, "first.sarif"))

		// A new credential in one source file, a new misconfiguration in
		// one module of one Terraform tree (of 20).
		f := filepath.Join(dir, "src/pkg01/file0001.go")
		b, err := os.ReadFile(f)
		must(t, err)
		must(t, os.WriteFile(f, append(b, []byte("\nconst token = \"ghp_R8fT2vLq9XwZ4mN7pK3sD6hJ1cB5yA0eUi2o\"\n")...), 0o644))
		tf := filepath.Join(dir, "modules/net03/main.tf")
		b, err = os.ReadFile(tf)
		must(t, err)
		must(t, os.WriteFile(tf, append(b, []byte("resource \"aws_s3_bucket\" \"open\" {\n  bucket = \"open\"\n  acl    = \"public-read\"\n}\n")...), 0o644))

		warm := scanTo(t, dir, filepath.Join(out, "warm.sarif"), "--cache-dir", cacheDir)
		cold := scanTo(t, dir, filepath.Join(out, "cold.sarif"), "--no-result-cache")
		sameSARIF(t, "cold and warm after a change", cold, warm)
		st := cacheStats(t, warm)
		if got, want := st["secrets"], [2]int{before["secrets"][1] - 2, before["secrets"][1]}; got != want {
			t.Errorf("secrets: %d of %d files from the cache, want %d of %d (the two changed files scanned again)", got[0], got[1], want[0], want[1])
		}
		if got, want := st["iac"], [2]int{before["iac"][1] - 1, before["iac"][1]}; got != want {
			t.Errorf("iac: %d of %d units from the cache, want %d of %d (one Terraform tree scanned again)", got[0], got[1], want[0], want[1])
		}
		if !strings.Contains(string(mustRead(t, warm)), "src/pkg01/file0001.go") {
			t.Error("the new credential is not in the warm scan's log")
		}
	})

	t.Run("two scans share one cache", func(t *testing.T) {
		out, cacheDir := t.TempDir(), t.TempDir()
		cold := scanTo(t, big, filepath.Join(out, "cold.sarif"), "--no-result-cache")
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				scanTo(t, big, filepath.Join(out, fmt.Sprintf("shared%d.sarif", i)), "--cache-dir", cacheDir)
			})
		}
		wg.Wait()
		for i := range 3 {
			sameSARIF(t, fmt.Sprintf("cold and shared scan %d", i), cold, filepath.Join(out, fmt.Sprintf("shared%d.sarif", i)))
		}
	})

	t.Run("damaged entries are misses", func(t *testing.T) {
		out, cacheDir := t.TempDir(), t.TempDir()
		cold := scanTo(t, demoDir(t), filepath.Join(out, "cold.sarif"), "--no-result-cache")
		scanTo(t, demoDir(t), filepath.Join(out, "first.sarif"), "--cache-dir", cacheDir)
		damaged := 0
		must(t, filepath.Walk(filepath.Join(cacheDir, "results"), func(p string, fi os.FileInfo, err error) error {
			if err != nil || !strings.HasSuffix(p, ".entry") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			switch damaged % 2 {
			case 0:
				b[len(b)-1] ^= 0xff // a flipped byte
			case 1:
				b = b[:len(b)/2] // truncated
			}
			damaged++
			return os.WriteFile(p, b, 0o600)
		}))
		if damaged < 2 {
			t.Fatalf("%d entries damaged, want one per engine", damaged)
		}
		again := scanTo(t, demoDir(t), filepath.Join(out, "again.sarif"), "--cache-dir", cacheDir)
		sameSARIF(t, "cold and after damage", cold, again)
		for engine, c := range cacheStats(t, again) {
			if c[0] != 0 {
				t.Errorf("%s: %d units from a damaged cache", engine, c[0])
			}
		}
	})

	t.Run("a cache inside the checkout is not used", func(t *testing.T) {
		// Inside the scan root, and inside the repository but outside the
		// scan root (a pull request can commit a cache folder anywhere in
		// its checkout, with entries that say its files have no findings).
		repo, out := t.TempDir(), t.TempDir()
		git(t, repo, "init", "-q", "-b", "main")
		dir := filepath.Join(repo, "app")
		copyDir(t, demoDir(t), dir)
		for _, inside := range []string{filepath.Join(dir, ".cache"), filepath.Join(repo, ".tollgate-cache")} {
			r := tollgate(t, nil, "scan", "--offline", "--scanners", "secrets,iac", "--cache-dir", inside, "--sarif", filepath.Join(out, "a.sarif"), dir)
			if r.code != 1 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(inside, "results")); err == nil {
				t.Errorf("results were written to a cache inside the checkout: %s", inside)
			}
			if !strings.Contains(r.stderr, "is inside the checkout") {
				t.Errorf("%s: no warning that the cache is not used:\n%s", inside, r.stderr)
			}
			if st := cacheStats(t, filepath.Join(out, "a.sarif")); len(st) != 0 {
				t.Errorf("%s: cache counts %v for a cache that was not used", inside, st)
			}
		}
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}

// TestResultCacheImages: an image is a unit, by its ID and the DB: the
// warm scan's log is the cold scan's, and a new DB is a miss.
func TestResultCacheImages(t *testing.T) {
	t.Parallel()
	cacheDir, archive := imageFixtures(t)
	out, empty := t.TempDir(), t.TempDir()
	scan := func(name string, args ...string) string {
		p := filepath.Join(out, name)
		r := tollgate(t, nil, append([]string{"scan", "-q", "--scanners", "image", "--image", "docker-archive:" + archive,
			"--cache-dir", cacheDir, "--offline", "--fail-on", "none", "--sarif", p}, append(args, empty)...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", name, r.code, r.stderr)
		}
		return p
	}
	cold := scan("cold.sarif", "--no-result-cache")
	first := scan("first.sarif")
	warm := scan("warm.sarif")
	sameSARIF(t, "cold and first", cold, first)
	sameSARIF(t, "cold and warm", cold, warm)
	if !bytes.Contains(mustRead(t, warm), []byte("CVE-2099-0003")) {
		t.Fatal("the warm scan lost the image's vulnerabilities")
	}
	if got := cacheStats(t, first)["image"]; got != [2]int{0, 1} {
		t.Errorf("first scan: %d of %d images from the cache, want 0 of 1", got[0], got[1])
	}
	if got := cacheStats(t, warm)["image"]; got != [2]int{1, 1} {
		t.Errorf("warm scan: %d of %d images from the cache, want 1 of 1", got[0], got[1])
	}
	// A newer DB: the image is matched again.
	must(t, vulndbtest.Write(vulndb.Dir(cacheDir), vulndbtest.Default()))
	if got := cacheStats(t, scan("newdb.sarif"))["image"]; got != [2]int{0, 1} {
		t.Errorf("after a DB update: %d of %d images from the cache, want 0 of 1", got[0], got[1])
	}
}
