package secrets_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners/secrets"
)

const (
	stableTokA = "ghp_Aq8TnW3kRbY6vLm2Xc5Jd9Fh4Gs7Ap1Ue0Io"
	stableTokB = "ghp_Bq8TnW3kRbY6vLm2Xc5Jd9Fh4Gs7Ap1Ue0Io"
)

// secretFiles are the files of the stability test: two different tokens of
// one rule in one file, and one token written twice in another.
func secretFiles() map[string]string {
	return map[string]string{
		"app/settings.py": "import os\n\nclass Config:\n    PRIMARY = \"" + stableTokA + "\"\n    DEBUG = False\n    SECONDARY = \"" + stableTokB + "\"\n",
		"deploy/env.sh":   "export GH_TOKEN=\"" + stableTokA + "\"\necho start\nexport GH_TOKEN_AGAIN=\"" + stableTokA + "\"\n",
	}
}

func secretsV2(t *testing.T, files map[string]string, opts secrets.Options) map[string]string {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	return scanV2(t, root, opts)
}

func scanV2(t *testing.T, root string, opts secrets.Options) map[string]string {
	t.Helper()
	res := scanDir(t, root, opts)
	res.Normalize()
	out := map[string]string{}
	for _, f := range res.Findings {
		if f.RuleID != "github-pat" {
			continue
		}
		out[f.FingerprintV2] = f.Location.Path
	}
	return out
}

func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// A secret's tollgate/v2 fingerprint is its rule, its file and its hashed
// value: lines added above or around it and a re-indent change nothing;
// another value is another finding; two different tokens of one rule in one
// file are two fingerprints, and one token written twice stays two results.
func TestSecretFingerprintsSurviveEdits(t *testing.T) {
	base := secretsV2(t, secretFiles(), secrets.Options{})
	if len(base) != 4 {
		t.Fatalf("%d findings, want 4: %v", len(base), base)
	}
	for fp, path := range base {
		if path == "app/settings.py" && strings.Contains(fp, ":") {
			t.Errorf("two different tokens needed an occurrence index: %s", fp)
		}
	}
	for name, edit := range map[string]func(string) string{
		"blank and comment lines above": func(c string) string { return "\n\n# a comment\n\n" + c },
		"lines around each secret": func(c string) string {
			var b strings.Builder
			for _, l := range strings.SplitAfter(c, "\n") {
				if strings.Contains(l, "ghp_") {
					b.WriteString("# unrelated above\n" + l + "# unrelated below\n")
					continue
				}
				b.WriteString(l)
			}
			return b.String()
		},
		"re-indented": func(c string) string { return strings.ReplaceAll(c, "\n    ", "\n        ") },
	} {
		files := secretFiles()
		for rel, c := range files {
			files[rel] = edit(c)
		}
		if now := secretsV2(t, files, secrets.Options{}); !sameKeys(base, now) {
			t.Errorf("%s: fingerprints changed:\n base %v\n  now %v", name, base, now)
		}
	}
	files := secretFiles()
	files["app/settings.py"] = strings.Replace(files["app/settings.py"], stableTokB, "ghp_Cq8TnW3kRbY6vLm2Xc5Jd9Fh4Gs7Ap1Ue0Io", 1)
	now := secretsV2(t, files, secrets.Options{})
	gone, added := 0, 0
	for fp := range base {
		if _, ok := now[fp]; !ok {
			gone++
		}
	}
	for fp := range now {
		if _, ok := base[fp]; !ok {
			added++
		}
	}
	if gone != 1 || added != 1 {
		t.Errorf("a rotated secret: %d gone, %d new; want one each", gone, added)
	}
}

// In git modes a finding also carries its commit: a later commit that adds
// lines above the secret leaves the finding of the commit that added it
// unchanged, and adds none.
func TestSecretFingerprintsInHistory(t *testing.T) {
	dir := t.TempDir()
	git := gitIn(t, dir)
	write := func(c string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "settings.py"), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	write("TOKEN = \"" + stableTokA + "\"\n")
	git("add", ".")
	git("commit", "-q", "-m", "add")
	base := scanV2(t, dir, secrets.Options{Mode: secrets.ModeHistory})
	if len(base) != 1 {
		t.Fatalf("%d findings in history, want 1", len(base))
	}
	write("\n\n# settings\n\nTOKEN = \"" + stableTokA + "\"\n")
	git("commit", "-q", "-am", "comment")
	if now := scanV2(t, dir, secrets.Options{Mode: secrets.ModeHistory}); !sameKeys(base, now) {
		t.Errorf("history: fingerprints changed:\n base %v\n  now %v", base, now)
	}
}
