// Package progress shows a scan's progress on stderr while it runs, from
// the engines' counts (scanners.Meter): on a terminal a live line per
// engine (files read, IaC groups scanned, images scanned, of how many),
// in logs one line at most every ten seconds, and only for scans that take
// longer than that. stdout is never written: it is the report's.
package progress

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/tollgate/tollgate/scanners"
)

// Mode is how progress is shown.
type Mode int

// Progress modes.
const (
	// Off shows nothing (--quiet).
	Off Mode = iota
	// Live redraws a line per engine on a terminal.
	Live
	// Lines logs a progress line at most every Interval.
	Lines
)

// DefaultInterval is the least time between two progress lines in Lines
// mode, and how long a scan runs before the first.
const DefaultInterval = 10 * time.Second

// ModeFor chooses the mode for a scan whose logs go to stderr: Off when
// quiet, Lines in a pipeline (TF_BUILD, set by the Azure Pipelines agent),
// when stderr is not a terminal or is a terminal too small to draw on (one
// that reports its size as 0x0, as some containers' and CI runners' ptys
// do: the live bars would draw nothing), Live otherwise.
func ModeFor(stderr io.Writer, quiet bool, getenv func(string) string) Mode {
	switch {
	case quiet:
		return Off
	case getenv("TF_BUILD") != "" || !IsTerminal(stderr) || !drawable(stderr):
		return Lines
	default:
		return Live
	}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// minColumns is the narrowest terminal the live lines are drawn on (an
// engine's name, its count and a short bar).
const minColumns = 20

// drawable reports whether the terminal w reports a size the live lines fit.
func drawable(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	cols, rows, err := term.GetSize(int(f.Fd()))
	return err == nil && cols >= minColumns && rows >= 1
}

// Options say how to show progress.
type Options struct {
	Mode Mode
	// Interval is the least time between lines in Lines mode (0:
	// DefaultInterval).
	Interval time.Duration
	// Log receives the Lines mode's lines.
	Log *slog.Logger
	// SetProgress, when set, is also told the share done (0-100) with
	// each line: the pipeline task's ##vso[task.setprogress].
	SetProgress func(percent int)
}

// Display shows a Meter while a scan runs; Stop ends it.
type Display struct {
	stop func()
}

// Stop ends the display and waits until it has drawn its last.
func (d *Display) Stop() {
	if d != nil && d.stop != nil {
		d.stop()
	}
}

// Start shows m's counts until Stop or the end of ctx. In Live mode the
// lines are drawn on console, which also carries whatever else is written
// to it meanwhile (the log) above them.
func Start(ctx context.Context, m *scanners.Meter, console *Console, o Options) *Display {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	switch o.Mode {
	case Live:
		go func() { defer close(done); defer quiet(); live(ctx, m, console) }()
	case Lines:
		if o.Interval <= 0 {
			o.Interval = DefaultInterval
		}
		go func() { defer close(done); defer quiet(); lines(ctx, m, o) }()
	default:
		close(done)
	}
	var once sync.Once
	return &Display{stop: func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}}
}

// lines logs a line every o.Interval while the scan runs: none for a scan
// shorter than that, and never two closer than o.Interval (the timer is
// set again after each line, so a late tick does not bunch them).
func lines(ctx context.Context, m *scanners.Meter, o Options) {
	start := time.Now()
	timer := time.NewTimer(o.Interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		rs := m.Read()
		// Whole seconds gone: a tick a little late on a loaded machine
		// still reads 10s, never rounded up to 11s.
		attrs := []any{"elapsed", time.Since(start).Truncate(time.Second).String()}
		for _, r := range rs {
			attrs = append(attrs, r.Engine, Count(r))
		}
		if o.Log != nil {
			o.Log.Info("progress", attrs...)
		}
		if o.SetProgress != nil {
			o.SetProgress(Percent(rs))
		}
		timer.Reset(o.Interval)
	}
}

// Count is a gauge's count as a person reads it: "1200/50016 files".
func Count(r scanners.Reading) string {
	s := fmt.Sprintf("%d/%d %s", r.Done, r.Total, r.Unit)
	if r.Bytes > 0 {
		s += fmt.Sprintf(" (%s)", scanners.HumanBytes(r.Bytes))
	}
	return s
}

// Percent is the share of the work done, the mean of the engines' shares
// (each engine counts in its own unit), 0-100.
func Percent(rs []scanners.Reading) int {
	sum, n := 0.0, 0
	for _, r := range rs {
		if r.Total <= 0 {
			continue
		}
		sum += min(float64(r.Done)/float64(r.Total), 1)
		n++
	}
	if n == 0 {
		return 0
	}
	return int(sum / float64(n) * 100)
}

// pollEvery is how often the live display reads the meter.
const pollEvery = 100 * time.Millisecond

// live draws a bar per engine on the console's terminal, as the engines
// start counting, until ctx ends; then it draws the last counts and leaves
// them on the screen.
func live(ctx context.Context, m *scanners.Meter, console *Console) {
	p := mpb.New(mpb.WithOutput(console.out), mpb.WithWidth(72), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh())
	console.attach(p)
	type row struct {
		bar *mpb.Bar
		mu  sync.Mutex // the reading is drawn by mpb's goroutine
		r   scanners.Reading
	}
	rows := map[string]*row{}
	var order []*row
	update := func() {
		for _, r := range m.Read() {
			if r.Total <= 0 {
				continue
			}
			w, ok := rows[r.Engine]
			if !ok {
				w = &row{r: r}
				w.bar = p.New(r.Total, mpb.BarStyle().Lbound("[").Rbound("]"),
					mpb.PrependDecorators(decor.Name(r.Engine, decor.WC{W: 8, C: decor.DindentRight})),
					mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
						w.mu.Lock()
						defer w.mu.Unlock()
						return " " + Count(w.r)
					})))
				rows[r.Engine] = w
				order = append(order, w)
			}
			w.mu.Lock()
			w.r = r
			w.mu.Unlock()
			w.bar.SetTotal(r.Total, false)
			w.bar.SetCurrent(min(r.Done, r.Total))
		}
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			update()
			continue
		case <-ctx.Done():
		}
		break
	}
	update()
	for _, w := range order {
		// The scan is over: what each engine got to is its last count.
		w.bar.SetTotal(-1, true)
	}
	console.detach()
	p.Wait()
}

// Console is stderr with a live display on it: while one is drawn, what is
// written goes above its lines; otherwise straight through.
type Console struct {
	out  io.Writer
	mu   sync.Mutex
	live *mpb.Progress
}

// NewConsole wraps stderr.
func NewConsole(stderr io.Writer) *Console { return &Console{out: stderr} }

// Out is the console's own writer (stderr).
func (c *Console) Out() io.Writer { return c.out }

func (c *Console) attach(p *mpb.Progress) {
	c.mu.Lock()
	c.live = p
	c.mu.Unlock()
}

func (c *Console) detach() {
	c.mu.Lock()
	c.live = nil
	c.mu.Unlock()
}

// Write writes b above the live lines, or to stderr.
func (c *Console) Write(b []byte) (int, error) {
	c.mu.Lock()
	p := c.live
	c.mu.Unlock()
	if p != nil {
		if n, err := p.Write(b); err == nil {
			return n, nil
		}
	}
	return c.out.Write(b)
}

func (m Mode) String() string {
	switch m {
	case Live:
		return "live"
	case Lines:
		return "lines"
	default:
		return "off"
	}
}

// quiet, deferred by the display's goroutine, ends the display on a panic
// instead of the process: progress is not worth a scan's results.
func quiet() { _ = recover() }
