//go:build !unix

package main

// reexec is not possible here (no exec): the credentials are unset in the
// process's own environment only, which no child inherits (holdSecrets).
func reexec() error { return nil }
