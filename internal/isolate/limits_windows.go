package isolate

import (
	"os/exec"
	"runtime/debug"
)

func setProcessGroup(*exec.Cmd) {}

func kill(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func setMemoryLimit(n int64) { debug.SetMemoryLimit(n - n/8) }
