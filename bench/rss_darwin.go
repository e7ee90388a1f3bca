//go:build darwin

package bench

import (
	"errors"
	"os"
	"syscall"
)

// maxRSS is the child's peak resident set in bytes (macOS's getrusage
// reports bytes already).
func maxRSS(ps *os.ProcessState) (int64, error) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("no resource usage for the child process")
	}
	return ru.Maxrss, nil
}
