package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// FormatOptions are what some formats need beyond the scan.
type FormatOptions struct {
	// Quiet: the table prints only the verdict line.
	Quiet bool
	// SARIFName is the SARIF log's file name, which the markdown summary
	// points to ("" when none is written); Artifact is the build artifact
	// it is published in ("" when it is not).
	SARIFName, Artifact string
}

// Format is one output format of a scan.
type Format struct {
	Name string
	// Write writes the whole scan.
	Write func(w io.Writer, s Scan, o FormatOptions) error
	// HashEscape is how the format writes '#' losslessly where a line
	// reader may see it (stdout, which the Azure Pipelines agent reads for
	// ##vso[ commands anywhere in a line): "\u0023" in JSON strings,
	// "&#35;" in XML. Empty for formats that escape checkout text
	// themselves (table, markdown).
	HashEscape string
}

// ForConsole returns the writer the format writes through when its output
// goes to stdout or a log: with HashEscape, every '#' becomes it, so no
// file name or message in the document can start a logging command; the
// document parses to the same values.
func (f Format) ForConsole(w io.Writer) io.Writer {
	if f.HashEscape == "" {
		return w
	}
	return hashEscaper{w: w, esc: []byte(f.HashEscape)}
}

// hashEscaper writes every '#' as esc.
type hashEscaper struct {
	w   io.Writer
	esc []byte
}

func (h hashEscaper) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, '#') < 0 {
		return h.w.Write(p)
	}
	if _, err := h.w.Write(bytes.ReplaceAll(p, []byte("#"), h.esc)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Formats lists every output format; --format chooses one by name, the
// task writes the SARIF log, the markdown summary and JUnit through it.
func Formats() []Format {
	return []Format{
		{Name: "table", Write: func(w io.Writer, s Scan, o FormatOptions) error {
			return WriteTable(w, s, TableOptions{Quiet: o.Quiet})
		}},
		// '#' occurs only inside JSON strings and XML text and attribute
		// values (no CDATA, no comments), where these escapes are the same
		// character.
		{Name: "json", Write: func(w io.Writer, s Scan, _ FormatOptions) error { return WriteJSON(w, s) }, HashEscape: `\u0023`},
		{Name: "sarif", Write: func(w io.Writer, s Scan, _ FormatOptions) error { return WriteSARIF(w, s) }, HashEscape: `\u0023`},
		{Name: "junit", Write: WriteJUnit, HashEscape: "&#35;"},
		{Name: "markdown", Write: WriteSummary},
	}
}

// FormatNames lists the formats' names, for help and errors.
func FormatNames() []string {
	var out []string
	for _, f := range Formats() {
		out = append(out, f.Name)
	}
	return out
}

// FormatByName finds a format (case-insensitive).
func FormatByName(name string) (Format, error) {
	for _, f := range Formats() {
		if strings.EqualFold(f.Name, name) {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("unknown format %q (want %s)", name, strings.Join(FormatNames(), ", "))
}
