package iac

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
)

func TestPlanJobs(t *testing.T) {
	var k8s []string
	for i := range 100 {
		k8s = append(k8s, fmt.Sprintf("k8s/app%03d.yaml", i))
	}
	byType := map[detection.FileType][]string{
		detection.FileTypeKubernetes:        k8s,
		detection.FileTypeTerraform:         {"infra/main.tf", "infra/modules/net/main.tf", "envs/prod/main.tf"},
		detection.FileTypeTerraformPlanJSON: {"plans/a.json", "plans/b.json"},
		detection.FileTypeHelm: {
			"charts/web/Chart.yaml", "charts/web/templates/deploy.yaml",
			"charts/web/charts/db/Chart.yaml", "charts/web/charts/db/templates/sts.yaml",
			"charts/api/Chart.yaml", "charts/api/values.yaml",
			"packaged/redis-1.0.0.tgz",
		},
	}
	jobs := batchJobs(planUnits(byType, nil), 2)

	var got []string
	var k8sBatches []int
	counts := map[detection.FileType]int{}
	for _, j := range jobs {
		counts[j.ft]++
		got = append(got, j.paths...)
		if j.ft == detection.FileTypeKubernetes {
			k8sBatches = append(k8sBatches, len(j.paths))
		}
	}
	if want := []int{32, 32, 32, 4}; !slices.Equal(k8sBatches, want) {
		t.Errorf("kubernetes batches of %v files, want %v", k8sBatches, want)
	}
	// Every file is scanned exactly once.
	var want []string
	for _, paths := range byType {
		want = append(want, paths...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("files scanned:\n got %v\nwant %v", got, want)
	}
	if counts[detection.FileTypeKubernetes] < 2 {
		t.Errorf("100 Kubernetes files in %d job(s): they should be spread over the workers", counts[detection.FileTypeKubernetes])
	}
	if counts[detection.FileTypeTerraform] != 1 {
		t.Errorf("Terraform in %d jobs: a module may use any other, it must stay whole", counts[detection.FileTypeTerraform])
	}
	if counts[detection.FileTypeTerraformPlanJSON] != 2 {
		t.Errorf("plans in %d jobs, want one each", counts[detection.FileTypeTerraformPlanJSON])
	}
	// Charts: web with its subchart, api, and the archive on its own.
	var helm [][]string
	for _, j := range jobs {
		if j.ft == detection.FileTypeHelm {
			helm = append(helm, j.paths)
		}
	}
	wantHelm := [][]string{
		{"charts/web/Chart.yaml", "charts/web/templates/deploy.yaml", "charts/web/charts/db/Chart.yaml", "charts/web/charts/db/templates/sts.yaml"},
		{"charts/api/Chart.yaml", "charts/api/values.yaml"},
		{"packaged/redis-1.0.0.tgz"},
	}
	if !slices.EqualFunc(helm, wantHelm, slices.Equal) {
		t.Errorf("helm groups = %v, want %v", helm, wantHelm)
	}
	// The plan is deterministic.
	if again := batchJobs(planUnits(byType, nil), 2); !slices.EqualFunc(again, jobs, func(a, b job) bool { return a.ft == b.ft && slices.Equal(a.paths, b.paths) }) {
		t.Error("the plan is not deterministic")
	}
}

// TestTerraformGroups: directories joined by local module sources are one
// tree, others are trees of their own; a file whose sources cannot be read
// keeps every file together.
func TestTerraformGroups(t *testing.T) {
	contents := map[string][]byte{
		"live/prod/main.tf":          []byte("module \"net\" {\n  source = \"../../modules/net\"\n}\n"),
		"live/prod/terraform.tfvars": []byte("x = 1\n"),
		"modules/net/main.tf":        []byte("module \"sub\" {\n  source = \"./sub\"\n}\n"),
		"modules/net/sub/main.tf":    []byte("resource \"a\" \"b\" {}\n"),
		"other/main.tf":              []byte("module \"remote\" {\n  source = \"git::https://example.com/m.git\"\n}\n"),
	}
	paths := []string{"live/prod/main.tf", "live/prod/terraform.tfvars", "modules/net/main.tf", "modules/net/sub/main.tf", "other/main.tf"}
	got := terraformGroups(paths, contents)
	want := [][]string{{"live/prod/main.tf", "live/prod/terraform.tfvars", "modules/net/main.tf", "modules/net/sub/main.tf"}, {"other/main.tf"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("groups = %v, want %v", got, want)
	}
	contents["other/main.tf"] = []byte("module \"m\" {\n  source = var.where\n}\n")
	if got := terraformGroups(paths, contents); len(got) != 1 {
		t.Errorf("a computed module source: %d groups, want every file in one", len(got))
	}
	if got := terraformGroups(append(slices.Clone(paths), "json/main.tf.json"), contents); len(got) != 1 {
		t.Errorf("a .tf.json file: %d groups, want every file in one", len(got))
	}
}
