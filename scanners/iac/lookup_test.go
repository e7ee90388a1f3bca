package iac_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestHelmLookupIsNamed: offline, Helm's lookup finds nothing, so what a
// chart renders only when the cluster holds something (here a privileged
// container) is never checked. The scan says so, naming the chart and the
// template lines that call it; the rest of the chart is still checked. A
// chart without lookup, or with the word in a comment or a string, gets no
// such notification.
func TestHelmLookupIsNamed(t *testing.T) {
	files := map[string]string{}
	write := func(rel, content string) { files[rel] = content }
	pod := func(name, extra string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  containers:\n    - name: app\n      image: nginx:1.25\n" + extra
	}
	write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
	write("charts/web/templates/pod.yaml", pod("web", "")+
		"{{- if (lookup \"v1\" \"Secret\" .Release.Namespace \"debug\") }}\n"+pod("debug", "      securityContext:\n        privileged: true\n")+"{{- end }}\n")
	write("charts/plain/Chart.yaml", "apiVersion: v2\nname: plain\nversion: 0.1.0\n")
	write("charts/plain/templates/pod.yaml", "{{/* lookup is not called here */}}\n# \"lookup\"\n"+pod("plain", "")+"  annotations:\n    note: {{ \"lookup\" | quote }}\n")
	res := scanFiles(t, files)
	var named []string
	for _, n := range res.Status.Notifications {
		if n.Code == "helm-lookup" {
			named = append(named, n.Path+": "+n.Message)
		}
	}
	if len(named) != 1 || !strings.HasPrefix(named[0], "charts/web/Chart.yaml") || !strings.Contains(named[0], "charts/web/templates/pod.yaml:9") {
		t.Errorf("lookup notifications %q, want one for charts/web naming templates/pod.yaml:9", named)
	}
	checked := map[string]bool{}
	for _, f := range res.Findings {
		checked[f.Location.Path] = true
	}
	if !checked["charts/web/templates/pod.yaml"] || !checked["charts/plain/templates/pod.yaml"] {
		t.Errorf("the charts' other resources were not checked: %v", fmt.Sprint(checked))
	}
}
