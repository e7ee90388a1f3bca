package scanners

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Meter counts each engine's work as it goes, for a progress display: the
// engines add to their gauges, the display reads them when it draws. It is
// safe for concurrent use, and the methods of a nil *Meter and of a nil
// *Gauge do nothing, so an engine counts without asking whether anyone is
// watching.
type Meter struct {
	mu     sync.Mutex
	gauges []*Gauge
	order  []string
}

// Expect names the engines of a scan in report order: Read returns their
// gauges in that order, whichever engine asks for its gauge first.
func (m *Meter) Expect(engines ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.order = slices.Clone(engines)
}

// Gauge is one engine's count of the units it works through.
type Gauge struct {
	engine, unit string
	done, total  atomic.Int64
	bytes        atomic.Int64
}

// Gauge returns the engine's gauge, counting in unit ("files", "groups",
// "images"); a second call for the engine returns the same gauge.
func (m *Meter) Gauge(engine, unit string) *Gauge {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.gauges {
		if g.engine == engine {
			return g
		}
	}
	g := &Gauge{engine: engine, unit: unit}
	m.gauges = append(m.gauges, g)
	return g
}

// SetTotal says how many units the engine has to work through.
func (g *Gauge) SetTotal(n int) {
	if g != nil {
		g.total.Store(int64(n))
	}
}

// Add counts n more units done.
func (g *Gauge) Add(n int) {
	if g != nil {
		g.done.Add(int64(n))
	}
}

// AddBytes counts n more bytes read.
func (g *Gauge) AddBytes(n int64) {
	if g != nil {
		g.bytes.Add(n)
	}
}

// Reading is a gauge at one moment.
type Reading struct {
	Engine, Unit string
	Done, Total  int64
	Bytes        int64
}

// Read returns every gauge's count: the engines Expect named in that order,
// then the others in the order they asked for their gauges.
func (m *Meter) Read() []Reading {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Reading, 0, len(m.gauges))
	for _, g := range m.gauges {
		out = append(out, Reading{Engine: g.engine, Unit: g.unit, Done: g.done.Load(), Total: g.total.Load(), Bytes: g.bytes.Load()})
	}
	rank := func(e string) int {
		if i := slices.Index(m.order, e); i >= 0 {
			return i
		}
		return len(m.order)
	}
	slices.SortStableFunc(out, func(a, b Reading) int { return rank(a.Engine) - rank(b.Engine) })
	return out
}
