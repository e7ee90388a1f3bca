//go:build windows

package bench

import (
	"errors"
	"os"
)

// maxRSS: Windows reports no peak working set through os.ProcessState; the
// benchmark is measured on Linux agents.
func maxRSS(*os.ProcessState) (int64, error) {
	return 0, errors.New("peak memory is measured on Linux and macOS only")
}
