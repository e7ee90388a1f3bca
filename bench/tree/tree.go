// Package tree generates the benchmark trees: deterministic synthetic
// monorepos (source files, vendored dependencies, Terraform, Kubernetes,
// Helm, ARM, CloudFormation and Dockerfiles taken from the repository's own
// fixtures, a few large files, binaries and a few planted fake secrets).
package tree

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Options shape a tree.
type Options struct {
	// Files is the number of files to write (approximately: within a few).
	Files int
	// Seed makes the tree reproducible.
	Seed uint64
	// Fixtures is the repository's IaC fixture directory
	// (scanners/iac/testdata/parity); every service gets a copy.
	Fixtures string
}

// Stats describe what was written.
type Stats struct {
	Files, IaCFiles, LargeFiles, Secrets int
	Bytes                                int64
	// Planted says where each planted secret is, so that a scan's findings
	// can be compared with them one by one.
	Planted []Plant
}

// Plant is one planted fake secret: the file, its line and the gitleaks rule
// that must report it.
type Plant struct {
	Path string `json:"path"`
	Line int    `json:"line"`
	Rule string `json:"rule"`
}

// Per 100 files: a service of source files and tests, its deployment files,
// docs, and a share of vendored code.
const (
	serviceSize  = 100
	largeEvery   = 3000    // one large file per this many files
	largeSize    = 4 << 20 // bytes
	secretsEvery = 5       // one planted secret per this many services
)

type gen struct {
	r     *rand.Rand
	root  string
	stats Stats
	iac   map[string][]byte // fixture path -> content
}

// Generate writes a tree of about opts.Files files under dir (which must
// not exist or be empty).
func Generate(ctx context.Context, dir string, opts Options) (Stats, error) {
	g := &gen{r: rand.New(rand.NewPCG(opts.Seed, 0x7011_6a7e)), root: dir, iac: map[string][]byte{}}
	if opts.Fixtures != "" {
		err := filepath.WalkDir(opts.Fixtures, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("fixture %s: %w", p, err)
			}
			rel, _ := filepath.Rel(opts.Fixtures, p)
			g.iac[filepath.ToSlash(rel)] = b
			return nil
		})
		if err != nil {
			return Stats{}, fmt.Errorf("reading fixtures: %w", err)
		}
	}
	services := max(1, opts.Files/serviceSize)
	for s := range services {
		if err := ctx.Err(); err != nil {
			return g.stats, err
		}
		if err := g.service(s, opts.Files); err != nil {
			return g.stats, err
		}
	}
	for i := range max(1, opts.Files/largeEvery) {
		if err := g.large(i); err != nil {
			return g.stats, err
		}
	}
	return g.stats, nil
}

func (g *gen) write(rel string, content []byte) error {
	p := filepath.Join(g.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("benchmark tree: %w", err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		return fmt.Errorf("benchmark tree: %w", err)
	}
	g.stats.Files++
	g.stats.Bytes += int64(len(content))
	return nil
}

// service writes one service: about serviceSize files.
func (g *gen) service(n, total int) error {
	name := fmt.Sprintf("svc-%s-%03d", g.word(), n)
	base := "services/" + name
	written := 0
	// Deployment files from the fixtures, renamed so that no two services
	// are identical.
	for rel, content := range g.iac {
		if err := g.write(base+"/deploy/"+rel, rewrite(content, name)); err != nil {
			return err
		}
		g.stats.IaCFiles++
		written++
	}
	for _, doc := range []struct{ rel, text string }{
		{"README.md", g.markdown(name)},
		{"config/app.yaml", g.appConfig(name)},
		{"config/settings.ini", g.ini(name)},
		{".env.example", "DB_HOST=localhost\nDB_USER=app\nDB_PASSWORD=\nAPI_TOKEN=${API_TOKEN}\n"},
	} {
		if err := g.write(base+"/"+doc.rel, []byte(doc.text)); err != nil {
			return err
		}
		written++
	}
	if err := g.write(base+"/assets/logo.png", g.binary(8<<10+g.r.IntN(24<<10))); err != nil {
		return err
	}
	written++
	plant := n%secretsEvery == 0
	vendored := serviceSize / 5
	for i := 0; written < serviceSize-vendored; i++ {
		lang := langs[g.r.IntN(len(langs))]
		rel := fmt.Sprintf("%s/src/%s/%s_%d%s", base, g.word(), g.word(), i, lang.ext)
		text := g.source(lang, 40+g.r.IntN(200))
		if plant && i == 3 {
			text = g.plant(rel, text, lang)
			plant = false
		}
		if err := g.write(rel, []byte(text)); err != nil {
			return err
		}
		written++
	}
	// Vendored code: long, repetitive, sometimes minified.
	for i := range vendored {
		var rel, text string
		if i%2 == 0 {
			rel = fmt.Sprintf("vendor/github.com/%s/%s/%s_%d.go", g.word(), g.word(), g.word(), n*vendored+i)
			text = g.source(langs[0], 80+g.r.IntN(300))
		} else {
			rel = fmt.Sprintf("web/node_modules/%s-%d/dist/index.min.js", g.word(), n*vendored+i)
			text = g.minified(4<<10 + g.r.IntN(60<<10))
		}
		if err := g.write(rel, []byte(text)); err != nil {
			return err
		}
	}
	return nil
}

// large writes one of the few large files: a log, a CSV dump or a bundle.
func (g *gen) large(i int) error {
	var b strings.Builder
	b.Grow(largeSize + 1024)
	var rel string
	switch i % 3 {
	case 0:
		rel = fmt.Sprintf("logs/app-%d.log", i)
		for b.Len() < largeSize {
			fmt.Fprintf(&b, "2026-11-%02dT%02d:%02d:%02d.%03dZ INFO %s request_id=%08x user=%s path=/api/v2/%s/%d status=%d took=%dms\n",
				1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60), g.r.IntN(1000), g.word(), g.r.Uint32(), g.word(), g.word(), g.r.IntN(1e6), 200+g.r.IntN(4)*100, g.r.IntN(900))
		}
	case 1:
		rel = fmt.Sprintf("data/export-%d.csv", i)
		b.WriteString("id,name,email_hash,created,amount,country,notes\n")
		for b.Len() < largeSize {
			fmt.Fprintf(&b, "%d,%s %s,%016x,2025-%02d-%02d,%d.%02d,%s,\"%s %s %s\"\n", g.r.IntN(1e9), g.word(), g.word(), g.r.Uint64(),
				1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(1e5), g.r.IntN(100), countries[g.r.IntN(len(countries))], g.word(), g.word(), g.word())
		}
	default:
		rel = fmt.Sprintf("web/dist/bundle-%d.min.js", i)
		b.WriteString(g.minified(largeSize))
	}
	g.stats.LargeFiles++
	return g.write(rel, []byte(b.String()))
}

func rewrite(content []byte, name string) []byte {
	s := string(content)
	for _, old := range []string{"webapp", "example", "my-app", "app"} {
		s = strings.ReplaceAll(s, old, name)
	}
	return []byte(s)
}

var words = strings.Fields(`account order invoice billing payment customer user session cache queue worker
scheduler report export import search index catalog product price cart checkout shipping inventory
stock audit event metric trace log config settings token auth profile team project member role policy
storage blob bucket file upload download image thumbnail video stream notify email message channel
webhook gateway proxy router handler service client server backend frontend adapter mapper parser`)

var countries = []string{"DE", "FR", "US", "GB", "NL", "SE", "JP", "BR", "IN", "CA"}

func (g *gen) word() string { return words[g.r.IntN(len(words))] }

func (g *gen) ident() string {
	w := g.word()
	return w + strings.ToUpper(g.word()[:1]) + g.word()[1:]
}

type lang struct {
	ext, comment string
	lines        []string // templates: %[1]s ident, %[2]s word, %[3]d number
}

var langs = []lang{
	{".go", "//", []string{
		"func %[1]s(ctx context.Context, id int64) (*%[2]sResult, error) {",
		"\tif err := validate%[1]s(ctx, id); err != nil {",
		"\t\treturn nil, fmt.Errorf(\"%[2]s %%d: %%w\", id, err)",
		"\t}",
		"\turl := fmt.Sprintf(\"https://%[2]s.internal/api/v2/%[2]s/%%d\", id)",
		"\tapiKey := os.Getenv(\"%[2]s_API_KEY\")",
		"\treq.Header.Set(\"Authorization\", \"Bearer \"+token)",
		"\tfor i := 0; i < %[3]d; i++ {",
		"\t\t%[1]s = append(%[1]s, item{ID: i, Name: \"%[2]s\"})",
		"\t}",
		"\treturn &%[2]sResult{Count: %[3]d}, nil",
		"}",
		"type %[1]s struct {",
		"\tID   int64  `json:\"id\"`",
		"\tName string `json:\"name\"`",
		"}",
	}},
	{".py", "#", []string{
		"def %[1]s(session, %[2]s_id: int) -> dict:",
		"    \"\"\"Return the %[2]s for the given id.\"\"\"",
		"    password = os.environ.get(\"%[2]s_PASSWORD\", \"\")",
		"    resp = session.get(f\"https://{HOST}/api/%[2]s/{%[2]s_id}\", timeout=%[3]d)",
		"    if resp.status_code != 200:",
		"        raise %[1]sError(resp.text)",
		"    return {\"id\": %[2]s_id, \"count\": %[3]d}",
		"",
		"class %[1]s(Base):",
		"    token_field = \"%[2]s_token\"",
		"    def secret_name(self):",
		"        return \"%[2]s-secret-%[3]d\"",
	}},
	{".ts", "//", []string{
		"export async function %[1]s(client: HttpClient, id: number): Promise<%[2]s> {",
		"  const res = await client.get(`/api/%[2]s/${id}`, { headers: { authorization: `Bearer ${token}` } });",
		"  if (!res.ok) { throw new Error(`%[2]s ${id}: ${res.status}`); }",
		"  const apiKey = process.env.%[2]s_KEY ?? '';",
		"  return res.json() as Promise<%[2]s>;",
		"}",
		"const %[1]s = items.filter((x) => x.%[2]s > %[3]d).map((x) => x.id);",
	}},
	{".cs", "//", []string{
		"public async Task<%[2]sDto> %[1]s(int id, CancellationToken ct)",
		"{",
		"    var secret = _config[\"%[2]s:ClientSecret\"];",
		"    var conn = _configuration.GetConnectionString(\"%[2]sDb\");",
		"    using var cmd = new SqlCommand(\"SELECT * FROM %[2]s WHERE id = @id\", conn);",
		"    return await _repo.Get%[1]sAsync(id, %[3]d, ct);",
		"}",
	}},
}

func (g *gen) source(l lang, lines int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s Code generated for the Tollgate benchmark. %s %s.\n\n", l.comment, g.word(), g.word())
	for range lines {
		t := l.lines[g.r.IntN(len(l.lines))]
		if g.r.IntN(8) == 0 {
			fmt.Fprintf(&b, "%s %s the %s before the %s is %s\n", l.comment, g.word(), g.word(), g.word(), g.word())
		}
		fmt.Fprintf(&b, t+"\n", g.ident(), g.word(), g.r.IntN(10000))
	}
	return b.String()
}

func (g *gen) minified(n int) string {
	var b strings.Builder
	b.Grow(n + 128)
	b.WriteString("/*! bundle */")
	for b.Len() < n {
		fmt.Fprintf(&b, "var %s=function(e,t){return e.%s(t,%d)||\"%s\"};", g.ident(), g.word(), g.r.IntN(1000), g.word())
	}
	return b.String()
}

func (g *gen) markdown(name string) string {
	return fmt.Sprintf("# %s\n\nThe %s service handles %s and %s.\n\n## Running\n\n```sh\nmake run\ncurl http://localhost:8080/api/%s\n```\n",
		name, name, g.word(), g.word(), g.word())
}

func (g *gen) appConfig(name string) string {
	return fmt.Sprintf("service: %s\nlisten: :8080\nupstream:\n  url: https://%s.internal\n  timeout: %ds\nfeatures: [%s, %s]\n",
		name, g.word(), 1+g.r.IntN(30), g.word(), g.word())
}

func (g *gen) ini(name string) string {
	return fmt.Sprintf("[%s]\nworkers = %d\nlog_level = info\npassword_file = /run/secrets/%s\n", name, 1+g.r.IntN(16), g.word())
}

func (g *gen) binary(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x89PNG\r\n\x1a\n")
	for i := 8; i < n; i++ {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

// plant puts a fake credential (generated, never a real one) into the
// source of file rel, and records where.
func (g *gen) plant(rel, text string, l lang) string {
	rnd := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[g.r.IntN(len(alphabet))]
		}
		return string(b)
	}
	const alnum, upper, b32 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var line, rule string
	switch g.r.IntN(3) {
	case 0:
		line, rule = "GITHUB_TOKEN = \"ghp_"+rnd(alnum, 36)+"\"", "github-pat"
	case 1:
		line, rule = "AWS_ACCESS_KEY_ID = \"AKIA"+rnd(b32, 16)+"\"", "aws-access-token"
	default:
		line, rule = "SLACK_WEBHOOK = \"https://hooks.slack.com/services/T"+rnd(upper, 9)+"/B"+rnd(upper, 9)+"/"+rnd(alnum, 24)+"\"", "slack-webhook-url"
	}
	g.stats.Secrets++
	lines := strings.SplitAfter(text, "\n")
	at := min(len(lines), 5)
	before := strings.Join(lines[:at], "")
	g.stats.Planted = append(g.stats.Planted, Plant{Path: rel, Line: strings.Count(before, "\n") + 2, Rule: rule})
	return before + l.comment + " local test\n" + line + "\n" + strings.Join(lines[at:], "")
}
