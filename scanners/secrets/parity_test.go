package secrets_test

import (
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/sources"

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

// gitleaksDir runs the code path of `gitleaks dir .` inside root: the
// Files source with its own walk, the detector with the CLI's defaults, the
// root's .gitleaks.toml and .gitleaksignore.
func gitleaksDir(t *testing.T, root string) []hit {
	t.Helper()
	t.Chdir(root)
	content, err := os.ReadFile(".gitleaks.toml")
	if os.IsNotExist(err) {
		content = nil
	} else if err != nil {
		t.Fatal(err)
	}
	cfg, err := secrets.LoadConfig(".gitleaks.toml", content)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Path = ".gitleaks.toml"
	det := detect.NewDetectorContext(context.Background(), cfg)
	det.MaxDecodeDepth = 5
	if _, err := os.Stat(".gitleaksignore"); err == nil {
		if err := det.AddGitleaksIgnore(".gitleaksignore"); err != nil {
			t.Fatal(err)
		}
	}
	findings, err := det.DetectSource(context.Background(), &sources.Files{
		Config: &cfg, Path: ".", Sema: det.Sema,
	})
	if err != nil {
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
	res, err := secrets.New(secrets.Options{NoExtraRules: true}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
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
