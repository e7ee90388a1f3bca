package deps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	trivylog "github.com/aquasecurity/trivy/pkg/log"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/deps"
	"github.com/tollgate/tollgate/scanners/images"
	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

func TestMain(m *testing.M) {
	trivylog.InitLogger(false, true)
	os.Exit(m.Run())
}

var quiet = slog.New(slog.DiscardHandler)

// fixtureCache is a cache directory holding the fixture DB with the
// language packages' advisories.
func fixtureCache(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := vulndbtest.Write(vulndb.Dir(dir), vulndbtest.Default().With(vulndbtest.Dependencies())); err != nil {
		t.Fatal(err)
	}
	return dir
}

func scan(t testing.TB, opts deps.Options, root string) scanners.Result {
	t.Helper()
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	opts.DB.Offline = true
	if opts.DB.CacheDir == "" {
		opts.DB.CacheDir = fixtureCache(t)
	}
	res, err := deps.New(opts, quiet).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatalf("scan: %v (%+v)", err, res.Status.Notifications)
	}
	res.Normalize()
	return res
}

// got lists findings as "path:line rule package@version".
func got(res scanners.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, fmt.Sprintf("%s:%d %s %s@%s", f.Location.Path, f.Location.StartLine, f.RuleID, f.Vuln.Package, f.Vuln.InstalledVersion))
	}
	slices.Sort(out)
	return out
}

// planted are the fixture checkout's vulnerabilities, each on the line of
// the lockfile that pins the package; every other package is at a fixed
// version (its advisory is in the DB too) and must not be reported.
var planted = []string{
	"api/requirements.txt:3 " + vulndbtest.PythonRequests + " requests@2.19.0",
	"dotnet/packages.lock.json:5 " + vulndbtest.NuGetNewtonsoft + " Newtonsoft.Json@12.0.1",
	"jvm/gradle.lockfile:6 " + vulndbtest.MavenLog4j + " org.apache.logging.log4j:log4j-core@2.14.1",
	"ruby/Gemfile.lock:4 " + vulndbtest.GemRack + " rack@2.2.3",
	"rust/Cargo.lock:19 " + vulndbtest.CargoSmallvec + " smallvec@1.6.0",
	"svc/go.mod:7 " + vulndbtest.GoText + " golang.org/x/text@v0.3.7",
	"web/package-lock.json:21 " + vulndbtest.NpmLodash + " lodash@4.17.20",
	"web/package-lock.json:26 " + vulndbtest.NpmMinimist + " minimist@1.2.5",
}

func TestEveryPlantedVulnerabilityOnItsLine(t *testing.T) {
	res := scan(t, deps.Options{}, "../../testdata/deps")
	if res.Status.State != scanners.Succeeded {
		t.Fatalf("state %s: %+v", res.Status.State, res.Status.Notifications)
	}
	want := slices.Clone(planted)
	slices.Sort(want)
	if g := got(res); !slices.Equal(g, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range res.Findings {
		v := f.Vuln
		if v.FixedVersion == "" || v.PURL == "" || v.CVSSScore == 0 || f.Severity == scanners.SeverityUnknown || f.FingerprintV2 == "" {
			t.Errorf("%s %s: incomplete detail %+v", f.Location.Path, f.RuleID, *v)
		}
		if f.RuleID == vulndbtest.NpmMinimist {
			if v.Relationship != "indirect" || !slices.Equal(v.Via, []string{"mkdirp@0.5.5"}) || !strings.Contains(f.Message, "pulled in by mkdirp@0.5.5") {
				t.Errorf("minimist: want a transitive dependency via mkdirp: %+v %q", *v, f.Message)
			}
		}
		if f.RuleID == vulndbtest.NpmLodash && v.Relationship != "direct" {
			t.Errorf("lodash: want a direct dependency: %+v", *v)
		}
	}
	if len(res.Rules) != len(planted) {
		t.Errorf("%d rules, want %d", len(res.Rules), len(planted))
	}
}

// TestUpgradeStillVulnerableIsTheSameFinding: the identity is the file,
// the package and the vulnerability, not the version.
func TestUpgradeStillVulnerableIsTheSameFinding(t *testing.T) {
	cache := fixtureCache(t)
	dir := t.TempDir()
	write := func(version string) {
		if err := os.WriteFile(filepath.Join(dir, "Gemfile.lock"), []byte("GEM\n  remote: https://rubygems.org/\n  specs:\n    rack ("+version+")\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  rack\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("2.2.3")
	before := scan(t, deps.Options{DB: images.Options{CacheDir: cache}}, dir)
	write("2.2.5")
	after := scan(t, deps.Options{DB: images.Options{CacheDir: cache}}, dir)
	if len(before.Findings) != 1 || len(after.Findings) != 1 {
		t.Fatalf("findings %v / %v", got(before), got(after))
	}
	if before.Findings[0].Fingerprint != after.Findings[0].Fingerprint || before.Findings[0].FingerprintV2 != after.Findings[0].FingerprintV2 {
		t.Errorf("an upgrade that is still vulnerable changed the finding's identity")
	}
}

// TestBadLockfileCostsOnlyItself: a lockfile that does not parse is named,
// with the cause, and the other lockfiles' vulnerabilities are all found.
func TestBadLockfileCostsOnlyItself(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../testdata/deps")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"broken/package-lock.json", "broken2/Cargo.lock"} {
		p := filepath.Join(dir, bad)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("{\"packages\": [ this is not a lockfile"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := scan(t, deps.Options{}, dir)
	want := slices.Clone(planted)
	slices.Sort(want)
	if g := got(res); !slices.Equal(g, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{"broken/package-lock.json", "broken2/Cargo.lock"} {
		if !slices.ContainsFunc(res.Status.Notifications, func(n scanners.Notification) bool {
			return n.Path == bad && n.Level == scanners.LevelError && strings.Contains(n.Message, bad)
		}) {
			t.Errorf("no error naming %s: %+v", bad, res.Status.Notifications)
		}
	}
}

// TestNoLockfileNoDB: a tree without lockfiles never needs the DB.
func TestNoLockfileNoDB(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte("# nothing\n"), 0o644)
	res := scan(t, deps.Options{DB: images.Options{CacheDir: t.TempDir()}}, dir)
	if res.Status.State != scanners.Succeeded || len(res.Findings) != 0 {
		t.Fatalf("state %s, findings %v", res.Status.State, got(res))
	}
}

// TestMissingDBFailsClosed: lockfiles and no DB (offline) is an error, not
// a pass.
func TestMissingDBFailsClosed(t *testing.T) {
	tgt, err := scanners.Walk(context.Background(), "../../testdata/deps", scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	_, err = deps.New(deps.Options{DB: images.Options{CacheDir: t.TempDir(), Offline: true}}, quiet).Scan(context.Background(), tgt)
	if err == nil || !strings.Contains(err.Error(), "no vulnerability DB") {
		t.Fatalf("err = %v, want the missing DB named", err)
	}
}

// TestParityWithTrivyFS: per lockfile, the packages the engine reads and
// the vulnerabilities it reports are the ones the real Trivy CLI reports
// on the same fixture with the same DB (`trivy fs --scanners vuln
// --list-all-pkgs`, recorded by testdata/trivy-fs.sh).
func TestParityWithTrivyFS(t *testing.T) {
	b, err := os.ReadFile("testdata/trivy-fs.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]struct {
		Packages        []string `json:"packages"`
		Vulnerabilities []string `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	res := scan(t, deps.Options{}, "../../testdata/deps")
	vulns := map[string][]string{}
	for _, f := range res.Findings {
		vulns[f.Location.Path] = append(vulns[f.Location.Path], f.RuleID+" "+f.Vuln.Package+"@"+f.Vuln.InstalledVersion)
	}
	tgt, err := scanners.Walk(context.Background(), "../../testdata/deps", scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	pkgs, err := deps.Packages(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != len(golden) {
		t.Errorf("lockfiles %v, trivy fs %d", sortedKeys(pkgs), len(golden))
	}
	for file, want := range golden {
		p, v := slices.Sorted(slices.Values(pkgs[file])), slices.Sorted(slices.Values(vulns[file]))
		if !slices.Equal(p, want.Packages) {
			t.Errorf("%s: packages %v, trivy fs %v", file, p, want.Packages)
		}
		if !slices.Equal(v, want.Vulnerabilities) {
			t.Errorf("%s: vulnerabilities %v, trivy fs %v", file, v, want.Vulnerabilities)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

const pomHead = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
`

// TestMavenStaysInsideTheCheckout: Trivy's Maven parser opens parent and
// module POMs by path. A parent above the scan root (Maven's default
// relativePath, ../pom.xml) is never read, and a POM whose relativePath or
// module leaves the tree is not analysed, with a warning naming it.
func TestMavenStaysInsideTheCheckout(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "s")
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Outside the scan root: a parent that would add a vulnerable log4j.
	write(filepath.Join(top, "pom.xml"), pomHead+`  <groupId>com.example</groupId><artifactId>outside</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.14.1</version></dependency></dependencies>
</project>
`)
	write(filepath.Join(top, "elsewhere", "pom.xml"), pomHead+`  <groupId>com.example</groupId><artifactId>elsewhere</artifactId><version>1</version>
  <dependencies><dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.14.1</version></dependency></dependencies>
</project>
`)
	// The checkout: a child of the outside parent (default relativePath),
	// one naming a parent path out of the tree, one with a module there.
	child := pomHead + `  <parent><groupId>com.example</groupId><artifactId>outside</artifactId><version>1</version></parent>
  <artifactId>app</artifactId>
  <dependencies><dependency><groupId>com.google.guava</groupId><artifactId>guava</artifactId><version>33.0.0-jre</version></dependency></dependencies>
</project>
`
	write(filepath.Join(root, "pom.xml"), child)
	write(filepath.Join(root, "climb", "pom.xml"), pomHead+`  <parent><groupId>com.example</groupId><artifactId>elsewhere</artifactId><version>1</version><relativePath>../../elsewhere/pom.xml</relativePath></parent>
  <artifactId>climb</artifactId>
</project>
`)
	write(filepath.Join(root, "agg", "pom.xml"), pomHead+`  <groupId>com.example</groupId><artifactId>agg</artifactId><version>1</version><packaging>pom</packaging>
  <modules><module>../../elsewhere</module></modules>
</project>
`)
	write(filepath.Join(root, "coords", "pom.xml"), pomHead+`  <groupId>com.example</groupId><artifactId>coords</artifactId><version>1</version>
  <dependencies><dependency><groupId>x</groupId><artifactId>../../../../etc</artifactId><version>1</version></dependency></dependencies>
</project>
`)
	res := scan(t, deps.Options{}, root)
	for _, f := range res.Findings {
		if f.Vuln.Package == "org.apache.logging.log4j:log4j-core" {
			t.Errorf("a POM outside the scan root was read: %s at %s", f.RuleID, f.Location.Path)
		}
	}
	for _, p := range []string{"climb/pom.xml", "agg/pom.xml", "coords/pom.xml"} {
		if !slices.ContainsFunc(res.Status.Notifications, func(n scanners.Notification) bool {
			return n.Path == p && n.Level == scanners.LevelWarning && strings.Contains(n.Message, "not checked")
		}) {
			t.Errorf("no warning names %s: %+v", p, res.Status.Notifications)
		}
	}
	// The child itself is still analysed: its own dependencies are read.
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	pkgs, err := deps.Packages(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pkgs["pom.xml"], "com.google.guava:guava@33.0.0-jre") || slices.ContainsFunc(pkgs["pom.xml"], func(p string) bool { return strings.Contains(p, "log4j") }) {
		t.Errorf("pom.xml packages %v: want guava and nothing of the outside parent", pkgs["pom.xml"])
	}
}

// TestJavaArchivesAreNamed: a JAR in the checkout is not matched (no Java
// DB): a note names it rather than a silent pass.
func TestJavaArchivesAreNamed(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib", "log4j-core-2.14.1.jar"), []byte("PK\x03\x04"), 0o644)
	res := scan(t, deps.Options{DB: images.Options{CacheDir: t.TempDir()}}, dir)
	if !slices.ContainsFunc(res.Status.Notifications, func(n scanners.Notification) bool {
		return n.Code == "jar-not-checked" && strings.Contains(n.Message, "lib/log4j-core-2.14.1.jar")
	}) {
		t.Errorf("no note names the JAR: %+v", res.Status.Notifications)
	}
}

// TestPkgTypesOS: --pkg-types os (the image engine's setting) leaves the
// checkout's library packages out, and says so.
func TestPkgTypesOS(t *testing.T) {
	res := scan(t, deps.Options{DB: images.Options{PkgTypes: []string{"os"}}}, "../../testdata/deps")
	if len(res.Findings) != 0 || !slices.ContainsFunc(res.Status.Notifications, func(n scanners.Notification) bool { return n.Code == "pkg-types" }) {
		t.Errorf("findings %v, notes %+v", got(res), res.Status.Notifications)
	}
}
