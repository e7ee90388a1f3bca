package iac

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aquasecurity/trivy/pkg/iac/detection"

	"github.com/tollgate/tollgate/cache"
	tg "github.com/tollgate/tollgate/scanners"
)

// TestUnaccountedFilesAreNamed: a classified file that no unit holds and
// no notification names is reported (not-checked), so that a planning
// mistake cannot take a file out of the gate without a word; a file a
// unit holds, one a notification names, and one another shard owns are
// not.
func TestUnaccountedFilesAreNamed(t *testing.T) {
	classified := map[string]detection.FileType{
		"infra/main.tf": detection.FileTypeTerraform,
		"k8s/pod.yaml":  detection.FileTypeKubernetes,
		"k8s/bad.yaml":  detection.FileTypeKubernetes,
		"Dockerfile":    detection.FileTypeDockerfile,
	}
	units := []job{{detection.FileTypeTerraform, []string{"infra/main.tf"}}, {detection.FileTypeKubernetes, []string{"k8s/pod.yaml"}}}
	notes := []tg.Notification{{Code: "parse-error", Path: "k8s/bad.yaml"}}
	got := unaccounted(tg.Shard{}, classified, units, notes)
	if len(got) != 1 || got[0].Path != "Dockerfile" || got[0].Code != "not-checked" || got[0].Level != tg.LevelError {
		t.Fatalf("got %+v, want Dockerfile not-checked", got)
	}
	units = append(units, job{detection.FileTypeDockerfile, []string{"Dockerfile"}})
	if got := unaccounted(tg.Shard{}, classified, units, notes); len(got) != 0 {
		t.Errorf("every file accounted for, got %+v", got)
	}
	// In a shard, only the files it owns are its to account.
	for k := 1; k <= 3; k++ {
		shard := tg.Shard{Index: k, Count: 3}
		got := unaccounted(shard, classified, units[:2], notes)
		want := shard.Owns("Dockerfile")
		if (len(got) == 1) != want {
			t.Errorf("shard %d/3: %+v, want the Dockerfile named: %v", k, got, want)
		}
	}
}

// TestUnitsOverTheirInputSize: a unit whose files hold more than a
// sixteenth of its memory budget is not sent to Trivy (nor copied into a
// worker's request): each of its files is named, a batch is split first
// so that its small files are still checked.
func TestUnitsOverTheirInputSize(t *testing.T) {
	root := t.TempDir()
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\nspec:\n  containers:\n    - name: c\n      image: nginx\n      securityContext:\n        privileged: true\n"
	files := map[string]string{
		"k8s/big.yaml":   pod + "# " + strings.Repeat("x", 4<<10) + "\n",
		"k8s/small.yaml": strings.Replace(pod, "name: big", "name: small", 1),
	}
	for rel, content := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tgt, err := tg.Walk(context.Background(), root, tg.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := New(Options{UnitMemory: 64 << 10, FileTypes: []string{"kubernetes"}}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt) // 4 KiB of files a unit
	if err != nil {
		t.Fatal(err)
	}
	over := map[string]bool{}
	for _, n := range res.Status.Notifications {
		if n.Code == "over-budget" && strings.Contains(n.Message, "more than the 4096 bytes a unit's files may hold") {
			over[n.Path] = true
		}
	}
	found := map[string]bool{}
	for _, f := range res.Findings {
		found[f.Location.Path] = true
	}
	if !over["k8s/big.yaml"] || over["k8s/small.yaml"] || found["k8s/big.yaml"] || !found["k8s/small.yaml"] {
		t.Errorf("over budget %v, findings in %v; want big.yaml named and unchecked, small.yaml checked\n%+v", over, found, res.Status.Notifications)
	}
}

// TestOutOfBudgetUnitsAreNotCached: a unit that ended past its budget is
// not kept in the result cache (the limits and the machine's load decide
// it, not the files; the cache keeps no unit with an error notification):
// the next scan checks it again.
func TestOutOfBudgetUnitsAreNotCached(t *testing.T) {
	root := t.TempDir()
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\nspec:\n  containers:\n    - name: c\n      image: nginx\n      securityContext:\n        privileged: true\n"
	if err := os.WriteFile(filepath.Join(root, "big.yaml"), []byte(pod+"# "+strings.Repeat("x", 4<<10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := &tg.ResultCache{Store: store, Build: "test"}
	scan := func(memory int64) tg.Result {
		tgt, err := tg.Walk(context.Background(), root, tg.WalkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer tgt.Close()
		res, err := New(Options{UnitMemory: memory, FileTypes: []string{"kubernetes"}, Cache: rc}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := scan(64 << 10); len(res.Findings) != 0 || len(res.Status.Notifications) == 0 {
		t.Fatalf("with 4 KiB a unit: %d findings, notifications %+v", len(res.Findings), res.Status.Notifications)
	}
	if res := scan(64 << 10); res.Cache == nil || res.Cache.FromCache != 0 {
		t.Errorf("an over-budget unit came from the cache: %+v", res.Cache)
	}
	if res := scan(0); len(res.Findings) == 0 {
		t.Errorf("with no limit, the next scan checked nothing (the over-budget unit came from the cache): %+v", res.Status.Notifications)
	}
}
