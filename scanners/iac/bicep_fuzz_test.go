package iac

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzBicepTemplate: whatever a Bicep file holds, reading it ends (no
// panic, no hang) with a valid ARM template.
func FuzzBicepTemplate(f *testing.F) {
	for _, name := range []string{"testdata/bicep/main.bicep", "testdata/bicep/network.bicep"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("resource a 'T@1' = {\n  name: '\\u{'\n  p: x ? [for i in y: {a: i}] : (a, b) => a.?b[?0]!\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		out, _ := bicepTemplate(src)
		if !json.Valid(out) {
			t.Fatalf("not JSON: %s", out)
		}
	})
}
