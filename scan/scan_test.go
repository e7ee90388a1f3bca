package scan

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate/tollgate/internal/fifo"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()

	t.Run("regular file, no temporary left behind", func(t *testing.T) {
		p := filepath.Join(dir, "sub", "out.sarif")
		if err := WriteFileAtomic(p, writeString("one")); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(p, writeString("two")); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != "two" {
			t.Errorf("content = %q", b)
		}
		if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 1 {
			t.Errorf("%d entries in the directory, want 1", len(ents))
		}
	})

	t.Run("symlink stays a link", func(t *testing.T) {
		target := filepath.Join(dir, "target.json")
		link := filepath.Join(dir, "link.json")
		if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(link, writeString("new")); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link was replaced: %v %v", fi, err)
		}
		if b, _ := os.ReadFile(target); string(b) != "new" {
			t.Errorf("target content = %q", b)
		}
	})

	t.Run("named pipe is written, not replaced", func(t *testing.T) {
		pipe := filepath.Join(dir, "pipe")
		if err := fifo.Make(pipe); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			f, err := os.Open(pipe)
			if err != nil {
				got <- nil
				return
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			got <- b
		}()
		if err := WriteFileAtomic(pipe, writeString("through the pipe")); err != nil {
			t.Fatal(err)
		}
		if b := <-got; !bytes.Equal(b, []byte("through the pipe")) {
			t.Errorf("reader got %q", b)
		}
		if fi, err := os.Lstat(pipe); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the pipe was replaced: %v %v", fi, err)
		}
	})

	t.Run("/dev/null stays a device", func(t *testing.T) {
		if err := WriteFileAtomic(os.DevNull, writeString("discarded")); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(os.DevNull)
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("%s is no longer a character device: %v %v", os.DevNull, fi, err)
		}
	})

	t.Run("directory is an error naming it", func(t *testing.T) {
		err := WriteFileAtomic(dir, writeString("x"))
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(dir)) {
			t.Errorf("err = %v, want one naming %s", err, dir)
		}
	})
}
