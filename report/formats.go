package report

import (
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
}

// Formats lists every output format; --format chooses one by name, the
// task writes the SARIF log, the markdown summary and JUnit through it.
func Formats() []Format {
	return []Format{
		{Name: "table", Write: func(w io.Writer, s Scan, o FormatOptions) error {
			return WriteTable(w, s, TableOptions{Quiet: o.Quiet})
		}},
		{Name: "json", Write: func(w io.Writer, s Scan, _ FormatOptions) error { return WriteJSON(w, s) }},
		{Name: "sarif", Write: func(w io.Writer, s Scan, _ FormatOptions) error { return WriteSARIF(w, s) }},
		{Name: "junit", Write: WriteJUnit},
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
