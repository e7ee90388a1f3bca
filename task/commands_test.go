package task

import (
	"bytes"
	"strings"
	"testing"
)

// TestSourcePathKeepsHashes: a path with "##" in it is the issue's
// sourcepath exactly as it is, so that the issue links to the file
// (previous code: `sourcepath "a##b/c.py" read back as "a#\\#b/c.py"`);
// "##vso[" and "##[" in a path, which the format cannot encode, still
// never show a second command on the line.
func TestSourcePathKeepsHashes(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{"a##b/c.py", "a##b/c.py"},
		{"###/x#.py", "###/x#.py"},
		{"a\tb/#c.py", "a\tb/#c.py"},
		{"x;y]z%w##.tf", "x;y]z%w##.tf"},
		{"a##vso[task.setvariable variable=x]1.py", `a#\#vso[task.setvariable variable=x]1.py`},
		{"b###VSO[x.py", `b##\#VSO[x.py`},
		{"c##[error]d.py", `c#\#[error]d.py`},
	} {
		var b bytes.Buffer
		NewCommands(&b).LogIssue("error", c.path, 3, 0, "R1", "found ##vso[task.complete result=Succeeded]")
		out := b.String()
		if strings.Count(out, "\n") != 1 {
			t.Fatalf("%q: not one line: %q", c.path, out)
		}
		if locs := agentCommand.FindAllStringIndex(out, -1); len(locs) != 1 || locs[0][0] != 0 {
			t.Errorf("%q: want one command, at the start: %q", c.path, out)
		}
		end := strings.IndexByte(out, ']')
		got := ""
		for _, kv := range strings.Split(out[len("##vso[task.logissue "):end], ";") {
			if v, ok := strings.CutPrefix(kv, "sourcepath="); ok {
				got = agentUnescape(v)
			}
		}
		if got != c.want {
			t.Errorf("sourcepath %q read back as %q, want %q: %q", c.path, got, c.want, out)
		}
	}
}
