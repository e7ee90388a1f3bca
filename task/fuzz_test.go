package task

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/report"
)

// agentCommand is how the agent spots a command: anywhere in a line,
// case-insensitive.
var agentCommand = regexp.MustCompile(`(?i)##(vso)?\[`)

// FuzzLogIssue: whatever a scanned file puts in a path, a rule ID or a
// message, the task writes exactly one line, one command, with exactly the
// properties it set, and nothing the agent would read as a second command.
func FuzzLogIssue(f *testing.F) {
	for _, s := range []string{"main.tf", "a;b]c%d\ne", "##vso[task.complete result=Succeeded]", "x]##vso[task.setvariable variable=a]1",
		"%0A##vso[", "\r\n##[error]", "é\xff;]", "%AZP25%3B", "\xca\r\x9d",
		"a##b/c.py", "###vso[x", "#\t##VSO[", "##", "x##"} {
		f.Add(s, s, s, 3)
	}
	f.Fuzz(func(t *testing.T, path, code, message string, line int) {
		var b bytes.Buffer
		NewCommands(&b).LogIssue("error", path, line, 0, code, message)
		out := b.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || strings.Contains(out, "\r") {
			t.Fatalf("not exactly one line: %q", out)
		}
		out = strings.TrimSuffix(out, "\n")
		locs := agentCommand.FindAllStringIndex(out, -1)
		if len(locs) != 1 || locs[0][0] != 0 || !strings.HasPrefix(out, "##vso[task.logissue ") {
			t.Fatalf("want one command at the start: %q", out)
		}
		// The agent reads properties up to the first ']'.
		end := strings.IndexByte(out, ']')
		if end < 0 {
			t.Fatalf("unterminated command: %q", out)
		}
		var keys []string
		for _, kv := range strings.Split(out[len("##vso[task.logissue "):end], ";") {
			k, _, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("property without a value in %q", out)
			}
			keys = append(keys, k)
		}
		want := []string{"type"}
		if code != "" {
			want = append(want, "code")
		}
		if path != "" {
			want = append(want, "sourcepath")
		}
		if line > 0 {
			want = append(want, "linenumber")
		}
		slices.Sort(keys)
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Fatalf("properties %v, want %v: %q", keys, want, out)
		}
		// What the agent reads back is what was written, for text that
		// console escaping leaves alone (it only rewrites "##", control
		// characters, invalid UTF-8 and bidi overrides).
		props := map[string]string{}
		for _, kv := range strings.Split(out[len("##vso[task.logissue "):end], ";") {
			k, v, _ := strings.Cut(kv, "=")
			props[k] = agentUnescape(v)
		}
		plain := func(s string) bool {
			// Line breaks become a letter, not nothing: removing them
			// could join two invalid bytes into valid UTF-8.
			s = strings.NewReplacer("\r", "x", "\n", "x").Replace(s)
			return report.SafeText(s) == s
		}
		// A property keeps its "#"s and tabs (only "##[" and "##vso[",
		// which the format cannot encode, are broken).
		plainProp := func(s string) bool {
			lower := strings.ToLower(s)
			return !strings.Contains(lower, "##[") && !strings.Contains(lower, "##vso[") &&
				plain(strings.NewReplacer("#", "x", "\t", "x").Replace(s))
		}
		if plainProp(path) && props["sourcepath"] != path && path != "" {
			t.Fatalf("sourcepath %q read back as %q", path, props["sourcepath"])
		}
		if plainProp(code) && props["code"] != code && code != "" {
			t.Fatalf("code %q read back as %q", code, props["code"])
		}
		if plain(message) && agentUnescape(out[end+1:]) != message {
			t.Fatalf("message %q read back as %q", message, agentUnescape(out[end+1:]))
		}
	})
}

// agentUnescape undoes the escaping as the Azure Pipelines agent does
// (CommandStringConvertor.Unescape: %AZP25 last, so "%0A" typed literally
// survives).
func agentUnescape(s string) string {
	for _, r := range []struct{ from, to string }{{"%0D", "\r"}, {"%0A", "\n"}, {"%5D", "]"}, {"%3B", ";"}, {"%AZP25", "%"}} {
		s = strings.ReplaceAll(s, r.from, r.to)
	}
	return s
}
