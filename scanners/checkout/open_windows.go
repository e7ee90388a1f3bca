//go:build windows

package checkout

// On Windows a named pipe is not a file of a directory tree (it lives under
// \\.\pipe\), so opening a checkout file cannot block on one; os.Root still
// keeps every path and reparse point inside the root, and fstat still
// refuses anything but a regular file.
const (
	openFlags    = 0
	trustedFlags = 0
)
