//go:build !linux

package isolate

// canMeasure: no /proc to read a worker's resident memory from; the
// worker's own limit stands alone (on Windows a Job Object would enforce
// it from outside; not built).
const canMeasure = false

func residentBytes(int) (int64, bool) { return 0, false }
