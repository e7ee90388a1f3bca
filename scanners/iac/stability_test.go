package iac_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tollgate/tollgate/bench/tree"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iac"
	"github.com/tollgate/tollgate/scanners/secrets"
	"gopkg.in/yaml.v3"
)

// stabilityExtras complete the parity fixtures with what the stability
// test needs besides them: a Helm subchart, a chart rendered in lint mode,
// a Bicep file, a multi-stage Dockerfile, and two identical objects in one
// file. (The fixtures' Ansible playbook, ansible/site.yml, has the two
// buckets the test renames and counts.)
var stabilityExtras = map[string]string{
	"helm/webapp/charts/cache/Chart.yaml":                 "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
	"helm/webapp/charts/cache/values.yaml":                "image: redis:7\n",
	"helm/webapp/charts/cache/templates/statefulset.yaml": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {{ .Release.Name }}-cache\nspec:\n  serviceName: cache\n  selector:\n    matchLabels:\n      app: cache\n  template:\n    metadata:\n      labels:\n        app: cache\n    spec:\n      containers:\n        - name: redis\n          image: {{ .Values.image }}\n",
	"docker/multi.Dockerfile":                             "FROM golang:1.22 AS build\nRUN go build -o /app .\n\nFROM alpine:3.19\nCOPY --from=build /app /app\nRUN apk add curl\nRUN apk add jq\n",
	"kust/base/kustomization.yaml":                        "resources:\n  - deployment.yaml\n",
	"kust/base/deployment.yaml":                           "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  selector:\n    matchLabels:\n      app: api\n  template:\n    metadata:\n      labels:\n        app: api\n    spec:\n      containers:\n        - name: api\n          image: api:1\n",
	"kust/prod/kustomization.yaml":                        "resources:\n  - ../base\nnamePrefix: prod-\npatches:\n  - path: patch.yaml\n",
	"kust/prod/patch.yaml":                                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      hostNetwork: true\n      containers:\n        - name: api\n          securityContext:\n            privileged: true\n",
	// A chart that renders in lint mode only: it requires a password the
	// pipeline does not give.
	"helmlint/vault/Chart.yaml":                "apiVersion: v2\nname: vault\nversion: 0.1.0\n",
	"helmlint/vault/values.yaml":               "db:\n  password:\n",
	"helmlint/vault/templates/secret.yaml":     "{{ $_ := required \"db.password is required\" .Values.db.password }}\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {{ tpl .Values.db.password . | b64enc }}\n",
	"helmlint/vault/templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-vault\nspec:\n  selector:\n    matchLabels:\n      app: vault\n  template:\n    metadata:\n      labels:\n        app: vault\n    spec:\n      containers:\n        - name: vault\n          image: vault:1.15\n          env:\n            - name: DB_PASSWORD\n              value: {{ required \"db.password is required\" .Values.db.password | quote }}\n",
	"bicep/main.bicep": "param prefix string = 'tg'\n\nresource account 'Microsoft.Storage/storageAccounts@2023-01-01' = {\n  name: '${prefix}store'\n  location: resourceGroup().location\n  kind: 'StorageV2'\n  properties: {\n    supportsHttpsTrafficOnly: false\n    minimumTlsVersion: 'TLS1_0'\n  }\n}\n\n" +
		"resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {\n  name: 'tgvault'\n  location: resourceGroup().location\n  properties: {\n    tenantId: subscription().tenantId\n    sku: {\n      family: 'A'\n      name: 'standard'\n    }\n    enablePurgeProtection: false\n  }\n\n  resource secret 'secrets' = {\n    name: guid(\n      prefix,\n      'db'\n    )\n    properties: {\n      value: 'x'\n    }\n  }\n}\n",
	"dup/pods.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: twin\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: twin\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n",
}

// stabilityTree writes the parity fixtures and the extras into a new
// folder, each file passed through edit (by path).
func stabilityTree(t *testing.T, edit func(rel, content string) string) string {
	t.Helper()
	root := t.TempDir()
	src, err := filepath.Abs("testdata/parity")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(src, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel, c := range stabilityExtras {
		files[rel] = c
	}
	for rel, c := range files {
		if edit != nil {
			c = edit(rel, c)
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// v2 scans a tree and maps each tollgate/v2 fingerprint to "rule path:line".
func v2(t *testing.T, root string) map[string]string {
	t.Helper()
	res := scanOurs(t, root, iac.Options{})
	out := map[string]string{}
	for _, f := range res.Findings {
		if f.FingerprintV2 == "" {
			t.Fatalf("%s %s:%d has no tollgate/v2 fingerprint", f.RuleID, f.Location.Path, f.Location.StartLine)
		}
		if prev, dup := out[f.FingerprintV2]; dup {
			t.Fatalf("two findings share a fingerprint: %s and %s %s:%d", prev, f.RuleID, f.Location.Path, f.Location.StartLine)
		}
		out[f.FingerprintV2] = f.RuleID + " " + f.Location.Path + ":" + strconv.Itoa(f.Location.StartLine)
	}
	return out
}

// churn lists what a baseline comparison would call absent (in base, not in
// now) and new (in now, not in base).
func churn(base, now map[string]string) (absent, added []string) {
	for fp, w := range base {
		if _, ok := now[fp]; !ok {
			absent = append(absent, w)
		}
	}
	for fp, w := range now {
		if _, ok := base[fp]; !ok {
			added = append(added, w)
		}
	}
	slices.Sort(absent)
	slices.Sort(added)
	return absent, added
}

// commentFor is the line comment of a file's format ("" where there is
// none, as in JSON).
func commentFor(rel string) string {
	switch path.Ext(rel) {
	case ".tf", ".tfvars", ".yaml", ".yml", ".py", ".sh", ".ini", ".env", ".rb", ".toml":
		return "# "
	case ".go", ".js", ".ts", ".java", ".cs", ".kt", ".rs", ".bicep":
		return "// "
	}
	if strings.HasSuffix(rel, "Dockerfile") {
		return "# "
	}
	return ""
}

// is reports whether rel is the fixture file name, anywhere in a tree.
func is(rel, name string) bool { return rel == name || strings.HasSuffix(rel, "/"+name) }

// shiftTop inserts blank and comment lines at the top of a file: above
// every finding in it.
func shiftTop(rel, c string) string {
	if strings.HasSuffix(rel, "Chart.yaml") || strings.HasSuffix(rel, "values.yaml") || !utf8.ValidString(c) || strings.ContainsRune(c, 0) {
		return c
	}
	head := strings.Repeat("\n", 5)
	if cm := commentFor(rel); cm != "" {
		head += strings.Repeat(cm+"an unrelated comment\n", 5)
	}
	return head + c
}

var leadingSpace = regexp.MustCompile(`(?m)^( +)`)

// reindent doubles every line's indentation, where the format allows it
// (HCL, YAML, JSON, Dockerfile; not Helm templates, whose indentation is
// set by nindent in the template functions).
func reindent(rel, c string) string {
	if strings.Contains(rel, "/templates/") || !utf8.ValidString(c) || strings.ContainsRune(c, 0) || strings.HasSuffix(rel, ".md") {
		return c
	}
	if ext := path.Ext(rel); ext == ".yaml" || ext == ".yml" {
		// YAML's "- key" makes doubling the spaces wrong: re-encode with a
		// wider indent instead.
		var out bytes.Buffer
		enc := yaml.NewEncoder(&out)
		enc.SetIndent(4)
		dec := yaml.NewDecoder(strings.NewReader(c))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return c
			}
			if err := enc.Encode(&n); err != nil {
				return c
			}
		}
		if enc.Close() != nil {
			return c
		}
		return out.String()
	}
	return leadingSpace.ReplaceAllString(c, "$1$1")
}

// surround adds an unrelated resource above and below each finding of a
// file, in the file's own syntax.
func surround(rel, c string) string {
	switch {
	case strings.HasSuffix(rel, ".tf"):
		r := func(n string) string {
			return "resource \"aws_sqs_queue\" \"" + n + "\" {\n  name = \"" + n + "\"\n}\n"
		}
		return r("unrelated_top") + c + r("unrelated_bottom")
	case is(rel, "cloudformation/stack.yaml"):
		r := func(n string) string {
			return "  " + n + ":\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: " + n + "\n"
		}
		c = strings.Replace(c, "Resources:\n", "Resources:\n"+r("UnrelatedTop"), 1)
		return c + r("UnrelatedBottom")
	case is(rel, "cloudformation/stack.json"):
		return strings.Replace(c, `"Resources": {`, `"Resources": {"UnrelatedTop": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}},`, 1)
	case is(rel, "arm/template.json"):
		kv := `{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "unrelated%s", "location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {"supportsHttpsTrafficOnly": true, "minimumTlsVersion": "TLS1_2"}}`
		c = strings.Replace(c, `"resources": [`, `"resources": [`+strings.Replace(kv, "%s", "top", 1)+",", 1)
		i := strings.LastIndex(c, "]")
		return c[:i] + "," + strings.Replace(kv, "%s", "bottom", 1) + c[i:]
	case is(rel, "k8s/pod.yaml"), is(rel, "dup/pods.yaml"):
		cm := func(n string) string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + n + "\ndata:\n  a: b\n"
		}
		return cm("unrelated-top") + "---\n" + c + "---\n" + cm("unrelated-bottom")
	case strings.HasSuffix(rel, "Dockerfile"):
		return "FROM busybox:1.36 AS unrelated\nRUN true\n\n" + c
	case is(rel, "ansible/site.yml"):
		play := func(n string) string {
			return "- name: " + n + "\n  hosts: localhost\n  tasks:\n    - name: ping\n      ansible.builtin.ping:\n"
		}
		return play("unrelated top") + c + play("unrelated bottom")
	}
	return c
}

// A finding's tollgate/v2 fingerprint comes from what is wrong, not where it
// sits: lines added above it, unrelated resources around it and a re-indent
// leave every result unchanged; renaming its resource makes it new (and the
// old one absent); one check on two resources gives two fingerprints; two
// identical objects in one file stay two, stably.
func TestFingerprintsSurviveEdits(t *testing.T) {
	base := v2(t, stabilityTree(t, nil))
	if len(base) < 80 {
		t.Fatalf("only %d findings: the fixtures should give many more", len(base))
	}
	types := map[string]bool{}
	for _, w := range base {
		dir, _, _ := strings.Cut(strings.Fields(w)[1], "/")
		types[dir] = true
	}
	for _, want := range []string{"terraform", "tfplan", "cloudformation", "arm", "k8s", "helm", "helmlint", "bicep", "docker", "ansible", "dup", "kust"} {
		if !types[want] {
			t.Errorf("no finding in %s: the test would prove nothing there", want)
		}
	}
	for name, edit := range map[string]func(string, string) string{
		"blank and comment lines above": shiftTop,
		"unrelated resources around":    surround,
		"re-indented":                   reindent,
	} {
		t.Run(name, func(t *testing.T) {
			now := v2(t, stabilityTree(t, edit))
			absent, added := churn(base, now)
			if len(absent) > 0 {
				t.Errorf("%d result(s) became absent: %v", len(absent), absent)
			}
			if name != "unrelated resources around" && len(added) > 0 {
				t.Errorf("%d result(s) became new: %v", len(added), added)
			}
		})
	}

	// Renaming a resource: its findings are new, the old ones absent, and
	// nothing else moves.
	for file, rename := range map[string][2]string{
		"terraform/main.tf":         {`"aws_security_group" "db"`, `"aws_security_group" "database"`},
		"cloudformation/stack.yaml": {"  Uploads:", "  UploadsBucket:"},
		"arm/template.json":         {`"name": "parity-sql"`, `"name": "parity-sql-2"`},
		"k8s/pod.yaml":              {"name: shell", "name: sh"},
		"docker/multi.Dockerfile":   {"FROM alpine:3.19", "FROM alpine:3.19 AS runtime"},
		"ansible/site.yml":          {"name: logs bucket", "name: log bucket"},
		"helm/webapp/charts/cache/templates/statefulset.yaml": {"-cache\n", "-redis\n"},
		"helmlint/vault/templates/deployment.yaml":            {"-vault\n", "-db\n"},
		"bicep/main.bicep": {"name: 'tgvault'", "name: 'tgvault2'"},
	} {
		t.Run("rename in "+file, func(t *testing.T) {
			now := v2(t, stabilityTree(t, func(rel, c string) string {
				if rel == file {
					if !strings.Contains(c, rename[0]) {
						t.Fatalf("%s has no %q", rel, rename[0])
					}
					c = strings.Replace(c, rename[0], rename[1], 1)
				}
				return c
			}))
			absent, added := churn(base, now)
			if len(absent) == 0 || len(absent) != len(added) {
				t.Errorf("absent %v, new %v: want the renamed resource's findings, both ways", absent, added)
			}
			for _, w := range append(absent, added...) {
				if !strings.Contains(w, " "+file+":") {
					t.Errorf("%s changed, outside the renamed resource's file", w)
				}
			}
		})
	}

	// One check on two resources: two fingerprints, told apart by the
	// resources' identities, not by an occurrence index.
	byRule := map[string][]string{}
	for fp, w := range base {
		f := strings.Fields(w)
		file, _, _ := strings.Cut(f[1], ":")
		byRule[f[0]+" "+file] = append(byRule[f[0]+" "+file], fp)
	}
	for _, key := range []string{"AWS-0099 terraform/main.tf", "KSV-0001 k8s/pod.yaml", "AWS-0086 ansible/site.yml"} {
		fps := byRule[key]
		if len(fps) < 2 && key != "KSV-0001 k8s/pod.yaml" {
			t.Errorf("%s: %d finding(s), want two resources with it", key, len(fps))
		}
		for _, fp := range fps {
			if strings.Contains(fp, ":") {
				t.Errorf("%s: fingerprint %s needed an occurrence index: the identities do not tell the resources apart", key, fp)
			}
		}
	}
	// Two identical objects: two results, the same ones after a shift.
	if n := len(byRule["KSV-0017 dup/pods.yaml"]) + len(byRule["KSV-0001 dup/pods.yaml"]); n < 2 {
		t.Errorf("the twin pods gave %d findings of one check", n)
	}
}

// The same on a generated monorepo of 1,000 files (every IaC type of the
// fixtures in every service, source code, planted secrets): lines above
// every finding, unrelated resources around, a re-indent: no result new or
// absent, in either engine.
func TestFingerprintsSurviveEditsOnAGeneratedTree(t *testing.T) {
	fixtures, err := filepath.Abs("testdata/parity")
	if err != nil {
		t.Fatal(err)
	}
	gen := func(t *testing.T, edit func(rel, c string) string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "tree")
		if _, err := tree.Generate(context.Background(), dir, tree.Options{Files: 1000, Seed: 7, Fixtures: fixtures}); err != nil {
			t.Fatal(err)
		}
		if edit == nil {
			return dir
		}
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			b, err := os.ReadFile(p)
			if err != nil || len(b) > 1<<20 {
				return err
			}
			if e := edit(filepath.ToSlash(rel), string(b)); e != string(b) {
				return os.WriteFile(p, []byte(e), 0o644)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return dir
	}
	scan := func(t *testing.T, root string) map[string]string {
		t.Helper()
		out := v2(t, root)
		tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer tgt.Close()
		res, err := secrets.New(secrets.Options{}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		res.Normalize()
		for _, f := range res.Findings {
			out["secrets "+f.FingerprintV2] = f.RuleID + " " + f.Location.Path + ":" + strconv.Itoa(f.Location.StartLine)
		}
		return out
	}
	base := scan(t, gen(t, nil))
	secretsFound := 0
	for fp := range base {
		if strings.HasPrefix(fp, "secrets ") {
			secretsFound++
		}
	}
	if len(base) < 500 || secretsFound == 0 {
		t.Fatalf("%d findings (%d secrets): the tree should give many more", len(base), secretsFound)
	}
	for name, edit := range map[string]func(string, string) string{
		"(a) lines above": shiftTop, "(b) resources around": surround, "(c) re-indented": reindent,
	} {
		now := scan(t, gen(t, edit))
		absent, added := churn(base, now)
		t.Logf("%s: %d findings before, %d after; %d new, %d absent", name, len(base), len(now), len(added), len(absent))
		if len(absent) > 0 {
			t.Errorf("%s: %d absent: %v", name, len(absent), head(absent))
		}
		if name != "(b) resources around" && len(added) > 0 {
			t.Errorf("%s: %d new: %v", name, len(added), head(added))
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 10)] }
