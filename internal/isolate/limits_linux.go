package isolate

import (
	"bytes"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"syscall"
)

// canMeasure: a worker's resident memory is read from /proc.
const canMeasure = true

// setProcessGroup puts the worker in a process group of its own, so that
// kill ends what it started too.
func setProcessGroup(cmd *exec.Cmd) {
	// No Pdeathsig: Linux sends it when the thread that started the child
	// ends, which Go may do with any thread; a worker whose scan is gone
	// ends at its own deadline instead (Serve).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

// residentBytes is a process's resident set size.
func residentBytes(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

// setMemoryLimit makes Go's collector keep the heap under n and caps the
// address space at addressSpace(n): a single allocation past it fails at
// once (Go's "out of memory"), before it is touched.
func setMemoryLimit(n int64) {
	debug.SetMemoryLimit(n - n/8)
	lim := uint64(addressSpace(n))
	_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim})
}
