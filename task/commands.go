package task

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tollgate/tollgate/report"
)

// Commands writes Azure Pipelines logging commands. Every property and
// message is escaped as the agent expects (EscapeProperty, EscapeMessage),
// so that no text from a scanned file can end a command early or form a
// command of its own anywhere on the line.
type Commands struct {
	mu sync.Mutex // the progress display writes from its own goroutine
	w  io.Writer
}

// NewCommands writes commands to w (the task's stdout).
func NewCommands(w io.Writer) *Commands { return &Commands{w: w} }

// EscapeProperty escapes a command property value as the agent's format
// defines it: ';', CR, LF, ']' and '%' as %3B, %0D, %0A, %5D and %AZP25,
// all that the agent decodes (Command.TryParse, CommandStringConvertor), so
// that the value reads back as it was written: a sourcepath holding "##"
// is that path, and the issue's link works.
//
// The agent acts on one command per line: from the line's first "##vso["
// (the one this line starts with) to the first ']' after it, and every ']'
// of a value is escaped, so no value can end the command or start another.
// "##[" and "##vso[" in a value, which the format has no way to encode,
// are broken all the same ("#\#[", "#\#vso["), so that no line shows a
// second command to whatever else reads the log; any other "#" is left as
// it is. A tab is kept; other control characters, invalid UTF-8 and
// invisible or bidirectional characters are escaped as report.SafeText
// escapes them, since they cannot be shown in the log as they are.
func EscapeProperty(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '%':
			b.WriteString("%AZP25")
		case r == '\r':
			b.WriteString("%0D")
		case r == '\n':
			b.WriteString("%0A")
		case r == ';':
			b.WriteString("%3B")
		case r == ']':
			b.WriteString("%5D")
		case r == '\t':
			b.WriteByte('\t')
		case r == '#':
			if i > 0 && s[i-1] == '#' && opensCommand(s[i+1:]) {
				b.WriteByte('\\')
			}
			b.WriteByte('#')
		default:
			b.WriteString(report.SafeText(s[i : i+size]))
		}
		i += size
	}
	return b.String()
}

// opensCommand reports whether "##" followed by rest reads as a command or
// a log format: "##[" or "##vso[" (in any case).
func opensCommand(rest string) bool {
	return strings.HasPrefix(rest, "[") || len(rest) >= 4 && strings.EqualFold(rest[:4], "vso[")
}

// EscapeMessage escapes a command's message (the text after ']').
func EscapeMessage(s string) string {
	return report.SafeText(strings.NewReplacer("%", "%AZP25", "\r", "%0D", "\n", "%0A").Replace(s))
}

// Command writes ##vso[area.action k=v;...]message with sorted properties.
func (c *Commands) Command(action string, props map[string]string, message string) {
	keys := make([]string, 0, len(props))
	for k, v := range props {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("##vso[")
	b.WriteString(action)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(EscapeProperty(props[k]))
	}
	b.WriteByte(']')
	b.WriteString(EscapeMessage(message))
	b.WriteByte('\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.w, b.String())
}

// LogIssue reports an error or a warning, linked to a file and line.
func (c *Commands) LogIssue(typ, path string, line, col int, code, message string) {
	props := map[string]string{"type": typ, "sourcepath": path, "code": code}
	if line > 0 {
		props["linenumber"] = fmt.Sprint(line)
	}
	if col > 0 {
		props["columnnumber"] = fmt.Sprint(col)
	}
	c.Command("task.logissue", props, message)
}

// SetOutput sets an output variable of the step.
func (c *Commands) SetOutput(name, value string) {
	c.Command("task.setvariable", map[string]string{"variable": name, "isOutput": "true"}, value)
}

// UploadArtifact publishes a file into a build artifact.
func (c *Commands) UploadArtifact(artifact, path string) {
	c.Command("artifact.upload", map[string]string{"containerfolder": artifact, "artifactname": artifact}, path)
}

// UploadSummary attaches a markdown file to the run's summary page.
func (c *Commands) UploadSummary(path string) {
	c.Command("task.uploadsummary", nil, path)
}

// PublishJUnit publishes test results for the Tests tab.
func (c *Commands) PublishJUnit(path, title string) {
	c.Command("results.publish", map[string]string{"type": "JUnit", "resultFiles": path, "runTitle": title, "mergeResults": "false"}, "")
}

// SetProgress shows how far the task is (0-100) beside its step in the
// run's view.
func (c *Commands) SetProgress(percent int, message string) {
	c.Command("task.setprogress", map[string]string{"value": fmt.Sprint(percent)}, message)
}

// Complete sets the task result.
func (c *Commands) Complete(result, message string) {
	c.Command("task.complete", map[string]string{"result": result}, message)
}
