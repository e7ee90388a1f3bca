package crash

import (
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"
)

// A panic in a goroutine of an errgroup comes back from Wait as an error
// naming where it happened, with its stack, and the process lives on.
func TestRecoverInAGoroutine(t *testing.T) {
	var g errgroup.Group
	g.Go(func() (err error) {
		defer Recover("the part", &err)
		var m map[string]int
		m["x"] = 1
		return nil
	})
	g.Go(func() (err error) {
		defer Recover("the other part", &err)
		panic(io.ErrUnexpectedEOF)
	})
	err := g.Wait()
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "panicked") || len(pe.Stack) == 0 {
		t.Fatalf("Wait: %v, want a PanicError with its stack", err)
	}
	var g2 errgroup.Group
	g2.Go(func() (err error) {
		defer Recover("the other part", &err)
		panic(io.ErrUnexpectedEOF)
	})
	if err := g2.Wait(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Wait: %v, want the panic's error wrapped", err)
	}
	func() {
		var err error
		defer func() {
			if err != nil {
				t.Errorf("no panic, yet %v", err)
			}
		}()
		defer Recover("nothing", &err)
	}()
}
