// Package versions holds the versions of the engines Tollgate is built
// with, in one place; TestVersionsFollowGoMod fails when go.mod moves and
// these do not.
package versions

// The module versions of go.mod.
const (
	Trivy    = "0.74.0" // github.com/aquasecurity/trivy
	Gitleaks = "8.30.1" // github.com/zricethezav/gitleaks/v8
)
