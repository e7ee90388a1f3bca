package iac_test

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
)

// TestModuleCyclesAreStillChecked: one module block that calls its own
// directory (or two directories that call each other) left Trivy without a
// root module, so nothing was checked: 7 of 11 failing findings became
// PASS (`trivy config` on the same directories: 11, then 0). The
// directories are checked now, with the same findings as without the
// block, and a warning names the block.
func TestModuleCyclesAreStillChecked(t *testing.T) {
	const insecure = `resource "aws_s3_bucket" "b" {
  bucket = "b"
  acl    = "public-read-write"
}

resource "aws_security_group" "ssh" {
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
`
	scan := func(files map[string]string) scanners.Result { t.Helper(); return scanFiles(t, files) }
	count := findingsIn
	cycles := func(res scanners.Result) []string {
		var out []string
		for _, n := range res.Status.Notifications {
			if n.Code == "terraform-module-cycle" {
				out = append(out, n.Path+":"+n.Message)
			}
		}
		return out
	}
	plain := scan(map[string]string{"infra/main.tf": insecure})
	want := count(plain, "infra/main.tf")
	if want == 0 {
		t.Fatal("the insecure configuration has no findings")
	}
	self := scan(map[string]string{"infra/main.tf": insecure + "\nmodule \"x\" {\n  source = \"./\"\n}\n"})
	if got := count(self, "infra/main.tf"); got != want {
		t.Errorf("a module calling its own directory: %d findings, want %d as without it", got, want)
	}
	if c := cycles(self); len(c) != 1 || !strings.Contains(c[0], "infra/main.tf line 15 calls its own directory") {
		t.Errorf("warnings %q, want one naming infra/main.tf line 15", c)
	}
	pair := scan(map[string]string{
		"a/main.tf": insecure + "\nmodule \"b\" {\n  source = \"../b\"\n}\n",
		"b/main.tf": insecure + "\nmodule \"a\" {\n  source = \"../a\"\n}\n",
	})
	if count(pair, "a/main.tf") == 0 || count(pair, "b/main.tf") == 0 {
		t.Errorf("two modules calling each other: findings in a %d, in b %d; want both checked", count(pair, "a/main.tf"), count(pair, "b/main.tf"))
	}
	if c := cycles(pair); len(c) != 1 || !strings.HasPrefix(c[0], "b/main.tf:") {
		t.Errorf("warnings %q, want one naming b/main.tf's call of a", c)
	}
}
