package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
)

// referenceRow is a setting's row of the README's flag reference.
func referenceRow(s scanners.Setting) string {
	arg := s.Arg
	if m := regexp.MustCompile("`([A-Z]+)`").FindStringSubmatch(s.Usage); m != nil {
		arg = m[1]
	}
	flag := "--" + s.Flag
	if !s.Bool {
		if arg == "" {
			arg = "VALUE"
		}
		flag += " " + arg
	}
	key := "`" + s.FileKey() + "`"
	if !s.Repo {
		key += " (pipeline only)"
	}
	usage := strings.ReplaceAll(s.Usage, "`", "")
	usage = strings.ReplaceAll(usage, "|", `\|`)
	if s.Default != "" {
		usage += " (default " + s.Default + ")"
	}
	return fmt.Sprintf("| `%s` | `%s` | %s | %s |", flag, s.Env(), key, usage)
}

// TestREADMEDocumentsEveryFlag: every flag `tollgate help` shows has a row
// in the README's flag reference naming its environment variable and its
// .tollgate.yaml key. TOLLGATE_PRINT_REFERENCE=1 prints the rows.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	print := os.Getenv("TOLLGATE_PRINT_REFERENCE") == "1"
	for _, s := range Settings(testEngines) {
		if s.Flag == "" {
			continue // a .tollgate.yaml key only, in the README's configuration example
		}
		row := referenceRow(s)
		if print {
			fmt.Println(row)
			continue
		}
		found := false
		for _, line := range strings.Split(readme, "\n") {
			if strings.HasPrefix(line, "| `--"+s.Flag+"`") || strings.HasPrefix(line, "| `--"+s.Flag+" ") {
				found = true
				if !strings.Contains(line, "`"+s.Env()+"`") || !strings.Contains(line, "`"+s.FileKey()+"`") {
					t.Errorf("README row of --%s does not name %s and key %s:\n%s", s.Flag, s.Env(), s.FileKey(), line)
				}
				if !s.Repo && !strings.Contains(line, "pipeline only") {
					t.Errorf("README row of --%s does not say the checkout's own file cannot set it:\n%s", s.Flag, line)
				}
			}
		}
		if !found {
			t.Errorf("README has no row for --%s; want:\n%s", s.Flag, row)
		}
	}
}

// TestREADMEConfigExamplesParse: every .tollgate.yaml example in the README
// (a yaml block whose first line names the file) parses, each key known.
func TestREADMEConfigExamplesParse(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(# [^\n]*\\.tollgate\\.yaml[^\n]*\n.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) < 2 {
		t.Fatalf("found %d .tollgate.yaml examples in the README, want the settings and the suppressions ones", len(blocks))
	}
	for _, m := range blocks {
		fc, err := parseFile([]byte(m[1]), Settings(testEngines))
		if err != nil {
			t.Errorf("README example does not parse: %v\n%s", err, m[1])
			continue
		}
		if len(fc.values)+len(fc.ignores) == 0 {
			t.Errorf("README example sets nothing:\n%s", m[1])
		}
	}
}
