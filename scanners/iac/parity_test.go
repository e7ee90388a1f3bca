package iac_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	trivylog "github.com/aquasecurity/trivy/pkg/log"

	"github.com/tollgate/tollgate/internal/isolate"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iac"
)

func TestMain(m *testing.M) {
	// Trivy buffers log records until its logger is initialised.
	trivylog.InitLogger(false, true)
	if len(os.Args) == 3 && os.Args[1] == isolate.Arg {
		// The test binary is the IaC engine's worker (workerOptions), as
		// tollgate is its own.
		isolate.Enter()
		proto := os.Stdout
		os.Stdout = os.Stderr
		if err := iac.ServeWorker(context.Background(), os.Stdin, proto, isolate.Logger(os.Stderr, slog.LevelInfo)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// isolated is opts with the units run in worker processes: this test
// binary again (TestMain).
func isolated(opts iac.Options) iac.Options {
	opts.Worker = []string{os.Args[0], isolate.Arg, scanners.EngineIaC}
	opts.UnitTimeout, opts.UnitMemory = iac.DefaultUnitTimeout, iac.DefaultUnitMemory
	return opts
}

// TestWorkerProcessesGiveTheSameResults: the units checked in worker
// processes give the findings, rules and notifications checked in this
// process give, for every type (the parity fixture with its value files,
// the Kustomize overlays), and every file either way is accounted for.
func TestWorkerProcessesGiveTheSameResults(t *testing.T) {
	values := func(files ...string) []string { return files }
	for _, c := range []struct {
		root string
		opts iac.Options
	}{
		{"testdata/parity", iac.Options{TFVars: values("testdata/parity/terraform/prod.tfvars"),
			CFParams: values("testdata/parity/cloudformation/params.json"), HelmValueFiles: values("testdata/parity/helm/webapp/values-prod.yaml")}},
		{"testdata/kustomize", iac.Options{}},
	} {
		t.Run(c.root, func(t *testing.T) {
			if _, err := os.Stat(c.root); err != nil {
				t.Fatal(err)
			}
			here := scanOurs(t, c.root, c.opts)
			there := scanOurs(t, c.root, isolated(c.opts))
			if len(here.Findings) == 0 {
				t.Fatal("no findings to compare")
			}
			// Every classified file was checked or named (accounting).
			for _, n := range append(here.Status.Notifications, there.Status.Notifications...) {
				if n.Code == "not-checked" {
					t.Errorf("a file left the gate: %s", n.Message)
				}
			}
			encode := func(r scanners.Result) string {
				b, err := json.MarshalIndent(struct {
					F []scanners.Finding
					R []scanners.Rule
					N []scanners.Notification
					S scanners.State
				}{r.Findings, r.Rules, r.Status.Notifications, r.Status.State}, "", " ")
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			if a, b := encode(here), encode(there); a != b {
				t.Errorf("in this process and in workers the results differ (%d and %d findings):\n%s", len(here.Findings), len(there.Findings), firstDiff(a, b))
			}
			// The units did run in workers: with too little memory for
			// a worker to start, each is reported and none checked.
			starved := isolated(c.opts)
			starved.UnitMemory = 8 << 20
			res := scanOurs(t, c.root, starved)
			over := 0
			for _, n := range res.Status.Notifications {
				if n.Code == "over-budget" && strings.Contains(n.Message, "used more than 8MiB of memory") {
					over++
				}
			}
			if len(res.Findings) > 0 || over == 0 || res.Status.State != scanners.Partial {
				t.Errorf("with 8 MiB a unit: %d findings, %d over-budget notifications, state %s", len(res.Findings), over, res.Status.State)
			}
		})
	}
}

// firstDiff shows where two texts part.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  here:    %s\n  workers: %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(al), len(bl))
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

// trivyConfigGolden is testdata/trivy-config.golden.json: what the real
// `trivy config` CLI reported on testdata/parity, recorded by
// testdata/trivy-config.sh (CI does not build Trivy).
type trivyConfigGolden struct {
	Trivy             string            `json:"trivy"`
	TrivyChecks       string            `json:"trivy_checks"`
	MisconfigScanners []string          `json:"misconfig_scanners"`
	TFVars            []string          `json:"tf_vars"`
	CFParams          []string          `json:"cf_params"`
	HelmValues        []string          `json:"helm_values"`
	Files             map[string]string `json:"files"` // files with failures: their type
	Findings          []hit             `json:"findings"`
}

// hit is one finding as the test compares it.
type hit struct {
	ID       string `json:"id"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Resource string `json:"resource"`
	Type     string `json:"type"`
}

func hitOf(f scanners.Finding) hit {
	return hit{ID: f.RuleID, File: f.Location.Path, Line: f.Location.StartLine, Resource: f.Misconfig.Resource, Type: f.Misconfig.FileType}
}

func (h hit) String() string {
	return fmt.Sprintf("%s %s:%d [%s] (%s)", h.ID, h.File, h.Line, h.Resource, h.Type)
}

func readTrivyConfigGolden(t *testing.T) trivyConfigGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/trivy-config.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g trivyConfigGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// trivyType is the engine's name (Trivy's detection.FileType) for a type
// the CLI reports (Trivy's types.ConfigType): they differ for plan JSON.
func trivyType(cli string) string {
	if cli == "terraformplan" {
		return "terraformplan-json"
	}
	return cli
}

// The fixture's plans, where the engine puts their findings (see below).
var fixturePlans = map[string]string{
	"terraformplan-json":     "tfplan/plan.json",
	"terraformplan-snapshot": "tfplan/snapshot/tfplan",
}

// TestParityWithTrivyConfig: on testdata/parity, with the engine's default
// types and a Terraform vars, a CloudFormation parameters and a Helm values
// file, the engine reports what the real `trivy config` CLI reports with the
// same types and files (recorded by testdata/trivy-config.sh): per finding
// the check ID, file, start line, resource and file type, and the same files
// with failures. Two differences are deliberate (README, "Parity with
// gitleaks and Trivy"):
//   - a finding Trivy drops for a trivy:ignore comment is kept, suppressed;
//   - a plan's findings are on the plan file: Trivy puts a JSON plan's on a
//     synthetic "main.tf" and a binary plan's on the paths of the
//     configuration inside it (here "modules/ec2/main.tf"), neither of them
//     a file of the checkout. The engine puts them on the plan, at the line
//     of the resource's "address" in a JSON plan (line 0 in a binary one),
//     with Trivy's resource.
func TestParityWithTrivyConfig(t *testing.T) {
	g := readTrivyConfigGolden(t)

	// The golden is the CLI of go.mod's Trivy, with go.mod's checks: an
	// upgrade of either fails here until trivy-config.sh records it anew.
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for mod, recorded := range map[string]string{"github.com/aquasecurity/trivy": "v" + g.Trivy, "github.com/aquasecurity/trivy-checks": g.TrivyChecks} {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + ` (v\S+)`).FindSubmatch(gomod)
		if m == nil || string(m[1]) != recorded {
			t.Fatalf("trivy-config.golden.json was recorded with %s %s, go.mod has %q: run testdata/trivy-config.sh with that Trivy", mod, recorded, m)
		}
	}
	if g.Trivy != iac.TrivyVersion {
		t.Fatalf("golden Trivy %s, engine %s", g.Trivy, iac.TrivyVersion)
	}
	// The CLI ran with the types the engine checks by default.
	if !slices.Equal(g.MisconfigScanners, iac.TypeNames()) {
		t.Fatalf("trivy-config.sh passes --misconfig-scanners %v; the engine checks %v", g.MisconfigScanners, iac.TypeNames())
	}
	if len(g.Findings) < 100 {
		t.Fatalf("golden has %d findings; the fixture should produce many more", len(g.Findings))
	}

	const root = "testdata/parity"
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	in := func(files []string) []string {
		out := make([]string, len(files))
		for i, f := range files {
			out[i] = root + "/" + f // as the CLI's --tf-vars etc.: relative to the working directory
		}
		return out
	}
	res := scanOurs(t, abs, iac.Options{TFVars: in(g.TFVars), CFParams: in(g.CFParams), HelmValueFiles: in(g.HelmValues)})
	if res.Status.State != scanners.Succeeded || len(res.Status.Notifications) > 0 {
		t.Errorf("state = %s, notifications %+v", res.Status.State, res.Status.Notifications)
	}

	planLines := map[string][]string{}
	for ft, p := range fixturePlans {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		planLines[ft] = strings.Split(string(b), "\n")
	}
	addressLine := func(ft, resource string) int {
		if ft == "terraformplan-snapshot" {
			return 0
		}
		for i, l := range planLines[ft] {
			if strings.Contains(l, `"address": "`+resource+`"`) {
				return i + 1
			}
		}
		t.Fatalf("golden %s finding on %s: no such address in %s (re-record, or fix the fixture)", ft, resource, fixturePlans[ft])
		return 0
	}
	var want []hit
	wantFiles := map[string]string{}
	for _, h := range g.Findings {
		h.Type = trivyType(h.Type)
		if !slices.Contains(iac.TypeNames(), h.Type) {
			t.Fatalf("golden finding %v: a type the engine does not know", h)
		}
		if plan, ok := fixturePlans[h.Type]; ok {
			if _, err := os.Stat(filepath.Join(root, h.File)); err == nil {
				t.Fatalf("golden plan finding %v is on a file of the checkout: the relocation below no longer applies", h)
			}
			h.File, h.Line = plan, addressLine(h.Type, h.Resource)
		}
		want = append(want, h)
		wantFiles[h.File] = h.Type
	}
	if len(wantFiles) != len(g.Files) {
		t.Errorf("golden: %d files with findings, %d with failures", len(wantFiles), len(g.Files))
	}

	var got, suppressed []hit
	gotFiles := map[string]string{}
	for _, f := range res.Findings {
		h := hitOf(f)
		if f.Suppressed() {
			suppressed = append(suppressed, h)
			continue
		}
		got = append(got, h)
		if prev, ok := gotFiles[h.File]; ok && prev != h.Type {
			t.Errorf("%s checked as %s and %s", h.File, prev, h.Type)
		}
		gotFiles[h.File] = h.Type
	}
	extra, missing := diffHits(got, want)
	for _, h := range missing {
		t.Errorf("trivy config reports %v; the engine does not", h)
	}
	for _, h := range extra {
		t.Errorf("the engine reports %v; trivy config does not", h)
	}
	for f, ft := range wantFiles {
		if gotFiles[f] != ft {
			t.Errorf("trivy config: %s (%s) fails; the engine: %q", f, ft, gotFiles[f])
		}
	}
	for f, ft := range gotFiles {
		if _, ok := wantFiles[f]; !ok {
			t.Errorf("the engine fails %s (%s); trivy config does not", f, ft)
		}
	}
	// trivy:ignore drops the finding in Trivy; the engine keeps it, suppressed.
	wantSuppressed := []hit{{ID: "AWS-0107", File: "terraform/main.tf", Line: 29, Resource: "aws_security_group.bastion", Type: "terraform"}}
	if !slices.Equal(suppressed, wantSuppressed) {
		t.Errorf("suppressed = %v, want %v", suppressed, wantSuppressed)
	}

	// Each value file changes a finding, so that the comparison above would
	// fail if the engine left one out: the golden against a scan without
	// them (only once the engine matched the golden; else this repeats it).
	if t.Failed() {
		return
	}
	plain := scanOurs(t, abs, iac.Options{})
	var without []hit
	for _, f := range plain.Findings {
		if !f.Suppressed() {
			without = append(without, hitOf(f))
		}
	}
	onlyWith, onlyWithout := diffHits(want, without)
	byValues := []string{
		"AWS-0026 terraform/main.tf:49",                      // terraform/prod.tfvars: volume_encrypted = false
		"AWS-0135 cloudformation/queue.yaml:12",              // cloudformation/params.json: QueueKey = alias/aws/sqs
		"KSV-0009 helm/webapp/templates/deployment.yaml:6",   // helm/webapp/values-prod.yaml: hostNetwork: true
		"-KSV-0017 helm/webapp/templates/deployment.yaml:18", // helm/webapp/values-prod.yaml: privileged: false
	}
	var changed []string
	for _, h := range onlyWith {
		changed = append(changed, fmt.Sprintf("%s %s:%d", h.ID, h.File, h.Line))
	}
	for _, h := range onlyWithout {
		changed = append(changed, fmt.Sprintf("-%s %s:%d", h.ID, h.File, h.Line))
	}
	slices.Sort(changed)
	slices.Sort(byValues)
	if !slices.Equal(changed, byValues) {
		t.Errorf("the value files change %v; the fixture means them to change %v", changed, byValues)
	}
}

// diffHits returns what a holds and b does not, and what b holds and a
// does not, counting repeats.
func diffHits(a, b []hit) (onlyA, onlyB []hit) {
	left := map[hit]int{}
	for _, h := range b {
		left[h]++
	}
	for _, h := range a {
		if left[h] > 0 {
			left[h]--
		} else {
			onlyA = append(onlyA, h)
		}
	}
	for _, h := range b {
		if left[h] > 0 {
			left[h]--
			onlyB = append(onlyB, h)
		}
	}
	return onlyA, onlyB
}
