package task

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// agentCommand is how the agent spots a command: anywhere in a line,
// case-insensitive.
var agentCommand = regexp.MustCompile(`(?i)##(vso)?\[`)

// FuzzLogIssue: whatever a scanned file puts in a path, a rule ID or a
// message, the task writes exactly one line, one command, with exactly the
// properties it set, and nothing the agent would read as a second command.
func FuzzLogIssue(f *testing.F) {
	for _, s := range []string{"main.tf", "a;b]c%d\ne", "##vso[task.complete result=Succeeded]", "x]##vso[task.setvariable variable=a]1",
		"%0A##vso[", "\r\n##[error]", "é\xff;]", "%AZP25%3B"} {
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
	})
}
