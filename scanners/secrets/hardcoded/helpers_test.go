package hardcoded

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// want is one expected match. col is the 1-based start column; 0 means
// "the first occurrence of value in the line", computed from the fixture.
type want struct {
	line  int
	value string
	rule  string
	key   string
	col   int
}

// tcase is one fixture file and the exact matches it must give; a case
// with no wants is a near miss that must give none.
type tcase struct {
	name string
	path string
	text string
	want []want
}

// gen makes fake credential values from a seeded source, so fixtures hold
// no real credentials and failures reproduce.
type gen struct{ r *rand.Rand }

func newGen(seed int64) *gen { return &gen{r: rand.New(rand.NewSource(seed))} }

// alphabet leaves out letters that could spell placeholder words by chance
// (x, test, fake...).
const alphabet = "abcdghijkmnopqruvwyzABCDGHJKLMNPQRUVWYZ23456789"

func (g *gen) word(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.Intn(len(alphabet))]
	}
	return string(b)
}

// pw is a human-style password: "Pw" + random word + a digit and a symbol.
func (g *gen) pw() string { return "Pw" + g.word(6) + "7!" }

// tok is a token-style value without symbols.
func (g *gen) tok(n int) string { return g.word(n) }

// runCases scans every case and compares the matches exactly.
func runCases(t *testing.T, cases []tcase) {
	t.Helper()
	d := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := d.Scan(c.path, []byte(c.text))
			lines := strings.Split(c.text, "\n")
			var exp []Match
			for _, w := range c.want {
				if w.line < 1 || w.line > len(lines) {
					t.Fatalf("bad fixture: line %d", w.line)
				}
				col := w.col
				if col == 0 {
					i := strings.Index(lines[w.line-1], w.value)
					if i < 0 {
						t.Fatalf("bad fixture: %q not on line %d", w.value, w.line)
					}
					col = i + 1
				}
				exp = append(exp, Match{RuleID: w.rule, Line: w.line, StartCol: col,
					EndCol: col + len(w.value) - 1, Key: w.key, Value: w.value})
			}
			if fmt.Sprint(got) != fmt.Sprint(exp) {
				t.Errorf("%s\n got:\n%s\nwant:\n%s", c.path, fmtMatches(got), fmtMatches(exp))
			}
		})
	}
}

func fmtMatches(ms []Match) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "  %d:%d-%d %s key=%q value=%q\n", m.Line, m.StartCol, m.EndCol, m.RuleID, m.Key, m.Value)
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

// lines joins fixture lines; the first line is line 1.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

const (
	rPassword = "tollgate-hardcoded-password"
	rSecret   = "tollgate-hardcoded-secret"
	rToken    = "tollgate-hardcoded-token"
	rAPIKey   = "tollgate-hardcoded-api-key"
)
