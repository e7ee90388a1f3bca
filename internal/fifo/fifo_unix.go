//go:build !windows

// Package fifo makes named pipes for the tests of the trust boundary: a
// FIFO in a checkout must never block a scan.
package fifo

import (
	"fmt"
	"syscall"
)

// Make creates a FIFO at path.
func Make(path string) error {
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		return fmt.Errorf("mkfifo %s: %w", path, err)
	}
	return nil
}
