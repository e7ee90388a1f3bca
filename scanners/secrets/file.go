package secrets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"

	"github.com/tollgate/tollgate/internal/utf16text"
	"github.com/tollgate/tollgate/scanners"
)

// scanFile runs the detectors over one file, read in fragments (stream.go):
// whole when it fits in one. Read problems come back as a notification;
// the file's findings found so far are kept. An archive is read by
// gitleaks' own source when archives are read at all.
func scanFile(ctx context.Context, e *engine, t *scanners.Target, f scanners.File, buf []byte) ([]report.Finding, *scanners.Notification) {
	if f.Size == 0 {
		return nil, nil
	}
	depth := e.s.opts.MaxArchiveDepth
	if depth == 0 && isArchive(ctx, f.Path) {
		return nil, nil // as gitleaks: an archive is not read as text
	}
	fh, err := t.Open(f.Path)
	if err != nil {
		return nil, readNote(f.Path, "unreadable", err)
	}
	defer fh.Close()
	var (
		out  []report.Finding
		note *scanners.Notification
	)
	if depth > 0 && isArchive(ctx, f.Path) {
		src := sources.File{Content: fh, Path: f.Path, Buffer: buf[:min(len(buf), archiveBuffer)], Config: &e.dets.gl.Config, MaxArchiveDepth: depth}
		err = src.Fragments(ctx, func(fr sources.Fragment, err error) error {
			if err != nil {
				note = readNote(f.Path, "read-error", err)
				return nil
			}
			out = append(out, e.dets.find(ctx, fr)...)
			return nil
		})
	} else {
		err = e.geom.fragments(ctx, utf16Aware(fh), buf, func(w window) error {
			fr := sources.Fragment{Raw: string(w.data), Bytes: w.data, FilePath: f.Path, StartLine: w.line}
			out = append(out, w.keep(e.dets.find(ctx, fr))...)
			return nil
		})
		if errors.Is(err, errBinary) {
			return nil, nil // as gitleaks: a file in a binary format is not read
		}
	}
	if err != nil && ctx.Err() == nil {
		note = readNote(f.Path, "read-error", err)
	}
	return out, note
}

// archiveBuffer is the fragment size gitleaks' reader uses inside archives.
const archiveBuffer = 100_000

func readNote(p, code string, err error) *scanners.Notification {
	return &scanners.Notification{Level: scanners.LevelWarning, Code: code, Path: p,
		Message: fmt.Sprintf("cannot read %s: %v", p, scanners.Cause(err))}
}

// pathAllowed applies gitleaks' global path allowlists before a file is opened.
func pathAllowed(cfg *config.Config, p string) bool {
	for _, a := range cfg.Allowlists {
		if a.PathAllowed(p) {
			return true
		}
	}
	return false
}

// utf16Aware decodes a file that starts as UTF-16 text (utf16text.Is)
// into UTF-8 for the detector, which otherwise sees NUL bytes and skips the
// file as binary. Any other file, archives included, is passed on as it is.
func utf16Aware(f *os.File) io.Reader {
	head := make([]byte, utf16text.Head)
	n, _ := f.ReadAt(head, 0)
	if utf16text.Is(head[:n]) {
		return utf16text.NewReader(f)
	}
	return f
}
