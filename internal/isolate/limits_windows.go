package isolate

import (
	"os/exec"
	"runtime/debug"
)

// canMeasure: on Windows the worker's own limit stands alone (a Job Object
// would enforce it from outside; not built yet).
const canMeasure = false

func setProcessGroup(*exec.Cmd) {}

func kill(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func residentBytes(int) (int64, bool) { return 0, false }

func setMemoryLimit(n int64) { debug.SetMemoryLimit(n - n/8) }
