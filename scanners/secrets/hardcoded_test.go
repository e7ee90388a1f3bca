package secrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/secrets"
)

// writeTree writes files (slash paths relative to root).
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// gitIn runs git in dir with a fixed identity, failing the test on error.
func gitIn(t *testing.T, dir string) func(args ...string) {
	return func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func scanDir(t *testing.T, root string, opts secrets.Options) scanners.Result {
	t.Helper()
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := secrets.New(opts, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// found maps "path:line" to the rule IDs reported there.
func found(res scanners.Result) map[string][]string {
	out := map[string][]string{}
	for _, f := range res.Findings {
		k := f.Location.Path + ":" + itoa(f.Location.StartLine)
		out[k] = append(out[k], f.RuleID)
	}
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// The hardcoded class runs in the secrets engine: on by default, medium
// severity, values redacted everywhere, beaten by gitleaks' and the extra
// rules on one secret, and subject to every suppression gitleaks' findings
// are.
func TestHardcodedClassInTheEngine(t *testing.T) {
	const pw = "Quokka2291!"
	ghp := "ghp_" + strings.Repeat("aB3dE5fG7h", 3) + "Jk9LmN"
	root := t.TempDir()
	big := strings.Repeat("# filler line to push the credential into gitleaks' second fragment\n", 2500)
	writeTree(t, root, map[string]string{
		"config/app.yaml":     "database:\n  host: db.internal\n  password: " + pw + "\n",
		"src/client.py":       "password = \"" + ghp + "\"\n",
		".env":                "DB_HOST=db\nDB_PASSWORD=" + pw + "\n",
		"config/allowed.yaml": "smtp:\n  password: " + pw + " # gitleaks:allow\n",
		"big/settings.ini":    big + "[db]\npassword = " + pw + "\n",
		"ok/values.yaml":      "password: ${DB_PASSWORD}\npassword_policy: strict\n",
	})
	res := scanDir(t, root, secrets.Options{})
	got := found(res)
	want := map[string][]string{
		"config/app.yaml:3":     {"tollgate-hardcoded-password"},
		"src/client.py:1":       {"github-pat"},    // gitleaks' rule wins on the same secret
		".env:2":                {"dotenv-secret"}, // so does an extra rule
		"config/allowed.yaml:2": {"tollgate-hardcoded-password"},
		"big/settings.ini:2502": {"tollgate-hardcoded-password"},
	}
	if len(got) != len(want) {
		t.Errorf("findings at %v, want %v", got, want)
	}
	for k, ids := range want {
		if g := got[k]; len(g) != 1 || g[0] != ids[0] {
			t.Errorf("%s: %v, want %v", k, g, ids)
		}
	}
	blob, _ := json.Marshal(res)
	if strings.Contains(string(blob), pw) || strings.Contains(string(blob), ghp) {
		t.Error("a value reached the result")
	}
	var rule *scanners.Rule
	for i := range res.Rules {
		if res.Rules[i].ID == "tollgate-hardcoded-password" {
			rule = &res.Rules[i]
		}
	}
	if rule == nil || rule.Severity != scanners.SeverityMedium || !strings.Contains(rule.HelpURI, "cwe") || rule.Title != "Hardcoded password" {
		t.Errorf("rule %+v", rule)
	}
	for _, f := range res.Findings {
		if !secrets.IsHardcodedRule(f.RuleID) {
			continue
		}
		if f.Severity != scanners.SeverityMedium || f.Secret == nil || f.Secret.Redacted != secrets.Redacted || f.Fingerprint == "" {
			t.Errorf("%s: finding %+v", f.Location.Path, f)
		}
		if f.Location.Path == "config/app.yaml" {
			// password: Quokka2291! — the value starts at column 13.
			if f.Location.StartColumn != 13 || f.Location.EndColumn != 13+len(pw) {
				t.Errorf("columns %d-%d, want 13-%d", f.Location.StartColumn, f.Location.EndColumn, 13+len(pw))
			}
		}
	}
	// gitleaks:allow keeps the finding, suppressed.
	results := []scanners.Result{res}
	policy.Apply(slog.New(slog.DiscardHandler), results, policy.Inline{})
	for _, f := range results[0].Findings {
		if suppressed := f.Suppressed(); suppressed != (f.Location.Path == "config/allowed.yaml") {
			t.Errorf("%s: suppressed=%v", f.Location.Path, suppressed)
		}
	}

	// rule-severity applies to the class; the engine-wide severity does not.
	// The same five findings are there to check (three of the class, two of
	// the other rules): an empty result would check nothing.
	res = scanDir(t, root, secrets.Options{Severity: scanners.SeverityCritical,
		RuleSeverity: map[string]scanners.Severity{"tollgate-hardcoded-*": scanners.SeverityHigh}})
	if g := found(res); fmt.Sprint(g) != fmt.Sprint(got) {
		t.Errorf("with severities set, findings at %v, want those without: %v", g, got)
	}
	for _, f := range res.Findings {
		want := scanners.SeverityCritical
		if secrets.IsHardcodedRule(f.RuleID) {
			want = scanners.SeverityHigh
		}
		if f.Severity != want {
			t.Errorf("%s %s: severity %v, want %v", f.Location.Path, f.RuleID, f.Severity, want)
		}
	}

	// Off, the class reports nothing and the others are unchanged.
	res = scanDir(t, root, secrets.Options{NoHardcoded: true})
	if got := found(res); len(got) != 2 || got["src/client.py:1"] == nil || got[".env:2"] == nil {
		t.Errorf("with the class off: %v", got)
	}

	// A global allowlist of the gitleaks configuration applies to the class.
	// Under the same configuration, a value the allowlist does not match is
	// still reported by the class, and so is the token of gitleaks' rule:
	// the configuration was read and the class ran.
	const other = "Wallaby5530!"
	writeTree(t, root, map[string]string{
		".gitleaks.toml":  "[extend]\nuseDefault = true\n\n[allowlist]\nregexes = ['''^Quokka''']\n",
		"control/db.yaml": "database:\n  password: " + other + "\n",
	})
	res = scanDir(t, root, secrets.Options{})
	for _, f := range res.Findings {
		if secrets.IsHardcodedRule(f.RuleID) && f.Location.Path != "control/db.yaml" {
			t.Errorf("%s:%d %s: allowed by the configuration's allowlist, still reported", f.Location.Path, f.Location.StartLine, f.RuleID)
		}
	}
	if g := found(res); len(g["control/db.yaml:2"]) != 1 || g["control/db.yaml:2"][0] != "tollgate-hardcoded-password" || len(g["src/client.py:1"]) != 1 {
		t.Errorf("with the allowlist, findings at %v, want tollgate-hardcoded-password at control/db.yaml:2 (a value it does not match) and github-pat at src/client.py:1", g)
	}
}

// In commits mode the class reads what the pull request's commits add, with
// the lines of the file in the commit that added them.
func TestHardcodedClassInCommits(t *testing.T) {
	dir := t.TempDir()
	git := gitIn(t, dir)
	writeTree(t, dir, map[string]string{"app/config.yaml": "server:\n  port: 8080\n", "old.ini": "[db]\npassword = Wombat7731!\n"})
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "base")
	git("checkout", "-q", "-b", "pr")
	writeTree(t, dir, map[string]string{"app/config.yaml": "server:\n  port: 8080\nmail:\n  smtp_password: Platypus4410!\n"})
	git("commit", "-q", "-am", "mail")
	res := scanDir(t, dir, secrets.Options{Mode: secrets.ModeCommits, Since: "main"})
	if len(res.Findings) != 1 {
		t.Fatalf("findings %v, want the one the pull request adds", found(res))
	}
	f := res.Findings[0]
	if f.RuleID != "tollgate-hardcoded-password" || f.Location.Path != "app/config.yaml" || f.Location.StartLine != 4 || f.Location.Commit == "" {
		t.Errorf("finding %s at %+v", f.RuleID, f.Location)
	}
}

func TestExplainHardcoded(t *testing.T) {
	r, ok, err := secrets.Explain("tollgate-hardcoded-password", nil)
	if err != nil || !ok {
		t.Fatalf("explain: %v %v", ok, err)
	}
	for _, want := range []string{"Pattern: ", "Keys: ", "Examples (fake values):", "db_password: Summer2024!", "medium severity"} {
		if !strings.Contains(r.Description, want) {
			t.Errorf("explain lacks %q:\n%s", want, r.Description)
		}
	}
	if r.Severity != scanners.SeverityMedium {
		t.Errorf("severity %v", r.Severity)
	}
	if _, ok, _ := secrets.Explain("tollgate-hardcoded-nonesuch", nil); ok {
		t.Error("an unknown hardcoded ID explained")
	}
}

// Every key-based rule explains the pair and list shapes of issue 37: the
// sibling keys among its keys, the pair in its pattern, and an example of
// a pair or list, with its fake value whole.
func TestExplainHardcodedPairs(t *testing.T) {
	for id, example := range map[string]string{
		"tollgate-hardcoded-password": `{"key": "password", "value": "Summer2024!"}`,
		"tollgate-hardcoded-secret":   `{"Name": "CLIENT_SECRET", "Value": "Summer2024!"}`,
		"tollgate-hardcoded-token":    `api_tokens = ["Summer2024Token"]`,
		"tollgate-hardcoded-api-key":  `{"ParameterKey": "StripeApiKey", "ParameterValue": "Summer2024Key"}`,
	} {
		r, ok, err := secrets.Explain(id, nil)
		if err != nil || !ok {
			t.Fatalf("explain %s: %v %v", id, ok, err)
		}
		for _, want := range []string{
			"Keys: ", "name/value, key/value, ParameterKey/ParameterValue, OptionName/Value pairs",
			"Pattern: ", "value|Value|ParameterValue member is a literal",
			"Examples (fake values):", example, "str.format", ".dist, .template",
		} {
			if !strings.Contains(r.Description, want) {
				t.Errorf("explain %s lacks %q:\n%s", id, want, r.Description)
			}
		}
	}
}
