package iac_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
)

// TestHelmChartWithoutItsDependencies: a chart whose declared dependencies
// are not committed (the normal case: `helm dependency build` fetches them
// in CI) is rendered without them, its own templates checked, with a
// warning naming the missing dependencies and the conditions turned off;
// a dependency that is committed is rendered as Helm renders it.
func TestHelmChartWithoutItsDependencies(t *testing.T) {
	pod := func(name, extra string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  containers:\n    - name: app\n      image: nginx:1.25\n" + extra
	}
	privileged := "      securityContext:\n        privileged: true\n"
	files := map[string]string{
		"stack/Chart.yaml": "apiVersion: v2\nname: stack\nversion: 0.1.0\ndependencies:\n" +
			"  - name: exporter\n    version: 1.x\n    repository: https://charts.example.test\n    condition: exporter.enabled\n" +
			"  - name: metrics\n    version: 2.x\n    repository: https://charts.example.test\n    condition: metrics.enabled\n" +
			"  - name: local\n    version: 0.1.0\n",
		"stack/values.yaml": "exporter:\n  enabled: true\nmetrics:\n  enabled: true # on\nlocal:\n  enabled: true\n",
		// The chart's own template, and one that reads the missing
		// dependency's defaults (they come with it) under its condition.
		"stack/templates/pod.yaml":      pod("stack", privileged),
		"stack/templates/exporter.yaml": "{{- if and .Values.exporter.enabled .Values.exporter.rbac.create }}\n" + pod("exporter-rbac", "") + "{{- end }}\n",
		// A committed dependency renders with the chart.
		"stack/charts/local/Chart.yaml":         "apiVersion: v2\nname: local\nversion: 0.1.0\n",
		"stack/charts/local/templates/pod.yaml": pod("local", privileged),
	}
	res := scanFiles(t, files)
	var warned []string
	for _, n := range res.Status.Notifications {
		if strings.HasPrefix(n.Code, "helm-") {
			warned = append(warned, n.Code+" "+n.Path+": "+n.Message)
		}
	}
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "helm-dependency-missing stack/Chart.yaml") ||
		!strings.Contains(warned[0], "(exporter, metrics;") || !strings.Contains(warned[0], "exporter.enabled=false, metrics.enabled=false") {
		t.Fatalf("notifications %q, want one naming exporter and metrics", warned)
	}
	privilegedAt := func(file string) bool {
		return slices.ContainsFunc(res.Findings, func(f scanners.Finding) bool {
			return f.Location.Path == file && strings.Contains(strings.ToLower(f.Title), "privileged")
		})
	}
	if !privilegedAt("stack/templates/pod.yaml") || !privilegedAt("stack/charts/local/templates/pod.yaml") {
		t.Errorf("the privileged containers of the chart and its committed dependency were not reported: %v", where(res))
	}
	if findingsIn(res, "stack/Chart.yaml") != 0 || findingsIn(res, "stack/values.yaml") != 0 {
		t.Errorf("findings on the edited files: %v", where(res))
	}
}

func where(res scanners.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.RuleID+" "+f.Location.Path)
	}
	return out
}
