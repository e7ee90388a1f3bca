package iac_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tollgate/tollgate/cache"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iac"
)

// noNetwork fails every request made through Go's default transport and
// counts them; PATH holds no program (kustomize clones a remote base with
// git).
type noNetwork struct{ n atomic.Int32 }

func (t *noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	t.n.Add(1)
	return nil, errors.New("the network is off in this test")
}

func scanKustomizeFixture(t *testing.T) scanners.Result {
	t.Helper()
	trap := &noNetwork{}
	saved := http.DefaultTransport
	http.DefaultTransport = trap
	t.Cleanup(func() { http.DefaultTransport = saved })
	t.Setenv("PATH", t.TempDir())
	res := scanOurs(t, "testdata/kustomize", iac.Options{})
	if n := trap.n.Load(); n != 0 {
		t.Errorf("%d requests went out while building the kustomizations", n)
	}
	return res
}

// TestKustomizeOverlays: every kustomization root and overlay of
// testdata/kustomize is built and its rendering checked. A privileged
// container added by an overlay's patch is reported on the patch's line;
// a base finding that an overlay fixes is gone from that overlay's
// rendering (and kept in the other's, on the base's container); the base
// and patch files are not reported again as loose files; a remote base,
// a generator that runs a program and a resource outside the scan root are
// refused with a notification naming the kustomization and the entry, and
// the rest of their kustomization is built; a generated object is reported
// on the kustomization, which the message says.
func TestKustomizeOverlays(t *testing.T) {
	res := scanKustomizeFixture(t)
	const (
		priv     = "overlays/privileged/kustomization.yaml"
		hardened = "overlays/hardened/kustomization.yaml"
	)
	in := func(f scanners.Finding, root string) bool {
		return strings.Contains(f.Message, "(in the rendering of kustomization "+root)
	}
	var privileged []string
	for _, f := range res.Findings {
		if f.RuleID == "KSV-0017" {
			privileged = append(privileged, f.Location.Path+":"+itoa(f.Location.StartLine)+" "+f.Message)
		}
	}
	want := "overlays/privileged/privileged.yaml:11 Container 'app' of Deployment 'prod-web' should set 'securityContext.privileged' to false (in the rendering of kustomization " + priv + ")"
	if len(privileged) != 1 || privileged[0] != want {
		t.Errorf("privileged findings %q, want [%q]", privileged, want)
	}
	runAsRoot := func(root string) []string {
		var out []string
		for _, f := range res.Findings {
			if f.RuleID == "KSV-0012" && in(f, root) {
				out = append(out, f.Location.Path+":"+itoa(f.Location.StartLine))
			}
		}
		return out
	}
	if got := runAsRoot(priv); !slices.Equal(got, []string{"base/deployment.yaml:16"}) {
		t.Errorf("runAsNonRoot in the rendering of %s: %q, want the base's container (base/deployment.yaml:16)", priv, got)
	}
	if got := runAsRoot(hardened); len(got) != 0 {
		t.Errorf("runAsNonRoot, which %s sets, still reported in its rendering: %q", hardened, got)
	}
	for _, f := range res.Findings {
		if strings.HasPrefix(f.Location.Path, "base/") || strings.HasPrefix(f.Location.Path, "overlays/") {
			if !in(f, priv) && !in(f, hardened) {
				t.Errorf("a loose finding on a file a kustomization includes: %s %s: %s", f.RuleID, f.Location.Path, f.Message)
			}
		}
		if f.Location.Path == "overlays/hardened/hardened.yaml" {
			t.Errorf("a finding on the patch that fixes the base: %s %s", f.RuleID, f.Message)
		}
	}
	refused := map[string]string{}
	for _, n := range res.Status.Notifications {
		if n.Code == "kustomize-refused" {
			refused[n.Path] += n.Message
		} else if strings.HasPrefix(n.Code, "kustomize") {
			t.Errorf("notification %s %s: %s", n.Code, n.Path, n.Message)
		}
	}
	for file, want := range map[string][]string{
		"remote/kustomization.yaml": {`resources entry "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1"`, "remote"},
		"exec/kustomization.yaml":   {`generators entry "generator.yaml"`, "KRM function", "runs code"},
		"escape/kustomization.yaml": {`resources entry "../../outside"`, "outside the scan root"},
	} {
		for _, w := range want {
			if !strings.Contains(refused[file], w) {
				t.Errorf("notification on %s: %q, want it to say %q", file, refused[file], w)
			}
		}
		delete(refused, file)
	}
	if len(refused) != 0 {
		t.Errorf("unexpected refusals: %q", refused)
	}
	// The rest of a kustomization with a refused entry is built and checked.
	for _, root := range []string{"remote", "exec", "escape"} {
		if findingsIn(res, root+"/pod.yaml") == 0 {
			t.Errorf("%s/pod.yaml, included beside the refused entry, was not checked: %v", root, where(res))
		}
	}
	var generated []string
	for _, f := range res.Findings {
		if f.RuleID == "KSV-0109" {
			generated = append(generated, f.Location.Path+": "+f.Message)
		}
	}
	if len(generated) != 1 || !strings.HasPrefix(generated[0], "generated/kustomization.yaml: ") || !strings.Contains(generated[0], "could not be traced") {
		t.Errorf("the generated ConfigMap's finding: %q, want one on generated/kustomization.yaml saying it was not traced", generated)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestKustomizeCacheKeyCoversTheBuild: a kustomization's unit in the
// result cache covers every file its build reads. A base changed under an
// overlay (the overlay's own files untouched) is built again, and the
// overlay's rendering loses the finding the base fixed; a second scan with
// nothing changed hits the cache with the same findings.
func TestKustomizeCacheKeyCoversTheBuild(t *testing.T) {
	base := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.25\n"
	root := t.TempDir()
	write := writer(t, root)
	write("base/kustomization.yaml", "resources:\n  - deployment.yaml\n")
	write("base/deployment.yaml", base)
	write("prod/kustomization.yaml", "resources:\n  - ../base\nnamespace: prod\n")
	store, err := cache.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := &scanners.ResultCache{Store: store, Build: "test"}
	scan := func() (scanners.Result, []string) {
		res := scanOurs(t, root, iac.Options{Cache: rc})
		var ids []string
		for _, f := range res.Findings {
			ids = append(ids, f.RuleID+" "+f.Location.Path+":"+itoa(f.Location.StartLine))
		}
		slices.Sort(ids)
		return res, ids
	}
	_, cold := scan()
	if !slices.Contains(cold, "KSV-0012 base/deployment.yaml:15") {
		t.Fatalf("cold scan: %q, want runAsNonRoot on the base's container", cold)
	}
	warmRes, warm := scan()
	if !slices.Equal(cold, warm) || warmRes.Cache == nil || warmRes.Cache.FromCache == 0 {
		t.Errorf("warm scan: %q (%+v), want the cold scan's findings from the cache", warm, warmRes.Cache)
	}
	write("base/deployment.yaml", strings.Replace(base, "image: nginx:1.25\n", "image: nginx:1.25\n          securityContext:\n            runAsNonRoot: true\n", 1))
	_, changed := scan()
	if slices.Contains(changed, "KSV-0012 base/deployment.yaml:15") {
		t.Errorf("after the base set runAsNonRoot, the overlay's rendering still has the finding (a stale cache entry): %q", changed)
	}
}

// TestKustomizeInlinePatchAndLinks: a field set by an inline patch is
// reported on its line in the kustomization; a base reached through a
// symbolic link (here, to a folder outside the scan root) is not read:
// the entry is refused, and nothing of the linked folder is reported.
func TestKustomizeInlinePatchAndLinks(t *testing.T) {
	dir := t.TempDir()
	outside, root := filepath.Join(dir, "outside"), filepath.Join(dir, "root")
	write := writer(t, dir)
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  containers:\n    - name: app\n      image: nginx:1.25\n"
	write("outside/kustomization.yaml", "resources:\n  - pod.yaml\n")
	write("outside/pod.yaml", strings.Replace(pod, "%s", "secret-pod", 1))
	write("root/app/pod.yaml", strings.Replace(pod, "%s", "web", 1))
	write("root/app/kustomization.yaml", "resources:\n  - pod.yaml\n  - ../linked\npatches:\n  - target:\n      kind: Pod\n      name: web\n    patch: |-\n      apiVersion: v1\n      kind: Pod\n      metadata:\n        name: web\n      spec:\n        hostPID: true\n")
	if err := os.Symlink(outside, filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	res := scanOurs(t, root, iac.Options{})
	var hostPID []string
	for _, f := range res.Findings {
		if strings.Contains(f.Message, "secret-pod") {
			t.Errorf("a finding from the linked folder: %s %s", f.RuleID, f.Message)
		}
		if strings.Contains(f.Title, "host PID") || strings.Contains(f.Message, "hostPID") {
			hostPID = append(hostPID, f.Location.Path+":"+itoa(f.Location.StartLine))
		}
	}
	if !slices.Equal(hostPID, []string{"app/kustomization.yaml:14"}) {
		t.Errorf("hostPID findings at %q, want the inline patch's line app/kustomization.yaml:14", hostPID)
	}
	refused := ""
	for _, n := range res.Status.Notifications {
		if n.Code == "kustomize-refused" && n.Path == "app/kustomization.yaml" {
			refused += n.Message
		}
	}
	if !strings.Contains(refused, `resources entry "../linked"`) {
		t.Errorf("the linked base was not refused: %q", refused)
	}
}

// TestKustomizationThatFailsToBuild: a kustomization kustomize cannot build
// is named with kustomize's error, and the files it includes are checked
// as loose files, so that nothing leaves the gate unchecked.
func TestKustomizationThatFailsToBuild(t *testing.T) {
	res := scanFiles(t, map[string]string{
		"app/kustomization.yaml": "resources:\n  - pod.yaml\npatches:\n  - path: missing-patch.yaml\n",
		"app/pod.yaml":           "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: app\n      image: nginx:1.25\n      securityContext:\n        privileged: true\n",
	})
	var notes []string
	for _, n := range res.Status.Notifications {
		if strings.HasPrefix(n.Code, "kustomize") {
			notes = append(notes, n.Code+" "+n.Path+": "+n.Message)
		}
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "kustomize-build app/kustomization.yaml: kustomization app/kustomization.yaml could not be built") ||
		!strings.Contains(notes[0], "missing-patch.yaml") {
		t.Errorf("notifications %q, want one naming the kustomization and kustomize's error", notes)
	}
	loose := false
	for _, f := range res.Findings {
		if f.RuleID == "KSV-0017" && f.Location.Path == "app/pod.yaml" && !strings.Contains(f.Message, "rendering") {
			loose = true
		}
	}
	if !loose {
		t.Errorf("the pod the kustomization includes was not checked as a loose file: %v", where(res))
	}
}

// writer writes files under root, making their folders.
func writer(t *testing.T, root string) func(rel, content string) {
	return func(rel, c string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKustomizationBomb: a kustomization the syntax guard refuses (here an
// alias bomb) is not read again to be built; the pod beside it is checked
// as a loose file.
func TestKustomizationBomb(t *testing.T) {
	bomb := "resources:\n  - pod.yaml\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n"
	for i := 1; i < 8; i++ {
		prev := "*x" + itoa(i-1)
		bomb += "x" + itoa(i) + ": &x" + itoa(i) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n"
	}
	res := scanFiles(t, map[string]string{
		"app/kustomization.yaml": bomb,
		"app/pod.yaml":           "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: app\n      image: nginx:1.25\n",
	})
	if _, ok := parseErrors(res)["app/kustomization.yaml"]; !ok {
		t.Errorf("the bomb was not named: %v", res.Status.Notifications)
	}
	if findingsIn(res, "app/pod.yaml") == 0 {
		t.Errorf("the pod was not checked: %v", where(res))
	}
	for _, f := range res.Findings {
		if strings.Contains(f.Message, "rendering") {
			t.Errorf("the bomb's kustomization was built: %s", f.Message)
		}
	}
	for _, n := range res.Status.Notifications {
		if strings.HasPrefix(n.Code, "kustomize") {
			t.Errorf("the bomb's kustomization was read to be built: %s %s", n.Code, n.Message)
		}
	}
}
