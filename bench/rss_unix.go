//go:build !windows

package bench

import (
	"errors"
	"os"
	"runtime"
	"syscall"
)

// maxRSS is the child's peak resident set in bytes: getrusage reports KiB
// on Linux and bytes on macOS.
func maxRSS(ps *os.ProcessState) (int64, error) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("no resource usage for the child process")
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss), nil
	}
	return int64(ru.Maxrss) << 10, nil
}
