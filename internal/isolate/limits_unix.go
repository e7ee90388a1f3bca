//go:build unix

package isolate

import (
	"os/exec"
	"runtime/debug"
	"syscall"
)

// setProcessGroup puts the worker in a process group of its own, so that
// kill ends what it started too. No Pdeathsig: Linux sends it when the
// thread that started the child ends, which Go may do with any thread; a
// worker whose scan is gone ends at its own deadline instead (Serve).
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

// setMemoryLimit makes Go's collector keep the heap under n and caps the
// address space at addressSpace(n): a single allocation past it fails at
// once (Go's "out of memory"), before it is touched.
func setMemoryLimit(n int64) {
	debug.SetMemoryLimit(n - n/8)
	lim := uint64(addressSpace(n))
	_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim})
}
