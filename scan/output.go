package scan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/report"
)

// WriteReports writes the SARIF log (when asked) and the report in the
// chosen format (report.Formats) to the output file or stdout.
func WriteReports(o *Outcome, opts config.Options, stdout io.Writer) error {
	var errs []error
	if opts.SARIF != "" {
		if err := WriteFileAtomic(opts.SARIF, func(w io.Writer) error { return report.WriteSARIF(w, o.Scan) }); err != nil {
			errs = append(errs, fmt.Errorf("writing SARIF: %w", err))
		}
	}
	format, err := report.FormatByName(opts.Format)
	if err != nil {
		return err
	}
	fo := report.FormatOptions{Quiet: opts.Quiet}
	if opts.SARIF != "" {
		fo.SARIFName = filepath.Base(opts.SARIF)
	}
	write := func(w io.Writer) error { return format.Write(w, o.Scan, fo) }
	if opts.Output != "" {
		if err := WriteFileAtomic(opts.Output, write); err != nil {
			errs = append(errs, fmt.Errorf("writing report: %w", err))
		}
		if opts.Format != "table" {
			// The console still gets the one-line verdict.
			if _, err := fmt.Fprintln(report.NewSafeWriter(stdout), report.VerdictLine(o.Scan)); err != nil {
				errs = append(errs, err)
			}
		}
	} else if err := format.Write(format.ForConsole(stdout), o.Scan, fo); err != nil {
		errs = append(errs, fmt.Errorf("writing report: %w", err))
	}
	return errors.Join(errs...)
}

// WriteFileAtomic writes a file through a temporary file in the same
// directory and a rename, so an interrupted run never leaves a truncated log.
// What is not a regular file (/dev/null, /dev/stdout, a named pipe) is
// written in place: a rename would replace the device or pipe with a file.
// A symbolic link stays a link; the file it points to is replaced.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			_ = f.Close()
			return err
		}
		return f.Close()
	}
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
