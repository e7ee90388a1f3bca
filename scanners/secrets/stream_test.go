package secrets_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners/secrets"
)

// gitleaksCut is where gitleaks' own reader cut the first fragment of a
// long line: 100,000 bytes read, then up to 25,000 more looking for a
// blank line.
const gitleaksCut = 125_000

// straddleToken is the i-th GitHub token of a test, each another.
func straddleToken(i int) string {
	const alphabet = "aB3dE5fG7hJk9LmN2pQr4StUv6WxYz8A1c3EgH5iK7"
	b := []byte("ghp_")
	for j := range 36 {
		b = append(b, alphabet[(i*7+j*5)%len(alphabet)])
	}
	return string(b)
}

// TestSecretAcrossFragmentCuts: a token across a cut between two
// fragments of a file, at several offsets around each cut, is reported
// once, on its line and column. Before, gitleaks' reader cut a long line
// every 100-125 kB with no overlap: a token across a cut was missed, and
// one after the first cut of a line got the column of its fragment.
func TestSecretAcrossFragmentCuts(t *testing.T) {
	const size = 3 << 20
	ends, owned := secrets.SingleLineCuts(t, size)
	if len(ends) < 2 {
		t.Fatalf("a file of %d bytes is cut %d times; the test needs it cut", size, len(ends))
	}
	offsets := []int{gitleaksCut - 20, gitleaksCut - 1, gitleaksCut, 2_000_003}
	for i := range ends {
		offsets = append(offsets, int(ends[i])-20, int(ends[i])-39, int(owned[i])-20, int(owned[i])-1, int(owned[i]))
	}
	type plant struct {
		path       string
		line, col  int
		token      string
		singleLine bool
	}
	var plants []plant
	root := t.TempDir()
	for i, off := range offsets {
		for _, single := range []bool{true, false} {
			tok := straddleToken(len(plants))
			// One long line of code, or lines of 100 bytes (no blank line:
			// nowhere for gitleaks' reader to cut between paragraphs).
			filler := "var a=b+c; "
			if !single {
				filler = strings.Repeat("x=1; ", 19) + "// n\n"
			}
			body := []byte(strings.Repeat(filler, size/len(filler)+1)[:size])
			copy(body[off:], tok)
			line := 1 + strings.Count(string(body[:off]), "\n")
			col := off - strings.LastIndexByte(string(body[:off]), '\n')
			p := plant{fmt.Sprintf("f%02d-%t.js", i, single), line, col, tok, single}
			if err := os.WriteFile(filepath.Join(root, p.path), body, 0o644); err != nil {
				t.Fatal(err)
			}
			plants = append(plants, p)
		}
	}
	res := scanDir(t, root, secrets.Options{})
	for _, p := range plants {
		var at []string
		for _, f := range res.Findings {
			if f.Location.Path == p.path {
				at = append(at, fmt.Sprintf("%s %d:%d-%d", f.RuleID, f.Location.StartLine, f.Location.StartColumn, f.Location.EndColumn))
			}
		}
		want := fmt.Sprintf("github-pat %d:%d-%d", p.line, p.col, p.col+len(p.token))
		if !slices.Equal(at, []string{want}) {
			t.Errorf("%s (one line: %t): found %q, want [%s]", p.path, p.singleLine, at, want)
		}
	}
}

// TestLongLineFindingsKeepTheirPlace: a finding on a long line (a
// minified bundle, a data blob) carries only the line's text around it
// (lineContext bytes each side), in a file read whole and in one read as a
// stream, so its fingerprint does not change when the line changes farther
// away, and 200 tokens on a line of 512 KiB do not hold 200 copies of it.
// Before, each held its whole line (of the fragment, in a file over
// 100 kB), and any edit anywhere on the line changed every fingerprint.
func TestLongLineFindingsKeepTheirPlace(t *testing.T) {
	for _, size := range []int{512 << 10, 3 << 20} {
		t.Run(fmt.Sprintf("%d KiB", size>>10), func(t *testing.T) {
			var tokens []string
			line := func(filler string) []byte {
				body := []byte(strings.Repeat(filler, size/len(filler)+1)[:size])
				for i, off := 0, 1000; off+40 < size; i, off = i+1, off+size/200 {
					copy(body[off:], straddleToken(i))
					if len(tokens) < 200 {
						tokens = append(tokens, straddleToken(i))
					}
				}
				return body
			}
			scan := func(body []byte) map[string]string {
				root := t.TempDir()
				if err := os.WriteFile(filepath.Join(root, "bundle.min.js"), body, 0o644); err != nil {
					t.Fatal(err)
				}
				res := scanDir(t, root, secrets.Options{})
				out := map[string]string{}
				for _, f := range res.Findings {
					if len(f.TieBreak) > 600 {
						t.Errorf("%s at column %d holds %d bytes of its line", f.RuleID, f.Location.StartColumn, len(f.TieBreak))
					}
					out[fmt.Sprint(f.Location.StartColumn)] = f.Fingerprint
				}
				return out
			}
			a := scan(line("var a=b+c; "))
			if len(a) < 190 {
				t.Fatalf("%d findings, want about 200", len(a))
			}
			// The same tokens at the same places, other code between them
			// (more than lineContext bytes away from each).
			b := line("var a=b+c; ")
			for off := 1000 + size/400; off+40 < size; off += size / 200 {
				copy(b[off:], "let z=y*x; ")
			}
			changed := 0
			for col, fp := range scan(b) {
				if a[col] != fp {
					changed++
				}
			}
			if changed > 0 {
				t.Errorf("%d of %d fingerprints changed with the line far from their token", changed, len(a))
			}
		})
	}
}
