package scan

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/scanners"
)

// blocker is an engine that holds until its context ends, then says so, as
// an engine stopped mid-file does.
type blocker struct{ name string }

func (b blocker) Name() string        { return b.name }
func (b blocker) Tool() scanners.Tool { return scanners.Tool{Name: b.name} }
func (b blocker) Scan(ctx context.Context, _ *scanners.Target) (scanners.Result, error) {
	<-ctx.Done()
	return scanners.Result{Engine: b.name}, ctx.Err()
}

func blockers(names ...string) Registry {
	var reg Registry
	for _, n := range names {
		reg = append(reg, Engine{
			EngineInfo: scanners.EngineInfo{Name: n},
			DefaultOn:  func(config.Options) bool { return true },
			New: func(context.Context, config.Options, *slog.Logger, *scanners.ResultCache) scanners.Engine {
				return blocker{name: n}
			},
			Explain: func(string, func(string) string) (scanners.Rule, bool, error) { return scanners.Rule{}, false, nil },
			Version: func() string { return n },
		})
	}
	return reg
}

// TestTimeoutNamesItsLimitInEveryPhase: whichever phase the scan's
// --timeout falls in (listing the files, or an engine at work), or an
// engine's own --engine-timeout, every engine's notification names the
// limit and its value, and the run fails. Each phase is reached on
// purpose: a walk and engines that hold until their context ends, so
// nothing depends on how fast this machine is.
func TestTimeoutNamesItsLimitInEveryPhase(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := blockers("one", "two")
	none := func(string) string { return "" }
	parse := func(args ...string) config.Options {
		t.Helper()
		opts, err := config.Parse(t.Context(), reg.Infos(), append(args, "--no-result-cache", root), none)
		if err != nil {
			t.Fatal(err)
		}
		return opts
	}
	holdingWalk := func(ctx context.Context, _ string, _ scanners.WalkOptions) (*scanners.Target, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	for _, c := range []struct {
		name string
		walk walkFunc
		args []string
		want map[string]string // engine: its notification
	}{
		{"listing files", holdingWalk, []string{"--timeout", "20ms"}, map[string]string{
			"one": "one engine did not run: the scan's --timeout (20ms) was reached while the files were being listed",
			"two": "two engine did not run: the scan's --timeout (20ms) was reached while the files were being listed",
		}},
		{"engines at work", scanners.Walk, []string{"--timeout", "20ms"}, map[string]string{
			"one": "one engine stopped: the scan's --timeout (20ms) was reached",
			"two": "two engine stopped: the scan's --timeout (20ms) was reached",
		}},
		{"an engine's own limit", scanners.Walk, []string{"--scanners", "two", "--timeout", "1h", "--engine-timeout", "two=20ms"}, map[string]string{
			"two": "two engine stopped: its --engine-timeout (two=20ms) was reached",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := parse(c.args...)
			out, err := run(t.Context(), c.walk, slog.New(slog.DiscardHandler), reg, opts, "test", none, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Scan.Results) != len(c.want) {
				t.Fatalf("%d results, want %d", len(out.Scan.Results), len(c.want))
			}
			for _, r := range out.Scan.Results {
				var msgs []string
				for _, n := range r.Status.Notifications {
					msgs = append(msgs, n.Message)
				}
				if r.Status.State != scanners.Failed || !strings.Contains(strings.Join(msgs, "\n"), c.want[r.Engine]) {
					t.Errorf("%s: %s, notifications %q; want failed with %q", r.Engine, r.Status.State, msgs, c.want[r.Engine])
				}
				if len(r.Status.Notifications) == 0 || r.Status.Notifications[0].Code != "timeout" {
					t.Errorf("%s: notifications %+v, want code timeout", r.Engine, r.Status.Notifications)
				}
			}
		})
	}
}

// TestInterruptNamesTheSignal: a scan whose context its maker ended with a
// cause (the CLI's signal handler) says that cause, in whichever phase.
func TestInterruptNamesTheSignal(t *testing.T) {
	reg := blockers("one")
	none := func(string) string { return "" }
	opts, err := config.Parse(t.Context(), reg.Infos(), []string{"--no-result-cache", t.TempDir()}, none)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel(errors.New("the scan was interrupted (SIGTERM)"))
	}()
	out, err := run(ctx, scanners.Walk, slog.New(slog.DiscardHandler), reg, opts, "test", none, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := out.Scan.Results[0]
	if len(r.Status.Notifications) == 0 || !strings.Contains(r.Status.Notifications[0].Message, "the scan was interrupted (SIGTERM)") || r.Status.Notifications[0].Code != "canceled" {
		t.Errorf("notifications %+v", r.Status.Notifications)
	}
}
