// Package iactype names the IaC file types the IaC engine checks, without
// pulling in Trivy, so that configuration can be validated cheaply.
package iactype

import (
	"fmt"
	"slices"
	"strings"
)

// Names are the file types, as Trivy names them, in Trivy's order.
var Names = []string{
	"azure-arm",
	"cloudformation",
	"dockerfile",
	"helm",
	"kubernetes",
	"terraform",
	"terraformplan-json",
	"terraformplan-snapshot",
	"ansible",
}

// Validate reports unknown type names.
func Validate(names []string) error {
	for _, n := range names {
		if !slices.Contains(Names, n) {
			return fmt.Errorf("unknown IaC file type %q (known: %s)", n, strings.Join(Names, ", "))
		}
	}
	return nil
}
