package task

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/tollgate/tollgate/report"
)

// Commands writes Azure Pipelines logging commands. Every property and
// message is escaped as the agent expects, and then made safe with
// report.SafeText, so that no text from a scanned file can end a command
// early or form a command of its own anywhere on the line.
type Commands struct {
	mu sync.Mutex // the progress display writes from its own goroutine
	w  io.Writer
}

// NewCommands writes commands to w (the task's stdout).
func NewCommands(w io.Writer) *Commands { return &Commands{w: w} }

// EscapeProperty escapes a command property value.
func EscapeProperty(s string) string {
	return report.SafeText(strings.NewReplacer(
		"%", "%AZP25", "\r", "%0D", "\n", "%0A", ";", "%3B", "]", "%5D",
	).Replace(s))
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
