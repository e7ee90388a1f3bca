package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/task"
)

// panicOnce panics on its first write, then keeps what it is given.
type panicOnce struct {
	bytes.Buffer
	done bool
}

func (p *panicOnce) Write(b []byte) (int, error) {
	if !p.done {
		p.done = true
		panic("the writer broke")
	}
	return p.Buffer.Write(b)
}

// A panic of the main goroutine ends in exit 3 (an error), never Go's
// exit 2 (Tollgate's usage error), for the CLI and for the task, which
// still tells the agent the step failed.
func TestPanicIsAnErrorNotAUsageError(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := run(defaultRegistry(), []string{"version"}, &panicOnce{}, &stderr, func(string) string { return "" }); code != policy.ExitScannerFailed {
		t.Errorf("CLI: exit %d, want %d", code, policy.ExitScannerFailed)
	}
	if !strings.Contains(stderr.String(), "internal error") || !strings.Contains(stderr.String(), "the writer broke") {
		t.Errorf("CLI: stderr %q does not name the panic", stderr.String())
	}
	var out bytes.Buffer
	code := task.Run(context.Background(), slog.New(slog.DiscardHandler), scan.Builtin(), &out, func(string) string { panic("the environment broke") }, "test")
	if code != policy.ExitScannerFailed || !strings.Contains(out.String(), "##vso[task.complete result=Failed]") {
		t.Errorf("task: exit %d, output %q; want %d and the step failed", code, out.String(), policy.ExitScannerFailed)
	}
}
