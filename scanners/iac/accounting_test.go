package iac

import (
	"testing"

	"github.com/aquasecurity/trivy/pkg/iac/detection"

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
