package report

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// markdownPayloads are the families of hostile text Markdown must keep
// plain: markup and HTML, mentions, line breaks, terminal and pipeline
// commands, XML specials, invalid UTF-8, bidi and invisible characters, URI
// specials, placeholders, and what starts a block at the start of a line.
var markdownPayloads = []string{
	"app/keys.py:2",
	"[Approve this PR](https://evil.example/login)",
	`\[click\](https://evil.example/x)`,
	"![pixel](https://evil.example/p.png)",
	"<img src=x onerror=alert(1)> <b>bold</b> <!-- c -->",
	"<https://evil.example/auto> and https://evil.example/bare and www.evil.example/x",
	"mail me at admin@evil.example",
	"a | b |\n| --- |",
	"`code` *bold* _em_ **strong** ~~strike~~ ~one~",
	"@alice and @[Team]\\Project and @<1234-5678>",
	"# heading", "## h2", "- item", "+ item", "* item", "1. first", "2) second", "> quote", "===", "---", "***", "___",
	"    indented code",
	"```fenced```", "~~~fence~~~",
	"line one\nline two\fform\vfeed\r\u2028sep",
	"\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
	"##vso[task.setvariable variable=x]evil ::error::forged ##[error]x",
	`<?xml version="1.0"?><a href='x'>&amp; &lt; &#64; &copy;</a>`,
	"bad \xff\xfe utf-8",
	"bidi \u202etxt.exe\u202c \u2066x\u2069 zero\u200bwidth \u00adsoft \U000E0041tag",
	"https://user:pass@host/p?q=1&r=2#frag %2e%2e",
	"{0} {{1}} ${HOME} $x$ $$math$$ ^sup^ [^1] [x]: https://evil.example",
	"- [ ] task [x] done",
	"| leading pipe", "\\", "trailing \\",
}

// plainText is what the reader must see: the text on one line, each
// character as SafeText shows it.
func plainText(s string) string {
	var b strings.Builder
	for _, r := range strings.Join(strings.Fields(s), " ") {
		b.WriteString(SafeText(string(r)))
	}
	return b.String()
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// TestMarkdownRendersAsPlainText renders each payload, escaped, with a
// CommonMark parser and GitHub's extensions (tables, autolinks,
// strikethrough, task lists) in a table cell, a list item and at the start
// of a line, and compares what a reader sees with the text itself: one
// cell, no link, image, HTML, emphasis, code, heading, list or quote, and
// the same characters.
func TestMarkdownRendersAsPlainText(t *testing.T) {
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	for _, p := range markdownPayloads {
		esc := Markdown(p)
		want := plainText(p)
		src := []byte("| Rule | Location |\n|---|---|\n| r | " + esc + " |\n\n- **warning** (secrets): " + esc + "\n\n" + esc + "\n")
		doc := md.Parser().Parse(text.NewReader(src))
		var blocks []ast.Node
		for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
			blocks = append(blocks, n)
		}
		if len(blocks) != 3 {
			t.Errorf("%q (escaped %q): %d blocks, want a table, a list and a paragraph", p, esc, len(blocks))
			continue
		}
		table, ok := blocks[0].(*east.Table)
		if !ok || table.ChildCount() != 2 || table.LastChild().ChildCount() != 2 {
			t.Errorf("%q (escaped %q): the table lost its shape", p, esc)
			continue
		}
		list, ok := blocks[1].(*ast.List)
		if !ok || list.ChildCount() != 1 {
			t.Errorf("%q (escaped %q): the list item lost its shape", p, esc)
			continue
		}
		if _, ok := blocks[2].(*ast.Paragraph); !ok {
			t.Errorf("%q (escaped %q): at the start of a line it is a %s, not a paragraph", p, esc, blocks[2].Kind())
			continue
		}
		cell := table.LastChild().LastChild()
		item := list.FirstChild().FirstChild()
		for name, n := range map[string]ast.Node{"cell": cell, "list item": item, "line": blocks[2]} {
			_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
				if !entering {
					return ast.WalkContinue, nil
				}
				switch c.(type) {
				case *ast.Link, *ast.AutoLink, *ast.Image, *ast.RawHTML, *ast.CodeSpan, *east.Strikethrough, *east.TaskCheckBox:
					t.Errorf("%q (escaped %q): the %s holds a %s", p, esc, name, c.Kind())
				case *ast.Emphasis:
					if name != "list item" || c != item.FirstChild() {
						t.Errorf("%q (escaped %q): the %s holds emphasis", p, esc, name)
					}
				}
				return ast.WalkContinue, nil
			})
			var out bytes.Buffer
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				if name == "list item" && c == item.FirstChild() {
					continue // **warning**
				}
				if err := md.Renderer().Render(&out, src, c); err != nil {
					t.Fatal(err)
				}
			}
			got := html.UnescapeString(tagRE.ReplaceAllString(out.String(), ""))
			if name == "list item" {
				got = strings.TrimPrefix(got, " (secrets): ")
			}
			if got != want {
				t.Errorf("%q (escaped %q): the %s reads %q, want %q", p, esc, name, got, want)
			}
		}
	}
}

// TestMarkdownStaysReadable: the raw text escapes what markup needs and no
// more (a file name and line, a sentence, a version).
func TestMarkdownStaysReadable(t *testing.T) {
	for in, want := range map[string]string{
		"app/keys.py:2":                 "app/keys.py:2",
		"a (b) c. d=e {f} !g + h - i":   "a (b) c. d=e {f} !g + h - i",
		"v1.2.3 main.tf:12":             "v1.2.3 main.tf:12",
		"- list":                        `\- list`,
		"12. item":                      `12\. item`,
		"see https://x.example/a":       "see https&#58;//x.example/a",
		"ask @bob or mail a@b.example.": "ask &#64;bob or mail a&#64;b.example.",
		`a\b`:                           `a\\b`,
	} {
		if got := Markdown(in); got != want {
			t.Errorf("Markdown(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSummarySections: what could not be scanned, configuration warnings
// and a pull request's policy changes each go to their own section, a
// policy file the pull request changes once (with its change), another
// file the pipeline names that it changes with the policy changes.
func TestSummarySections(t *testing.T) {
	s := sampleScan()
	s.Warnings = []scanners.Notification{
		{Level: scanners.LevelWarning, Code: "config-key-ignored", Message: "unknown key foo"},
		{Level: scanners.LevelWarning, Code: "policy-changed", Path: ".tollgate.yaml", Message: "this pull request changes the policy file .tollgate.yaml (modified)"},
		{Level: scanners.LevelWarning, Code: "policy-changed", Path: "ci/values.yaml", Message: "this pull request changes ci/values.yaml, which the pipeline names with --helm-values"},
	}
	s.Policy = PolicyReport{PullRequest: true, Origin: "the target branch main", Changes: []PolicyChange{{Path: ".tollgate.yaml", Change: "modified"}}}
	var b bytes.Buffer
	if err := WriteSummary(&b, s, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	for _, part := range strings.Split(b.String(), "\n### ")[1:] {
		title, body, _ := strings.Cut(part, "\n")
		title, _, _ = strings.Cut(title, " (")
		sections[title] = body
	}
	for _, c := range []struct{ section, has string }{
		{"What could not be scanned", "cannot read locked.txt"},
		{"Configuration warnings", "unknown key foo"},
		{"Policy changes in this pull request", ".tollgate.yaml (modified)"},
		{"Policy changes in this pull request", "ci/values.yaml, which the pipeline names"},
	} {
		if !strings.Contains(sections[c.section], c.has) {
			t.Errorf("section %q lacks %q:\n%s", c.section, c.has, b.String())
		}
	}
	if strings.Contains(sections["What could not be scanned"], "unknown key") || strings.Contains(sections["What could not be scanned"], "policy") {
		t.Errorf("configuration and policy warnings listed as what could not be scanned:\n%s", b.String())
	}
	if n := strings.Count(b.String(), "changes the policy file .tollgate.yaml"); n != 0 {
		t.Errorf("the policy file's change is listed twice (as a change and as a warning):\n%s", b.String())
	}
}

// TestSummaryShowsNewFindingsFirst: 25 findings a baseline already has
// cannot push one the change introduces out of the summary's top rows.
func TestSummaryShowsNewFindingsFirst(t *testing.T) {
	res := scanners.Result{Engine: scanners.EngineSecrets, Status: scanners.Status{State: scanners.Succeeded}}
	for i := range 25 {
		res.Findings = append(res.Findings, scanners.Finding{Engine: scanners.EngineSecrets, RuleID: "old", Severity: scanners.SeverityCritical,
			Location: scanners.Location{Path: fmt.Sprintf("a/%02d.py", i), StartLine: 1}, BaselineState: scanners.BaselineUnchanged})
	}
	res.Findings = append(res.Findings, scanners.Finding{Engine: scanners.EngineSecrets, RuleID: "introduced", Severity: scanners.SeverityHigh,
		Location: scanners.Location{Path: "z.py", StartLine: 1}, BaselineState: scanners.BaselineNew})
	s := Scan{Results: []scanners.Result{res}, Gate: policy.Gate{Thresholds: policy.DefaultThresholds()}}
	s.Verdict = s.Gate.Decide(s.Results)
	var b bytes.Buffer
	if err := WriteSummary(&b, s, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(b.String(), "|---|---|---|---|---|\n")
	if first, _, _ := strings.Cut(table, "\n"); !strings.Contains(first, "introduced") {
		t.Errorf("the first row is %q, want the finding the change introduced:\n%s", first, b.String())
	}
}
