package secrets_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/secrets"
)

var update = flag.Bool("update", false, "regenerate golden files from gitleaks' own `gitleaks dir` code path")

// hit is what parity compares: rule, file and line.
type hit struct {
	Rule string `json:"rule"`
	File string `json:"file"`
	Line int    `json:"line"`
}

func sortHits(h []hit) {
	slices.SortFunc(h, func(a, b hit) int {
		if c := cmpStr(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return cmpStr(a.Rule, b.Rule)
	})
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// gitleaksBinary is the gitleaks CLI, built once from the module this one
// depends on (the same version), so that the reference loads its
// configuration, its .gitleaksignore and walks the tree exactly as users'
// `gitleaks dir` does, with none of Tollgate's code in the path.
var gitleaksBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tollgate-gitleaks-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "gitleaks")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/zricethezav/gitleaks/v8")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building gitleaks: %w\n%s", err, out)
	}
	return bin, nil
})

// gitleaksDir runs `gitleaks dir .` inside root and returns what it reports.
func gitleaksDir(t *testing.T, root string) []hit {
	t.Helper()
	bin, err := gitleaksBinary()
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, "dir", ".", "--no-banner", "--exit-code", "0", "--report-format", "json", "--report-path", report)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gitleaks dir: %v\n%s", err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var findings []struct {
		RuleID, File string
		StartLine    int
	}
	if err := json.Unmarshal(b, &findings); err != nil {
		t.Fatal(err)
	}
	var out []hit
	for _, f := range findings {
		out = append(out, hit{Rule: f.RuleID, File: f.File, Line: f.StartLine})
	}
	sortHits(out)
	return out
}

func scanOurs(t *testing.T, root string) scanners.Result {
	t.Helper()
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := secrets.New(secrets.Options{NoExtraRules: true, NoHardcoded: true}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	// Suppressions are policy's, as in a scan: inline comments and the
	// repository's ignore files.
	rules, err := policy.LoadIgnoreFiles(tgt.Checkout())
	if err != nil {
		t.Fatal(err)
	}
	results := []scanners.Result{res}
	policy.Apply(slog.New(slog.DiscardHandler), results, policy.Inline{}, policy.Ignores{Rules: rules})
	res = results[0]
	res.Normalize()
	return res
}

func TestParityWithGitleaksDir(t *testing.T) {
	root, err := filepath.Abs("testdata/parity")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(filepath.Dir(root), "parity.golden.json")
	if *update {
		b, _ := json.MarshalIndent(gitleaksDir(t, root), "", "  ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want []hit
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run Parity -update to create it)", err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) < 8 {
		t.Fatalf("golden file has %d findings; the fixture should produce many more", len(want))
	}

	res := scanOurs(t, root)
	var got, suppressed []hit
	for _, f := range res.Findings {
		h := hit{Rule: f.RuleID, File: f.Location.Path, Line: f.Location.StartLine}
		if f.Suppressed() {
			suppressed = append(suppressed, h)
			continue
		}
		got = append(got, h)
	}
	sortHits(got)
	if !slices.Equal(got, want) {
		t.Errorf("findings differ from gitleaks dir:\n got: %v\nwant: %v", got, want)
	}
	// What gitleaks drops (inline allow, .gitleaksignore), we keep as suppressed.
	wantSuppressed := []hit{
		{Rule: "github-pat", File: "src/allowed.py", Line: 2},
		{Rule: "gitlab-pat", File: "src/client.go", Line: 6},
	}
	sortHits(suppressed)
	if !slices.Equal(suppressed, wantSuppressed) {
		t.Errorf("suppressed = %v, want %v", suppressed, wantSuppressed)
	}
	for _, f := range res.Findings {
		if f.Secret == nil || f.Secret.Redacted != secrets.Redacted {
			t.Errorf("%s:%d: secret detail not redacted: %+v", f.Location.Path, f.Location.StartLine, f.Secret)
		}
	}
}

// The reference path itself must still agree with the committed golden
// file, so that a gitleaks upgrade cannot silently make the test vacuous.
func TestGoldenMatchesGitleaks(t *testing.T) {
	root, err := filepath.Abs("testdata/parity")
	if err != nil {
		t.Fatal(err)
	}
	var want []hit
	b, err := os.ReadFile(filepath.Join(filepath.Dir(root), "parity.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if got := gitleaksDir(t, root); !slices.Equal(got, want) {
		t.Errorf("gitleaks dir now reports:\n%v\ngolden:\n%v", got, want)
	}
}
