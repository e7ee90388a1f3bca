package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate/tollgate/scanners"
)

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes JUnit XML (the pipeline's Tests tab, --format junit):
// one suite per engine, one test case per finding: failing ones fail, suppressed
// ones are skipped, the rest pass.
func WriteJUnit(w io.Writer, out Scan, _ FormatOptions) error {
	doc := junitSuites{Name: "Tollgate"}
	for _, r := range out.Results {
		s := junitSuite{Name: "tollgate." + r.Engine}
		for i := range r.Findings {
			f := &r.Findings[i]
			if f.BaselineState == scanners.BaselineAbsent {
				continue
			}
			loc := f.Location.Path
			if f.Location.Image != "" {
				loc = strings.TrimSpace(f.Location.Image + " " + loc)
			}
			c := junitCase{Name: fmt.Sprintf("%s %s:%d", f.RuleID, loc, f.Location.StartLine), Classname: "tollgate." + r.Engine + "." + f.RuleID}
			switch {
			case f.Suppressed():
				c.Skipped = &junitSkipped{Message: acceptedJustification(f)}
				s.Skipped++
			case out.Gate.Fails(f):
				c.Failure = &junitFailure{Message: f.Title, Type: f.Severity.String(), Text: f.Message}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func acceptedJustification(f *scanners.Finding) string {
	for _, s := range f.Suppressions {
		if s.Status == scanners.SuppressionAccepted {
			return s.Justification
		}
	}
	return ""
}
