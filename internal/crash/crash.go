// Package crash turns a panic into an error where it happens, in the
// goroutine that panicked: Go ends the whole process (exit 2, every result
// lost) for a panic no deferred recover in that goroutine catches, and a
// recover in another goroutine never sees it. Every goroutine Tollgate
// starts defers Recover, so a panic fails what that goroutine was doing
// (an engine, a part of a merge), named, and the rest of the run goes on.
package crash

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic caught by Recover.
type PanicError struct {
	// Where names what panicked, e.g. "the iac engine's group terraform".
	Where string
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s panicked (a bug in Tollgate or a library; the stack is in the log): %v", e.Where, e.Value)
}

// Unwrap returns the panic's value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recover, deferred by a function, sets *err to a *PanicError when the
// function panics; it must be deferred directly (defer crash.Recover(...)).
func Recover(where string, err *error) {
	if p := recover(); p != nil {
		*err = &PanicError{Where: where, Value: p, Stack: debug.Stack()}
	}
}
