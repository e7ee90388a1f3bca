//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// reexec replaces the process with Tollgate started again with the same
// arguments, without the credentials in its environment, which it reads
// from an inherited pipe instead. It returns only when there is nothing to
// hide or the re-execution failed.
func reexec() error {
	kept, secrets := withoutSecrets(os.Environ())
	if len(secrets) == 0 {
		return nil
	}
	b, err := json.Marshal(secrets)
	if err != nil || len(b) > maxSecrets {
		return reexecError{fmt.Errorf("%d bytes of credentials", len(b))}
	}
	exe, err := os.Executable()
	if err != nil {
		return reexecError{err}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return reexecError{err}
	}
	// The whole hand-over sits in the pipe's buffer before the exec: the
	// new image reads it at its start.
	if _, err := w.Write(b); err != nil {
		r.Close()
		w.Close()
		return reexecError{err}
	}
	w.Close()
	fd := int(r.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil { // inherited across exec
		r.Close()
		return reexecError{err}
	}
	err = syscall.Exec(exe, os.Args, append(kept, fmt.Sprintf("%s=%d", secretsFDEnv, fd)))
	r.Close()
	return reexecError{err}
}
