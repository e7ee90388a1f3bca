package secrets_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/tollgate/tollgate/internal/fifo"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/secrets"
)

// gitleaks counts [extend] loads in a global; every load must still extend.
func TestLoadConfigExtendsEveryTime(t *testing.T) {
	cfg := []byte("[extend]\nuseDefault = true\n\n[[rules]]\nid = \"x-token\"\nregex = '''XTOK-[0-9]{8}'''\n")
	for i := range 4 {
		c, err := secrets.LoadConfig("test", cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Rules["github-pat"]; !ok {
			t.Fatalf("load %d: default rules missing (%d rules)", i+1, len(c.Rules))
		}
		if _, ok := c.Rules["x-token"]; !ok {
			t.Fatalf("load %d: custom rule missing", i+1)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for name, content := range map[string]string{
		"bad regex": "[[rules]]\nid = \"bad\"\nregex = '''([a-z'''\n",
		"bad toml":  "[[rules]\nid=",
		"no regex":  "[[rules]]\nid = \"empty\"\n",
	} {
		if _, err := secrets.LoadConfig(name, []byte(content)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the config", name, err)
		}
	}
}

func TestSeverityAndBadConfigFile(t *testing.T) {
	root := t.TempDir()
	token := "ghp_" + strings.Repeat("aB3dE5fG7h", 3) + "Jk9LmN"
	if err := os.WriteFile(filepath.Join(root, "a.py"), []byte("t = \""+token+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	log := slog.New(slog.DiscardHandler)
	res, err := secrets.New(secrets.Options{RuleSeverity: map[string]scanners.Severity{"github-*": scanners.SeverityCritical}}, log).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Severity != scanners.SeverityCritical || res.Rules[0].Severity != scanners.SeverityCritical {
		t.Fatalf("findings %+v rules %+v", res.Findings, res.Rules)
	}
	f := res.Findings[0]
	if strings.Contains(f.Message+f.Title+f.Fingerprint+f.Secret.GitleaksFingerprint, token) {
		t.Error("the secret leaked into the finding")
	}
	if f.Location.StartLine != 1 || f.Location.StartColumn < 1 || f.Location.EndColumn <= f.Location.StartColumn {
		t.Errorf("location %+v", f.Location)
	}

	if err := os.WriteFile(filepath.Join(root, ".gitleaks.toml"), []byte("[[rules]]\nid='x'\nregex='''(['''\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.New(secrets.Options{}, log).Scan(context.Background(), tgt); err == nil || !strings.Contains(err.Error(), ".gitleaks.toml") {
		t.Errorf("a broken .gitleaks.toml must fail the engine with its name: %v", err)
	}
}

// A repository's .gitleaks.toml may extend a file of the repository, and
// nothing else: not a file of the scanner's machine, not through a symlink,
// not a FIFO that would hang the load.
func TestExtendPathStaysInTheRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	token := "XTOK-" + strings.Repeat("7", 8)
	for p, content := range map[string]string{
		"repo/config/base.toml": "[[rules]]\nid = \"x-token\"\nregex = '''XTOK-[0-9]{8}'''\nkeywords = [\"xtok\"]\n",
		"repo/src/a.txt":        "key = " + token + "\n",
		"outside.toml":          "[[rules]]\nid = \"outside\"\nregex = '''zzz'''\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(base, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "outside.toml"), filepath.Join(root, "config", "link.toml")); err != nil {
		t.Fatal(err)
	}
	if err := fifo.Make(filepath.Join(root, "config", "fifo.toml")); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	scan := func(extend string) (scanners.Result, error) {
		t.Helper()
		cfg := "[extend]\npath = \"" + extend + "\"\n"
		if err := os.WriteFile(filepath.Join(root, ".gitleaks.toml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer tgt.Close()
		return secrets.New(secrets.Options{NoExtraRules: true}, log).Scan(context.Background(), tgt)
	}
	res, err := scan("config/base.toml")
	if err != nil || len(res.Findings) != 1 || res.Findings[0].RuleID != "x-token" {
		t.Fatalf("extending a file of the repository: %v %+v", err, res.Findings)
	}
	for _, bad := range []string{filepath.Join(base, "outside.toml"), "../outside.toml", "config/link.toml", "config/fifo.toml", "/etc/hostname", "/dev/zero"} {
		if _, err := scan(bad); err == nil || !strings.Contains(err.Error(), ".gitleaks.toml") {
			t.Errorf("extend path %s: error %v, want a refusal naming .gitleaks.toml", bad, err)
		}
	} // Keys that differ only in case: gitleaks (viper) reads keys
	// case-insensitively and keeps one of two at random, so a confined
	// `path` beside an unconfined `PATH` made it read outside the root in
	// about a third of the runs. Refused, every time, whichever way round.
	for _, cfg := range []string{
		"[extend]\npath = \"config/base.toml\"\nPATH = \"/dev/zero\"\n",
		"[extend]\nPATH = \"config/base.toml\"\npath = \"/dev/zero\"\n",
		"[extend]\npath = \"config/base.toml\"\n[EXTEND]\npath = \"/dev/zero\"\n",
		"[[rules]]\nid = \"a\"\nregex = \"a\"\nRegex = \"b\"\n",
	} {
		for range 5 {
			if err := os.WriteFile(filepath.Join(root, ".gitleaks.toml"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = secrets.New(secrets.Options{NoExtraRules: true}, log).Scan(context.Background(), tgt)
			tgt.Close()
			if err == nil || !strings.Contains(err.Error(), "differ only in case") || !strings.Contains(err.Error(), ".gitleaks.toml") {
				t.Fatalf("%q: error %v, want a refusal naming the keys", cfg, err)
			}
		}
	}
}

// A file written as UTF-16 with a byte-order mark (as Windows tools write
// PowerShell scripts and .reg files) is decoded: its secrets are found, on
// their own lines, and redacted; a UTF-16 file without a mark stays binary.
func TestUTF16Files(t *testing.T) {
	root := t.TempDir()
	const tok = "ghp_Zq8TnW3kRbY6vLm2Xc5Jd9Fh4Gs7Ap1Ue0Io"
	encode := func(s string, big bool, bom bool) []byte {
		var out []byte
		if bom {
			if big {
				out = append(out, 0xfe, 0xff)
			} else {
				out = append(out, 0xff, 0xfe)
			}
		}
		for _, u := range utf16.Encode([]rune(s)) {
			if big {
				out = append(out, byte(u>>8), byte(u))
			} else {
				out = append(out, byte(u), byte(u>>8))
			}
		}
		return out
	}
	text := "# deploy\r\n$token = \"" + tok + "\"\r\n"
	// A Latin-1 file that happens to start with the bytes of a mark is not
	// UTF-16: its token is found as written.
	latin1 := append([]byte{0xff, 0xfe, 0xfa, ' ', 'x', '\n'}, []byte("TOKEN="+tok+"\n")...)
	for name, b := range map[string][]byte{"le.ps1": encode(text, false, true), "be.reg": encode(text, true, true), "nobom.txt": encode(text, false, false), "latin1.txt": latin1} {
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := secrets.New(secrets.Options{}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range res.Findings {
		got[fmt.Sprintf("%s %s:%d", f.RuleID, f.Location.Path, f.Location.StartLine)] = true
		if f.Secret.Redacted != secrets.Redacted || strings.Contains(fmt.Sprintf("%+v", f), tok) {
			t.Errorf("%s: the secret is not redacted", f.Location.Path)
		}
	}
	if !got["github-pat le.ps1:2"] || !got["github-pat be.reg:2"] || !got["github-pat latin1.txt:2"] || len(got) != 3 {
		t.Errorf("findings %v, want the token on line 2 of le.ps1, be.reg and latin1.txt only", got)
	}
}

// A custom rule without a description is named by its rule, not by an
// empty title (the console and the SARIF showed nothing).
func TestCustomRuleWithoutDescriptionHasATitle(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, ".gitleaks.toml"), []byte("[[rules]]\nid = \"acme-key\"\nregex = '''ACME-[0-9]{12}'''\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "app.cfg"), []byte("key = ACME-123456789012\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := secrets.New(secrets.Options{}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Title != "Secret matching rule acme-key" || strings.HasPrefix(res.Findings[0].Message, ":") {
		t.Fatalf("findings %+v", res.Findings)
	}
}

// The README's rule for one report per secret, both ways: an extra rule
// stays quiet where a specific gitleaks rule finds the secret, and
// gitleaks' generic-api-key gives way to a specific rule (here the extra
// dotenv-secret), as gitleaks' own filter does; without the extra rules
// generic-api-key reports it.
func TestOneReportPerSecret(t *testing.T) {
	root := t.TempDir()
	pat := "ghp_" + "Zq8TnW3kRbY6vLm2Xc5Jd9Fh4Gs7Ap1Ue0Io"
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte("APP_ENV=prod\nDB_PASSWORD=Xk9v2LqP7wz4Rt8sQ3\nGITHUB_SECRET="+pat+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rules := func(opts secrets.Options) []string {
		tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer tgt.Close()
		res, err := secrets.New(opts, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range res.Findings {
			out = append(out, fmt.Sprintf("%d %s", f.Location.StartLine, f.RuleID))
		}
		slices.Sort(out)
		return out
	}
	if got, want := rules(secrets.Options{}), []string{"2 dotenv-secret", "3 github-pat"}; !slices.Equal(got, want) {
		t.Errorf("with the extra rules: %v, want %v", got, want)
	}
	if got := rules(secrets.Options{NoExtraRules: true}); !slices.Contains(got, "2 generic-api-key") || !slices.Contains(got, "3 github-pat") {
		t.Errorf("without the extra rules: %v, want generic-api-key on line 2", got)
	}
}
