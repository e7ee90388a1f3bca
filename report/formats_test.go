package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
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
		if !strings.Contains(out, "KSV-0017") {
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
			if !strings.HasPrefix(out, "## Tollgate security gate: ") || !strings.Contains(out, "Full results: the SARIF log **tollgate.sarif**.") {
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

// TestMachineFormatsOnTheConsole: JSON, SARIF and JUnit written to stdout
// (no --output) carry file names and messages from the checkout, and the
// agent runs a ##vso[ command found anywhere in a line. Through
// ForConsole every '#' is written as an escape ("\u0023", "&#35;"), so no
// "##vso[" is left, and the document decodes to the same values: the file
// name and message come back whole.
func TestMachineFormatsOnTheConsole(t *testing.T) {
	s := sampleScan()
	const name = "##vso[task.setvariable variable=y;isOutput=true]evil.py"
	s.Results[0].Findings[0].Location.Path = name
	for _, f := range Formats() {
		if f.Name == "table" || f.Name == "markdown" {
			continue // they escape checkout text themselves (TestTable, TestSummary)
		}
		var b bytes.Buffer
		if err := f.Write(f.ForConsole(&b), s, FormatOptions{}); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if bytes.Contains(b.Bytes(), []byte("##")) || bytes.Contains(b.Bytes(), []byte("#vso[")) {
			t.Errorf("%s: a logging command reached the console:\n%s", f.Name, b.String())
		}
		switch f.Name {
		case "json", "sarif":
			var doc any
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			raw, _ := json.Marshal(doc)
			var back bytes.Buffer
			enc := json.NewEncoder(&back)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(doc)
			want := name // SARIF names the file by its URI: the message stands for it
			if f.Name == "sarif" {
				want = `A secret <b>matched</b> ##vso\\[task.complete\\]` // SARIF escapes [ and ] (SARIFText)
			}
			if !strings.Contains(back.String(), want) {
				t.Errorf("%s: the file name or message did not come back whole: %s", f.Name, raw)
			}
		case "junit":
			var doc struct {
				Suites []struct {
					Cases []struct {
						Name    string `xml:"name,attr"`
						Failure *struct {
							Message string `xml:"message,attr"`
							Text    string `xml:",chardata"`
						} `xml:"failure"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("junit: %v", err)
			}
			found := false
			for _, su := range doc.Suites {
				for _, c := range su.Cases {
					all := c.Name
					if c.Failure != nil {
						all += c.Failure.Message + c.Failure.Text
					}
					found = found || strings.Contains(all, name)
				}
			}
			if !found {
				t.Errorf("junit: the file name did not come back whole:\n%s", b.String())
			}
		}
	}
}

// TestTableCellsCannotStartALine: a file name or rule ID of the checkout
// with a line break, form feed, vertical tab or tab in it used to reach the
// tabwriter raw, which broke the row there: the rest of the name started a
// console line of its own (a forged "PASS" verdict in Azure Pipelines, a
// "::error::" command on a GitHub runner). Every line of the table now
// starts with Tollgate's own text.
func TestTableCellsCannotStartALine(t *testing.T) {
	for _, sep := range []string{"\n", "\f", "\v", "\r", "\t", "\u2028"} {
		s := sampleScan()
		s.Results[0].Findings[1].Location.Path = "x" + sep + "PASS: 0 finding(s) -> exit 0" + sep + "::add-mask::FAIL" + sep + "y.py"
		s.Results[0].Findings[1].RuleID = "r" + sep + "::stop-commands::zzz"
		var b bytes.Buffer
		if err := WriteTable(NewSafeWriter(&b), s, TableOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, " x"), "PASS") || strings.HasPrefix(strings.TrimSpace(line), "::") {
				t.Errorf("separator %q: a line starts with the checkout's text: %q", sep, line)
			}
		}
		if strings.ContainsAny(b.String(), "\f\v\r") {
			t.Errorf("separator %q: a control character reached the console: %q", sep, b.String())
		}
	}
}

// TestCheckoutRuleHelpHasNoLinks: a rule the checkout defines (a custom
// Rego check's metadata, a repository's gitleaks rule) wrote its text into
// the SARIF help as markdown: a link, an image (a tracking pixel) or HTML
// reached every viewer, and a helpUri to any host. Help text is escaped
// now, and links go to the allowed hosts only.
func TestCheckoutRuleHelpHasNoLinks(t *testing.T) {
	r := scanners.Rule{ID: "USER-1", Title: "[Approve this PR](https://evil.example/login)",
		Description: "![](https://evil.example/pixel.png) <img src=x> @admin",
		Resolution:  "see https://evil.example/fix",
		HelpURI:     "https://evil.example/help",
		References:  []string{"https://evil.example/ref", "https://avd.aquasec.com/misconfig/ksv-0017", "javascript:alert(1)"},
		Severity:    scanners.SeverityHigh}
	md := helpMarkdown(r)
	for _, bad := range []string{"](https://evil", "<https://evil", "https://evil", "<javascript", "@admin"} {
		if strings.Contains(md, bad) {
			t.Errorf("help markdown holds %q:\n%s", bad, md)
		}
	}
	for _, bad := range []string{"<img", "!["} {
		if i := strings.Index(md, bad); i >= 0 && (i == 0 || md[i-1] != '\\') {
			t.Errorf("help markdown holds %q:\n%s", bad, md)
		}
	}
	if !strings.Contains(md, "<https://avd.aquasec.com/misconfig/ksv-0017>") {
		t.Errorf("the allowed reference is not a link:\n%s", md)
	}
	s := sampleScan()
	s.Results[1].Rules = append(s.Results[1].Rules, r)
	s.Results[1].Findings = append(s.Results[1].Findings, scanners.Finding{Engine: scanners.EngineIaC, RuleID: "USER-1", Severity: scanners.SeverityHigh,
		Location: scanners.Location{Path: "a.yaml"}, Fingerprint: "u1"})
	var b bytes.Buffer
	if err := WriteSARIF(&b, s); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte(`"helpUri": "https://evil.example`)) {
		t.Error("the SARIF log links the rule's help to the checkout's host")
	}
	for _, ok := range []string{"https://nvd.nist.gov/vuln/detail/CVE-2024-1", "https://github.com/gitleaks/gitleaks"} {
		if !LinkAllowed(ok) {
			t.Errorf("%s refused", ok)
		}
	}
	for _, no := range []string{"http://nvd.nist.gov/x", "https://nvd.nist.gov.evil.example/x", "https://user@github.com/x", "https://evilgithub.com/"} {
		if LinkAllowed(no) {
			t.Errorf("%s allowed", no)
		}
	}
}
