package secrets

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

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

// utf16Aware decodes a file that starts with a UTF-16 byte-order mark
// (Windows tools write PowerShell scripts, .reg and .config files so) into
// UTF-8 for the detector, which otherwise sees NUL bytes and skips the file
// as binary. Line breaks survive decoding, so lines are the file's own. Any
// other file, archives included, is passed on as it is.
//
// Only the file's contents decide, never its name.
func utf16Aware(f *os.File) io.Reader {
	head := make([]byte, 8<<10)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	// A byte-order mark, and the NUL bytes every UTF-16 file with a line
	// break or an ASCII character has (a Latin-1 file may start with the
	// same two bytes, and has none).
	if n >= 4 && (head[0] == 0xff && head[1] == 0xfe || head[0] == 0xfe && head[1] == 0xff) && bytes.IndexByte(head[2:], 0) >= 0 {
		return transform.NewReader(f, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
	}
	return f
}
