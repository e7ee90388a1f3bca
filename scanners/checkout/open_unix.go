//go:build !windows

package checkout

import "syscall"

// openFlags open a checkout file without following a symbolic link in the
// last element (os.Root follows the ones inside the root) and without
// blocking: a FIFO swapped in for a file returns at once, and fstat then
// refuses it.
const (
	openFlags    = syscall.O_NONBLOCK | syscall.O_NOFOLLOW
	trustedFlags = syscall.O_NONBLOCK
)
