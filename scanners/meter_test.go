package scanners

import (
	"slices"
	"testing"
)

// TestMeterReadsInReportOrder: the engines' gauges read in the order
// Expect gives, whichever engine counts first; a nil meter does nothing.
func TestMeterReadsInReportOrder(t *testing.T) {
	m := &Meter{}
	m.Expect("secrets", "iac", "image")
	m.Gauge("image", "images").SetTotal(2)
	m.Gauge("other", "things").Add(1)
	iac := m.Gauge("iac", "groups")
	iac.SetTotal(3)
	iac.Add(1)
	m.Gauge("secrets", "files").AddBytes(10)
	if m.Gauge("iac", "ignored") != iac {
		t.Error("a second Gauge call for an engine returned a new gauge")
	}
	var names []string
	for _, r := range m.Read() {
		names = append(names, r.Engine)
	}
	if !slices.Equal(names, []string{"secrets", "iac", "image", "other"}) {
		t.Errorf("read order %q", names)
	}
	if r := m.Read()[1]; r.Unit != "groups" || r.Done != 1 || r.Total != 3 {
		t.Errorf("iac reading %+v", r)
	}
	var nilMeter *Meter
	nilMeter.Expect("secrets")
	nilMeter.Gauge("secrets", "files").Add(1)
	if nilMeter.Read() != nil {
		t.Error("a nil meter read something")
	}
}
