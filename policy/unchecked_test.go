package policy

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
)

// A notification that a file was not checked becomes a CRITICAL finding
// when the pull request changes that file (for a chart, any file of it);
// other files' notifications stay notifications.
func TestUncheckedFilesOfThePullRequestFail(t *testing.T) {
	changed := map[string]bool{"k8s/pod.yaml": true, "charts/web/templates/x.yaml": true}
	u := Unchecked{Changed: func(p string) bool {
		for c := range changed {
			if c == p || strings.HasPrefix(c, p+"/") {
				return true
			}
		}
		return false
	}}
	r := scanners.Result{Engine: scanners.EngineIaC}
	r.Status.Notifications = []scanners.Notification{
		{Level: scanners.LevelWarning, Code: "parse-error", Path: "k8s/pod.yaml", Line: 40, Message: "k8s/pod.yaml could not be parsed: an alias bomb"},
		{Level: scanners.LevelWarning, Code: "parse-error", Path: "k8s/other.yaml", Message: "other"},
		{Level: scanners.LevelWarning, Code: "helm-render", Path: "charts/web/Chart.yaml", Message: "Helm chart charts/web could not be rendered"},
		{Level: scanners.LevelWarning, Code: "helm-lookup", Path: "k8s/pod.yaml", Message: "not a coverage gap"},
	}
	results := []scanners.Result{r}
	if err := (Unchecked{Changed: u.Changed}).Process(results); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range results[0].Findings {
		if f.RuleID != UncheckedRule || f.Severity != scanners.SeverityCritical || f.Fingerprint == "" {
			t.Errorf("finding %+v", f)
		}
		got[f.Location.Path] = f.Location.StartLine
	}
	if len(got) != 2 || got["k8s/pod.yaml"] != 40 || got["charts/web/Chart.yaml"] != 1 {
		t.Errorf("unchecked findings at %v, want k8s/pod.yaml:40 and charts/web/Chart.yaml:1", got)
	}
	if len(results[0].Rules) != 1 {
		t.Errorf("rules %v, want the unchecked-file rule once", results[0].Rules)
	}
}
