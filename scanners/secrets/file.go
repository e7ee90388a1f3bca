package secrets

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"

	"github.com/tollgate/tollgate/internal/utf16text"
	"github.com/tollgate/tollgate/scanners"
)

// scanFile runs the detector over one file. Read problems come back as a
// notification; the file's findings found so far are kept.
func scanFile(ctx context.Context, dets *detectors, t *scanners.Target, f scanners.File, buf []byte, maxArchiveDepth int) ([]report.Finding, *scanners.Notification) {
	if f.Size == 0 {
		return nil, nil
	}
	fh, err := t.Open(f.Path)
	if err != nil {
		return nil, &scanners.Notification{Level: scanners.LevelWarning, Code: "unreadable", Path: f.Path,
			Message: fmt.Sprintf("cannot read %s: %v", f.Path, scanners.Cause(err))}
	}
	defer fh.Close()
	src := sources.File{
		Content:         utf16Aware(fh),
		Path:            f.Path,
		Buffer:          buf,
		Config:          &dets.gl.Config,
		MaxArchiveDepth: maxArchiveDepth,
	}
	var (
		out  []report.Finding
		note *scanners.Notification
	)
	err = src.Fragments(ctx, func(fr sources.Fragment, err error) error {
		if err != nil {
			note = &scanners.Notification{Level: scanners.LevelWarning, Code: "read-error", Path: f.Path,
				Message: fmt.Sprintf("cannot read %s: %v", f.Path, scanners.Cause(err))}
			return nil
		}
		out = append(out, dets.find(ctx, fr)...)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		note = &scanners.Notification{Level: scanners.LevelWarning, Code: "read-error", Path: f.Path,
			Message: fmt.Sprintf("cannot read %s: %v", f.Path, scanners.Cause(err))}
	}
	return out, note
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
