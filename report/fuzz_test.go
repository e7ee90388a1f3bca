package report

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report/sarifcheck"
	"github.com/tollgate/tollgate/scanners"
)

// agentCommand is how the Azure Pipelines agent finds a logging or
// formatting command: anywhere in a line, case-insensitive.
var agentCommand = regexp.MustCompile(`(?i)##(vso)?\[`)

// FuzzSafeText: no escaped text, alone or next to our own text, holds a
// line break, a control character or anything the agent would execute.
func FuzzSafeText(f *testing.F) {
	for _, s := range []string{"##vso[task.setvariable variable=a]b", "#", "##", "#\n#vso[", "\x1b[2J", "\u202e", "a\xffb", "##[error]x", "%0A##vso["} {
		f.Add(s, "prefix #")
	}
	f.Fuzz(func(t *testing.T, s, prefix string) {
		out := SafeText(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		if strings.ContainsAny(out, "\r\n\x00\x1b") || agentCommand.MatchString(out) {
			t.Fatalf("SafeText(%q) = %q", s, out)
		}
		var b bytes.Buffer
		w := NewSafeWriter(&b)
		_, _ = w.Write([]byte(prefix))
		_, _ = w.Write([]byte(s))
		_, _ = w.Write([]byte("\n"))
		for _, line := range strings.Split(b.String(), "\n") {
			if agentCommand.MatchString(line) {
				t.Fatalf("SafeWriter let a command through: %q", line)
			}
		}
	})
}

// FuzzPathURI: every path becomes a relative URI reference with no scheme
// that decodes back to the path.
func FuzzPathURI(f *testing.F) {
	for _, s := range []string{"main.tf", "a b/c#d", "c:/x", "%41", "ü/ñ", "a?b;c]d", "..", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !utf8.ValidString(p) {
			return // paths are UTF-8 strings after the walk
		}
		u := PathURI(p)
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("PathURI(%q) = %q: %v", p, u, err)
		}
		if parsed.Scheme != "" || parsed.Host != "" || parsed.RawQuery != "" || parsed.Fragment != "" {
			t.Fatalf("PathURI(%q) = %q parses as %#v", p, u, parsed)
		}
		back, err := url.PathUnescape(u)
		if want := strings.TrimLeft(p, "/"); err != nil || back != want {
			t.Fatalf("PathURI(%q) = %q decodes to %q (%v), want %q", p, u, back, err, want)
		}
		base, _ := url.Parse("file:///src/root/")
		if got := base.ResolveReference(parsed); !strings.HasPrefix(got.Path, "/src/root/") && got.Path != "/src/root" {
			t.Fatalf("PathURI(%q) = %q resolves outside SRCROOT: %s", p, u, got)
		}
	})
}

// FuzzWriteSARIF: arbitrary finding and notification text always makes a
// JSON log whose strings round-trip and that has no nulls.
func FuzzWriteSARIF(f *testing.F) {
	f.Add("github-pat", "a message", "dir/file.py", "title", "note", 3)
	f.Add("", "", "", "", "", 0)
	f.Add("r\x00\xff", "##vso[x]\u2028", "a:b/c d", "<script>", "\x1b", -5)
	// Every log is checked against the SARIF 2.1.0 schema, compiled once
	// (the Multitool, a process a log, is for the tests' whole logs).
	tool, err := sarifcheck.Multitool(".")
	if err != nil {
		f.Fatal(err)
	}
	schemaPath, err := sarifcheck.SchemaPath(tool)
	if err != nil {
		f.Fatal(err)
	}
	schema, err := sarifcheck.CompileSchema(schemaPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rule, msg, path, title, note string, line int) {
		gate := policy.Gate{Thresholds: policy.DefaultThresholds()}
		res := []scanners.Result{{
			Engine: scanners.EngineSecrets,
			Tool:   scanners.Tool{Name: "gitleaks", Version: "1"},
			Rules:  []scanners.Rule{{ID: rule, Title: title}},
			Findings: []scanners.Finding{{Engine: scanners.EngineSecrets, RuleID: rule, Title: title, Message: msg,
				Location: scanners.Location{Path: path, StartLine: line, EndLine: line - 1}, Fingerprint: "f",
				Suppressions: []scanners.Suppression{{Kind: "external", Justification: note}}}},
			Status: scanners.Status{State: scanners.Succeeded, Notifications: []scanners.Notification{{Level: scanners.LevelWarning, Message: note, Path: path, Line: line}}},
		}}
		var b bytes.Buffer
		if err := WriteSARIF(&b, Scan{Results: res, Gate: gate, Verdict: gate.Decide(res)}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Runs []struct {
				Results []struct {
					Message struct {
						Text string `json:"text"`
					} `json:"message"`
					Locations []struct {
						PhysicalLocation struct {
							Region struct {
								StartLine int `json:"startLine"`
								EndLine   int `json:"endLine"`
							} `json:"region"`
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		if err := schema.Validate(b.Bytes()); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b.Bytes(), []byte(": null")) {
			t.Fatal("null in the log")
		}
		r := doc.Runs[0].Results[0]
		reg := r.Locations[0].PhysicalLocation.Region
		if reg.StartLine < 1 || reg.EndLine < reg.StartLine {
			t.Fatalf("invalid region %+v", reg)
		}
		if want := firstNonEmpty(msg, title, rule); utf8.ValidString(want) && SARIFPlain(r.Message.Text) != want {
			t.Fatalf("message %q came back as %q", want, r.Message.Text)
		}
	})
}

// FuzzReadBaseline: any bytes are either a baseline or a clear error, and
// what reads as a Tollgate log writes back as one.
func FuzzReadBaseline(f *testing.F) {
	f.Add([]byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"gitleaks","rules":[{"id":"x","shortDescription":{"text":"t"}}]}},"properties":{"tollgate/engine":"secrets"},"results":[{"ruleId":"x","message":{"text":"m"},"partialFingerprints":{"tollgate/v1":"abc"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a%20b.txt"},"region":{"startLine":3}}}],"properties":{"severity":"HIGH"}}]}]}`))
	f.Add([]byte(`{"version":"2.1.0","runs":[]}`))
	f.Add([]byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"trivy-image"}},"results":[{"ruleId":"CVE-1","partialFingerprints":{"tollgate/v1":"f"},"locations":[{}],"properties":{"image":"alpine","vulnerability":{"package":"musl"}}}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		set, err := ReadBaseline(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, r := range set.Results {
			if r.Fingerprint == "" || r.Engine == "" {
				t.Fatalf("result without fingerprint or engine: %+v", r)
			}
		}
		l, err := ReadSARIF(b)
		if err != nil {
			t.Fatalf("a baseline that is not a log: %v", err)
		}
		s := Scan{}
		for _, run := range l.Runs {
			s.Results = append(s.Results, run.Result)
		}
		var out bytes.Buffer
		if err := WriteSARIF(&out, s); err != nil {
			t.Fatalf("read, it does not write: %v", err)
		}
		if _, err := ReadSARIF(out.Bytes()); err != nil {
			t.Fatalf("written again, it does not read: %v", err)
		}
	})
}

// FuzzSARIFText: a SARIF message decodes to the text it encodes, and the
// encoded form has no placeholder, no embedded link and no bidi or
// invisible character a viewer would act on.
func FuzzSARIFText(f *testing.F) {
	for _, s := range []string{"{0}", "[Approve](https://evil.example/login)", `a\[b]`, "\u202e", "x\u202ey", "{{}}", `\`, `\u00`, `\u202e`, "line\nbreak"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		enc := SARIFText(s)
		if got := SARIFPlain(enc); got != s {
			t.Fatalf("%q encoded as %q decodes to %q", s, enc, got)
		}
		for i := 0; i < len(enc); i++ {
			switch c := enc[i]; c {
			case '\\':
				i++ // an escape: the next byte is its
			case '[', ']':
				t.Fatalf("%q: unescaped %c in %q", s, c, enc)
			case '{', '}':
				if i+1 >= len(enc) || enc[i+1] != c {
					t.Fatalf("%q: a single %c in %q", s, c, enc)
				}
				i++
			}
		}
		for _, r := range enc {
			if invisible(r) || (r < 0x20 && r != '\n' && r != '\t') {
				t.Fatalf("%q: %U left in %q", s, r, enc)
			}
		}
	})
}
