package iac_test

import (
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	_ "github.com/aquasecurity/trivy/pkg/fanal/analyzer/config/all"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact/local"
	"github.com/aquasecurity/trivy/pkg/fanal/walker"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	trivylog "github.com/aquasecurity/trivy/pkg/log"
	"github.com/aquasecurity/trivy/pkg/misconf"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iac"
)

var update = flag.Bool("update", false, "regenerate golden files from Trivy's own `trivy config` code path")

func TestMain(m *testing.M) {
	// Trivy buffers log records until its logger is initialised.
	trivylog.InitLogger(false, true)
	os.Exit(m.Run())
}

type hit struct {
	ID   string `json:"id"`
	File string `json:"file"`
	Line int    `json:"line"`
	// Resource is set on plan findings: Trivy puts them on a synthetic file,
	// so they are located by the resource's address in the plan.
	Resource string `json:"resource,omitempty"`
}

func sortHits(h []hit) {
	slices.SortFunc(h, func(a, b hit) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// trivyConfig runs the code path of `trivy config ROOT`: Trivy's own walker,
// its config analyzers (all but the generic YAML/JSON ones, the CLI default)
// with the embedded checks, and the misconfigurations of the resulting blob.
func trivyConfig(t *testing.T, root string) []hit {
	t.Helper()
	ctx := context.Background()
	opt := misconf.ScannerOption{Namespaces: rego.BuiltinNamespaces()}
	rs, err := misconf.InitRegoScanner(opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.RegoScanner = rs
	c := cache.NewMemoryCache()
	art, err := local.NewArtifact(root, c, walker.NewFS(), artifact.Option{
		DisabledAnalyzers:    []analyzer.Type{analyzer.TypeYAML, analyzer.TypeJSON},
		MisconfScannerOption: opt,
		Parallel:             1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := art.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []hit
	for _, id := range ref.BlobIDs {
		blob, err := c.GetBlob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range blob.Misconfigurations {
			for _, f := range m.Failures {
				h := hit{ID: f.ID, File: m.FilePath, Line: f.CauseMetadata.StartLine}
				if _, err := os.Stat(filepath.Join(root, m.FilePath)); err != nil {
					h.Resource = f.CauseMetadata.Resource
				}
				out = append(out, h)
			}
		}
	}
	sortHits(out)
	return out
}

func readGolden(t *testing.T, path string) []hit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Parity -update to create it)", err)
	}
	var h []hit
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func scanOurs(t *testing.T, root string, opts iac.Options) scanners.Result {
	t.Helper()
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	res, err := iac.New(opts, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
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

func TestParityWithTrivyConfig(t *testing.T) {
	root, err := filepath.Abs("testdata/parity")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(filepath.Dir(root), "parity.golden.json")
	if *update {
		b, _ := json.MarshalIndent(trivyConfig(t, root), "", "  ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readGolden(t, golden)
	if len(want) < 50 {
		t.Fatalf("golden file has %d findings; the fixture should produce many more", len(want))
	}

	res := scanOurs(t, root, iac.Options{})
	if res.Status.State != scanners.Succeeded {
		t.Errorf("state = %s, notifications %+v", res.Status.State, res.Status.Notifications)
	}
	var got, plan []hit
	var suppressed []hit
	for _, f := range res.Findings {
		h := hit{ID: f.RuleID, File: f.Location.Path, Line: f.Location.StartLine}
		switch {
		case f.Suppressed():
			suppressed = append(suppressed, h)
		case f.Misconfig.FileType == "terraformplan-json":
			plan = append(plan, h)
		default:
			got = append(got, h)
		}
	}
	// Trivy puts a plan's findings on a synthetic "main.tf" that does not
	// exist; we put them on the plan file, at the line of the resource's
	// "address" in it. Compare check ID and that line.
	planLines, err := os.ReadFile(filepath.Join(root, "tfplan/plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	addressLine := func(res string) int {
		for i, l := range strings.Split(string(planLines), "\n") {
			if strings.Contains(l, `"address": "`+res+`"`) {
				return i + 1
			}
		}
		return 0
	}
	var wantFiles, wantPlanIDs []hit
	for _, h := range want {
		if _, err := os.Stat(filepath.Join(root, h.File)); err != nil {
			if h.Resource == "" || addressLine(h.Resource) == 0 {
				t.Fatalf("golden plan finding %+v has no resource found in the plan (regenerate with -update)", h)
			}
			wantPlanIDs = append(wantPlanIDs, hit{ID: h.ID, Line: addressLine(h.Resource)})
			continue
		}
		wantFiles = append(wantFiles, h)
	}
	sortHits(got)
	if !slices.Equal(got, wantFiles) {
		t.Errorf("findings differ from trivy config:\n got: %v\nwant: %v", got, wantFiles)
	}
	var gotPlanIDs []hit
	for _, h := range plan {
		if h.File != "tfplan/plan.json" || h.Line < 1 {
			t.Errorf("plan finding %v not on a line of the plan file", h)
		}
		gotPlanIDs = append(gotPlanIDs, hit{ID: h.ID, Line: h.Line})
	}
	sortHits(gotPlanIDs)
	sortHits(wantPlanIDs)
	if len(wantPlanIDs) == 0 || !slices.Equal(gotPlanIDs, wantPlanIDs) {
		t.Errorf("plan findings: got %v, want %v", gotPlanIDs, wantPlanIDs)
	}
	// trivy:ignore drops the finding in Trivy; we keep it, suppressed.
	if want := []hit{{ID: "AWS-0107", File: "terraform/main.tf", Line: 29}}; !slices.Equal(suppressed, want) {
		t.Errorf("suppressed = %v, want %v", suppressed, want)
	}
}

func TestGoldenMatchesTrivy(t *testing.T) {
	root, err := filepath.Abs("testdata/parity")
	if err != nil {
		t.Fatal(err)
	}
	want := readGolden(t, filepath.Join(filepath.Dir(root), "parity.golden.json"))
	if got := trivyConfig(t, root); !slices.Equal(got, want) {
		t.Errorf("trivy config now reports:\n%v\ngolden:\n%v", got, want)
	}
}
