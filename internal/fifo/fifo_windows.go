//go:build windows

// Package fifo makes named pipes for the tests of the trust boundary: a
// FIFO in a checkout must never block a scan.
package fifo

import (
	"errors"
	"fmt"
)

// Make fails on Windows: its named pipes live under \\.\pipe\, not in a
// directory tree, so a checkout cannot hold one.
func Make(path string) error {
	return fmt.Errorf("mkfifo %s: %w", path, errors.ErrUnsupported)
}
