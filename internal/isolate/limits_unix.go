//go:build unix && !linux

package isolate

import (
	"os/exec"
	"runtime/debug"
	"syscall"
)

// canMeasure: no /proc to read a worker's resident memory from; the
// worker's own limit stands alone.
const canMeasure = false

func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

func residentBytes(int) (int64, bool) { return 0, false }

func setMemoryLimit(n int64) {
	debug.SetMemoryLimit(n - n/8)
	lim := uint64(addressSpace(n))
	_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim})
}
