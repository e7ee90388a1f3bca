package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/bench"
	"github.com/tollgate/tollgate/bench/tree"
	"github.com/tollgate/tollgate/internal/tollgatebin"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/report/sarifcheck"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/secrets"
)

func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

func genTree(tb testing.TB, files int) (string, tree.Stats) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "tree")
	st, err := tree.Generate(context.Background(), dir, tree.Options{Files: files, Seed: 42,
		Fixtures: filepath.Join(repoRoot(tb), "scanners", "iac", "testdata", "parity")})
	if err != nil {
		tb.Fatal(err)
	}
	return dir, st
}

// The trees are reproducible: the same seed writes the same files.
func TestTreeIsDeterministic(t *testing.T) {
	a, sa := genTree(t, 300)
	b, sb := genTree(t, 300)
	if !reflect.DeepEqual(sa, sb) {
		t.Fatalf("stats differ: %+v vs %+v", sa, sb)
	}
	if sa.Files < 290 || sa.IaCFiles == 0 || sa.LargeFiles == 0 || sa.Secrets == 0 {
		t.Fatalf("tree lacks a kind of file: %+v", sa)
	}
	err := filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || string(x) != string(y) {
			return fmt.Errorf("%s differs between two generations (%v)", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The benchmark's smoke mode, as CI runs it: a small tree, one run, no
// peers (their builds are for the real benchmark). It checks the harness
// and that Tollgate finds what the generator planted; it times nothing.
func TestSmoke(t *testing.T) {
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := tollgatebin.Path(ctx, repoRoot(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := bench.Run(ctx, bench.Config{Tollgate: bin, Work: work, RepoRoot: repoRoot(t), Sizes: []int{200}, Runs: 1, ImagePackages: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Trees) != 3 || res.Image == nil {
		t.Fatalf("rows: %d trees, image %v", len(res.Trees), res.Image != nil)
	}
	var table strings.Builder
	res.Markdown(&table)
	for _, want := range []string{"| empty (start-up) | 0 |", "| monorepo 200 |", "| image, 20 packages |", "start-up (empty directory"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	// Tollgate finds every secret the generator planted.
	var stats tree.Stats
	done, err := os.ReadFile(filepath.Join(work, "trees", "mono-200.done"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(done, &stats); err != nil {
		t.Fatalf("tree stats %q: %v", done, err)
	}
	sarifPath := filepath.Join(work, "mono.sarif")
	out, err := exec.Command(bin, "scan", "--scanners", "secrets", "--fail-on", "none", "--quiet", "--sarif", sarifPath, filepath.Join(work, "trees", "mono-200")).CombinedOutput()
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, out)
	}
	results, err := sarifcheck.Results(sarifPath)
	if err != nil {
		t.Fatal(err)
	}
	// The same set: every planted secret where it was planted, by its rule,
	// and nothing else.
	var got, want []string
	for _, r := range results {
		got = append(got, fmt.Sprintf("%s %s:%d", r.RuleID, r.URI, r.Line))
	}
	for _, p := range stats.Planted {
		want = append(want, fmt.Sprintf("%s %s:%d", p.Rule, p.Path, p.Line))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) != stats.Secrets || len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("findings differ from the planted secrets:\n got %v\nwant %v", got, want)
	}
}

// BenchmarkWalk measures the shared directory walk on a 10,000-file tree.
func BenchmarkWalk(b *testing.B) {
	dir, st := genTree(b, 10000)
	b.ReportMetric(float64(st.Files), "files")
	b.ResetTimer()
	for range b.N {
		t, err := scanners.Walk(context.Background(), dir, scanners.WalkOptions{})
		if err != nil {
			b.Fatal(err)
		}
		t.Close()
	}
}

// BenchmarkSecrets measures secret detection per MB (SetBytes: MB/s).
func BenchmarkSecrets(b *testing.B) {
	dir, st := genTree(b, 2000)
	t, err := scanners.Walk(context.Background(), dir, scanners.WalkOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	eng := secrets.New(secrets.Options{}, slog.New(slog.DiscardHandler))
	b.SetBytes(st.Bytes)
	b.ResetTimer()
	for range b.N {
		res, err := eng.Scan(context.Background(), t)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Findings) < st.Secrets {
			b.Fatalf("%d findings, %d planted", len(res.Findings), st.Secrets)
		}
	}
}

// benchScan is a scan of 10,000 misconfigurations and 10,000 secrets, each
// with its engine's detail, as a log carries them.
func benchScan() report.Scan {
	iac := scanners.Result{Engine: scanners.EngineIaC, Status: scanners.Status{State: scanners.Succeeded}, Tool: scanners.Tool{Name: "trivy", Version: "0.74.0"}}
	sec := scanners.Result{Engine: scanners.EngineSecrets, Status: scanners.Status{State: scanners.Succeeded}, Tool: scanners.Tool{Name: "gitleaks", Version: "8.30.1"}}
	for i := range 50 {
		iac.Rules = append(iac.Rules, scanners.Rule{ID: fmt.Sprintf("KSV-%04d", i), Title: "rule", Description: "description", Severity: scanners.SeverityHigh})
		sec.Rules = append(sec.Rules, scanners.Rule{ID: fmt.Sprintf("secret-%d", i), Title: "secret", Description: "description", Severity: scanners.SeverityHigh})
	}
	for i := range 10000 {
		iac.Findings = append(iac.Findings, scanners.Finding{
			Engine: scanners.EngineIaC, RuleID: fmt.Sprintf("KSV-%04d", i%50), Title: "title", Severity: scanners.SeverityHigh,
			Message:     fmt.Sprintf("Container %d of deployment web-%d should set securityContext.runAsNonRoot", i, i/10),
			Location:    scanners.Location{Path: fmt.Sprintf("services/svc-%d/deploy/k8s/pod.yaml", i/10), StartLine: 10 + i%40, EndLine: 12 + i%40},
			Fingerprint: fmt.Sprintf("%064x", i), FingerprintV2: fmt.Sprintf("%064x", i+1),
			Misconfig: &scanners.MisconfigDetail{FileType: "kubernetes", Resource: fmt.Sprintf("Deployment/web-%d", i/10), Provider: "Kubernetes", Service: "general", Resolution: "Set runAsNonRoot"},
		})
		sec.Findings = append(sec.Findings, scanners.Finding{
			Engine: scanners.EngineSecrets, RuleID: fmt.Sprintf("secret-%d", i%50), Title: "title", Severity: scanners.SeverityHigh,
			Message:     "A secret was found",
			Location:    scanners.Location{Path: fmt.Sprintf("services/svc-%d/config/app-%d.env", i/10, i), StartLine: 3, EndLine: 3, StartColumn: 5, EndColumn: 44},
			Fingerprint: fmt.Sprintf("%064x", i+2), Tags: []string{"secret", "key"},
			Secret: &scanners.SecretDetail{Redacted: "AKIA****", GitleaksFingerprint: fmt.Sprintf("services/svc-%d/config/app-%d.env:secret-%d:3", i/10, i, i%50)},
		})
	}
	return report.Scan{Root: "/src", Results: []scanners.Result{sec, iac}, ToolVersion: "bench"}
}

// BenchmarkSARIF measures writing a log of 20,000 results.
func BenchmarkSARIF(b *testing.B) {
	scan := benchScan()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := report.WriteSARIF(io.Discard, scan); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadSARIF measures reading that log back, as `tollgate merge`
// reads each shard's log.
func BenchmarkReadSARIF(b *testing.B) {
	var buf bytes.Buffer
	if err := report.WriteSARIF(&buf, benchScan()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l, err := report.ReadSARIFFrom(bytes.NewReader(buf.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		if n := len(l.Runs[0].Result.Findings) + len(l.Runs[1].Result.Findings); n != 20000 {
			b.Fatalf("%d results read, 20000 written", n)
		}
	}
}
