package scan

import (
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

// TestParseKnowsTheRegistry: every name and alias of a built-in engine is
// accepted by --scanners, --fail-on and --engine-timeout and means its
// engine; the engines run in registry order; config's test copy of the
// registry (config/config_test.go) matches.
func TestParseKnowsTheRegistry(t *testing.T) {
	reg := Builtin()
	if got := strings.Join(reg.Infos().Names(), ","); got != "secrets,iac,image,deps" {
		t.Fatalf("built-in engines %q", got)
	}
	root := t.TempDir()
	none := func(string) string { return "" }
	for _, e := range reg {
		for _, name := range append([]string{e.Name, strings.ToUpper(e.Name)}, e.Aliases...) {
			args := []string{"--scanners", name, "--fail-on", name + "=low", "--engine-timeout", name + "=1m", root}
			if e.Name == "image" {
				args = append([]string{"--image", "docker-archive:x.tar"}, args...)
			}
			opts, err := config.Parse(t.Context(), reg.Infos(), args, none)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if !slices.Equal(opts.Engines, []string{e.Name}) || opts.Gate.Thresholds.String() != "high,"+e.Name+"=low" || opts.EngineTimeout(e.Name) == 0 {
				t.Errorf("%s: scanners %q, thresholds %s, timeout %s", name, opts.Engines, opts.Gate.Thresholds.String(), opts.EngineTimeout(e.Name))
			}
			if on := reg.Enabled(opts); len(on) != 1 || on[0].Name != e.Name {
				t.Errorf("%s: enabled %q", name, on.Infos().Names())
			}
		}
	}
	// Without --scanners: the engines on by default, in order; the image
	// engine only with images to scan.
	opts, err := config.Parse(t.Context(), reg.Infos(), []string{root}, none)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.Enabled(opts).Infos().Names(), ","); got != "secrets,iac" {
		t.Errorf("default engines %q", got)
	}
	opts, err = config.Parse(t.Context(), reg.Infos(), []string{"--image", "docker-archive:x.tar", root}, none)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.Enabled(opts).Infos().Names(), ","); got != "secrets,iac,image" {
		t.Errorf("default engines with an image %q", got)
	}
	// With the vulnerability DB on disk, the deps engine is on too.
	cache := t.TempDir()
	if err := vulndbtest.Write(vulndb.Dir(cache), vulndbtest.Default()); err != nil {
		t.Fatal(err)
	}
	opts, err = config.Parse(t.Context(), reg.Infos(), []string{"--cache-dir", cache, root}, none)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.Enabled(opts).Infos().Names(), ","); got != "secrets,iac,deps" {
		t.Errorf("default engines with a DB %q", got)
	}
	if got := reg.VersionLines(); len(got) != 2 || !strings.HasPrefix(got[0], "gitleaks ") || !strings.HasPrefix(got[1], "trivy ") {
		t.Errorf("version lines %q", got)
	}
}
