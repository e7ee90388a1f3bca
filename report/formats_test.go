package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
)

// TestFormats: every format of the table writes the sample scan as its
// kind of document, with the findings in it.
func TestFormats(t *testing.T) {
	if got := strings.Join(FormatNames(), ","); got != "table,json,sarif,junit,markdown" {
		t.Errorf("formats %q", got)
	}
	s := sampleScan()
	for _, f := range Formats() {
		var b bytes.Buffer
		if err := f.Write(&b, s, FormatOptions{SARIFName: "tollgate.sarif"}); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out := b.String()
		rule := "KSV-0017"
		if f.Name == "markdown" {
			rule = `KSV\-0017` // markdown escapes checkout text
		}
		if !strings.Contains(out, rule) {
			t.Errorf("%s: no KSV-0017 finding:\n%s", f.Name, out)
		}
		switch f.Name {
		case "json", "sarif":
			if !json.Valid(b.Bytes()) {
				t.Errorf("%s: not JSON", f.Name)
			}
		case "junit":
			var doc struct {
				Suites []struct {
					Name     string `xml:"name,attr"`
					Failures int    `xml:"failures,attr"`
					Skipped  int    `xml:"skipped,attr"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil || len(doc.Suites) != 2 || doc.Suites[0].Name != "tollgate.secrets" ||
				doc.Suites[0].Skipped != 1 || doc.Suites[1].Failures != 1 {
				t.Errorf("junit: %v %+v\n%s", err, doc, out)
			}
		case "markdown":
			if !strings.HasPrefix(out, "## Tollgate security gate: ") || !strings.Contains(out, "Full results: the SARIF log **tollgate\\.sarif**.") {
				t.Errorf("markdown:\n%s", out)
			}
		}
	}
	if _, err := FormatByName("XML"); err == nil || !strings.Contains(err.Error(), "want table, json, sarif, junit, markdown") {
		t.Errorf("unknown format: %v", err)
	}
	if f, err := FormatByName("JUnit"); err != nil || f.Name != "junit" {
		t.Errorf("JUnit: %v", err)
	}
}
