package hardcoded

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrecisionGoSource scans the Go distribution's source tree, which holds
// no deployed credential, so every match is either a test fixture or a
// false positive. Each is logged for review; more than 10 fails.
func TestPrecisionGoSource(t *testing.T) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	root := filepath.Join(strings.TrimSpace(string(out)), "src")
	d := New()
	total, files := 0, 0
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil || info.Size() > 2<<20 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		files++
		for _, m := range d.Scan(rel, b) {
			total++
			t.Logf("%s:%d %s key=%q", rel, m.Line, m.RuleID, m.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	t.Logf("%d files, %d matches", files, total)
	// The issue allows 10; none is what the detector achieves, and a
	// regression shows at the first one.
	if total > 0 {
		t.Errorf("%d matches in the Go source tree, want none", total)
	}
}

// corpus builds about size bytes of configuration files and code with few
// candidates, as a repository would have.
func corpus(size int) []struct {
	path string
	data []byte
} {
	g := newGen(99)
	r := rand.New(rand.NewSource(7))
	kinds := []struct {
		path string
		line func(i int) string
	}{
		{"svc/main.go", func(i int) string {
			return fmt.Sprintf("\tx%d := compute(ctx, items[%d], opts.Limit) // step %d", i, i%7, i)
		}},
		{"deploy/values.yaml", func(i int) string {
			return fmt.Sprintf("  replicas%d: %d\n  image: registry.example.org/app:%d", i, i%5, i)
		}},
		{"web/app.js", func(i int) string {
			return fmt.Sprintf("const v%d = items.map((x) => x * %d).filter(Boolean);", i, i)
		}},
		{"config/app.json", func(i int) string {
			return fmt.Sprintf(`  "feature%d": {"enabled": true, "limit": %d, "name": "n%d"},`, i, i, i)
		}},
		{"app/models.py", func(i int) string {
			return fmt.Sprintf("    def method_%d(self, value):\n        return self.items[%d] + value", i, i)
		}},
		{"conf/app.ini", func(i int) string { return fmt.Sprintf("option_%d = value-%d", i, i) }},
	}
	var out []struct {
		path string
		data []byte
	}
	n := 0
	for n < size {
		k := kinds[r.Intn(len(kinds))]
		var b bytes.Buffer
		for i := 0; b.Len() < 64<<10; i++ {
			b.WriteString(k.line(i))
			b.WriteByte('\n')
			if i%500 == 0 {
				// A few candidates: a credential, a reference, a near miss.
				fmt.Fprintf(&b, "password = \"%s\"\ntoken_url = \"https://example.org/token\"\napi_key: ${API_KEY}\n", g.pw())
			}
		}
		out = append(out, struct {
			path string
			data []byte
		}{fmt.Sprintf("f%d/%s", len(out), k.path), b.Bytes()})
		n += b.Len()
	}
	return out
}

// BenchmarkScan reports throughput over a generated 10 MB mixed corpus.
func BenchmarkScan(b *testing.B) {
	files := corpus(10 << 20)
	total := 0
	for _, f := range files {
		total += len(f.data)
	}
	d := New()
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, f := range files {
			d.Scan(f.path, f.data)
		}
	}
}

// FuzzScan checks that Scan never panics and that every match's columns lie
// within its line and select exactly its value.
func FuzzScan(f *testing.F) {
	seeds := []struct{ path, text string }{
		{"a.yaml", "db:\n  password: Summer2024!\n  - name: DB_PASSWORD\n    value: x\n"},
		{"a.json", `{"password": "Summer2024!", "x": "Server=db;Password=abc;"}`},
		{"web.config", `<add key="DbPassword" value="Summer2024!"/><property name="password">` + "\n<value>y</value>"},
		{".env", "DB_PASSWORD=Summer2024!\r\nURL=redis://:abcd@h\n"},
		{"main.tf", "variable \"db_password\" {\n default = \"abcd1234\"\n}\n"},
		{"Dockerfile", "ENV A_PASSWORD=abcd1234 B=1\nRUN mysql -pabcd1234\n"},
		{"x.py", "password = 'abcd1234'\nif token == \"abc\\\"def\":"},
		{"x.sh", "export PASS='ab''cd'\ncurl -u a:bcdef https://x\n"},
		{"x.html", "<input type=password value='abcd1234'>"},
		{".pgpass", "h:5432:d:u:abc\\:d\n"},
		{".netrc", "machine a login b password\nc\n"},
		{"dump.sql", "CREATE TABLE u (id int, password text);\nINSERT INTO u VALUES (1,'$2y$10$abc'),(2,'x\nyz');"},
		{"x.txt", "https://hooks.slack.com/services/T123456789/B123456789/abcdefghijklmnopqrstuvwx"},
		{".htpasswd", "a:$apr1$x$y\n"},
	}
	for _, s := range seeds {
		f.Add(s.path, []byte(s.text))
	}
	d := New()
	f.Fuzz(func(t *testing.T, path string, content []byte) {
		lines := bytes.Split(content, []byte{'\n'})
		for _, m := range d.Scan(path, content) {
			if m.Line < 1 || m.Line > len(lines) {
				t.Fatalf("line %d out of range", m.Line)
			}
			line := lines[m.Line-1]
			if m.StartCol < 1 || m.EndCol < m.StartCol || m.EndCol > len(line) {
				t.Fatalf("%+v: columns outside line of %d bytes", m, len(line))
			}
			if string(line[m.StartCol-1:m.EndCol]) != m.Value {
				t.Fatalf("%+v: line bytes %q", m, line[m.StartCol-1:m.EndCol])
			}
		}
	})
}
