package versions

import (
	"os"
	"regexp"
	"testing"
)

func TestVersionsFollowGoMod(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for mod, v := range map[string]string{"github.com/aquasecurity/trivy": Trivy, "github.com/zricethezav/gitleaks/v8": Gitleaks} {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + ` v(\S+)`).FindSubmatch(gomod)
		if m == nil {
			t.Fatalf("go.mod does not require %s", mod)
		}
		if string(m[1]) != v {
			t.Errorf("go.mod requires %s v%s; internal/versions says %s", mod, m[1], v)
		}
	}
}
