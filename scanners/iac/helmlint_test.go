package iac_test

import (
	"strings"
	"testing"
)

// TestHelmChartInLintMode: a chart that stops on `required` or `fail` for
// values the pipeline did not give (a password, a secret's name: values a
// chart leaves to the deployment) is rendered again the way `helm lint`
// renders it, those calls not stopping it, and its findings are reported;
// the notification names the chart and, for each call that stopped it, the
// template file and line and the value. A `required` inside a helper that
// a template includes is found where it is written.
func TestHelmChartInLintMode(t *testing.T) {
	files := map[string]string{
		"vault/Chart.yaml":  "apiVersion: v2\nname: vault\nversion: 0.1.0\n",
		"vault/values.yaml": "# Values.\ndb:\n  password: # given at deploy\n  secretName: \"\"\nname: \"\"\n",
		"vault/templates/_helpers.tpl": "{{- define \"vault.name\" -}}\n" +
			"{{ .Values.name | required \"name must be set\" }}\n" +
			"{{- end -}}\n",
		// Lint mode's required gives "", but the value itself stays unset
		// for the other templates that read it: tpl would stop on it (so
		// does `helm lint`), so it is taken as "" there too, whether it is
		// null or absent.
		"vault/templates/secret.yaml": "{{ $_ := required \"db.password is required\" .Values.db.password }}\n" +
			"{{- $_ := required \"db.user is required\" $.Values.db.user }}{{ $_ := required \"token is required\" .Values.token }}\n" +
			"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {{ tpl .Values.db.password . | b64enc }}\n" +
			"  user: {{ tpl .Values.db.user . | b64enc }}\n  token: {{ tpl .Values.token . | b64enc }}\n",
		"vault/templates/pod.yaml": "{{- if not .Values.db.secretName }}\n{{ fail (printf \"db.secretName must be set\") }}\n{{- end }}\n" +
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ include \"vault.name\" . }}-pod\nspec:\n  containers:\n    - name: app\n      image: vault:1.15\n" +
			"      securityContext:\n        privileged: true\n",
	}
	res := scanFiles(t, files)
	var notes []string
	for _, n := range res.Status.Notifications {
		if strings.HasPrefix(n.Code, "helm-") {
			notes = append(notes, n.Code+" "+n.Path+": "+n.Message)
		}
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "helm-lint-mode vault/") {
		t.Fatalf("notifications %q, want one helm-lint-mode", notes)
	}
	t.Log(notes[0])
	for _, want := range []string{
		"Helm chart vault ",
		"vault/templates/secret.yaml line 1", ".Values.db.password", "db.password is required",
		"vault/templates/secret.yaml line 2", "$.Values.db.user", "db.user is required", ".Values.token", "token is required",
		"vault/templates/pod.yaml line 2", "db.secretName must be set",
		"vault/templates/_helpers.tpl line 2", ".Values.name", "name must be set",
		"helm lint",
	} {
		if !strings.Contains(notes[0], want) {
			t.Errorf("the notification does not say %q: %s", want, notes[0])
		}
	}
	if findingsIn(res, "vault/templates/pod.yaml") == 0 {
		t.Errorf("the privileged pod of the chart rendered in lint mode was not reported: %v", where(res))
	}
}
