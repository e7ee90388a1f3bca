package iac_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iac"
)

func scanFiles(t *testing.T, files map[string]string) scanners.Result {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := iac.New(iac.Options{}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func findingsIn(res scanners.Result, file string) int {
	n := 0
	for _, f := range res.Findings {
		if f.Location.Path == file {
			n++
		}
	}
	return n
}

func parseErrors(res scanners.Result) map[string]string {
	out := map[string]string{}
	for _, n := range res.Status.Notifications {
		if n.Code == "parse-error" {
			out[n.Path] = n.Message
		}
	}
	return out
}

// TestNoFileLeavesTheGateSilently: a comment line over 64 KiB made
// buildkit's parser refuse a Dockerfile and Trivy skip it (4 findings
// became 0); it is checked now. A Dockerfile line Docker itself cannot read
// is named. YAML with template text ({{resolve:ssm:...}} in CloudFormation)
// used to switch the syntax guard off, and Trivy swallowed the error of a
// bad line: the file is named now, and the same template without the bad
// line is checked with its {{...}} in place.
func TestNoFileLeavesTheGateSilently(t *testing.T) {
	const df = "FROM alpine:latest\nUSER root\nRUN apk add curl\n"
	want := findingsIn(scanFiles(t, map[string]string{"Dockerfile": df}), "Dockerfile")
	if want == 0 {
		t.Fatal("the insecure Dockerfile has no findings")
	}
	long := "# " + strings.Repeat("x", 70_000) + "\n"
	res := scanFiles(t, map[string]string{"Dockerfile": df[:19] + long + df[19:]})
	if got := findingsIn(res, "Dockerfile"); got != want {
		t.Errorf("a 70 kB comment: %d findings, want %d (notifications %v)", got, want, res.Status.Notifications)
	}
	res = scanFiles(t, map[string]string{"Dockerfile": df + "RUN echo " + strings.Repeat("x", 70_000) + "\n"})
	if msg := parseErrors(res)["Dockerfile"]; !strings.Contains(msg, "longer than") && !strings.Contains(msg, "max allowed size") {
		t.Errorf("a 70 kB RUN line: notifications %v, want one naming the Dockerfile and the line length", res.Status.Notifications)
	}

	const cfn = `AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: '{{resolve:ssm:/app/bucket}}'
      AccessControl: PublicReadWrite
`
	good := scanFiles(t, map[string]string{"template.yaml": cfn})
	if findingsIn(good, "template.yaml") == 0 || len(parseErrors(good)) != 0 {
		t.Errorf("a template with {{resolve:...}}: %d findings, parse errors %v; want findings and none", findingsIn(good, "template.yaml"), parseErrors(good))
	}
	bad := scanFiles(t, map[string]string{"template.yaml": cfn + "      Tags: [unclosed\n"})
	if msg := parseErrors(bad)["template.yaml"]; msg == "" {
		t.Errorf("a template with {{resolve:...}} and a bad line: notifications %v, want a parse error naming it", bad.Status.Notifications)
	}
}
