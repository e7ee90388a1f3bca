package iac

import (
	"context"
	"maps"

	"github.com/aquasecurity/trivy/pkg/iac/rego"
	iacscan "github.com/aquasecurity/trivy/pkg/iac/scan"
	"github.com/open-policy-agent/opa/v1/ast"
)

// SkipRuleRegistry stops Trivy from filling its process-wide rule registry
// when the first check scanner is made. Trivy's rego.NewScanner parses and
// compiles every embedded check once for that registry (rego.LoadAndRegister)
// and then again for the scanner itself; a scan reads each result's
// metadata from the check that produced it and never consults the
// registry, so the first pass is pure start-up cost: ~0.6 s of CPU, a third
// of a small IaC scan (bench/RESULTS.md has the profile). Explain reads the
// checks' metadata without the registry (embeddedRules).
//
// It replaces a package variable of Trivy's and so must be called once, from
// main, before any goroutine starts.
func SkipRuleRegistry() {
	rego.LoadAndRegister = func() {}
}

// embeddedRules is the metadata of every embedded check, read the way
// Trivy's registry reads it, without touching the registry.
func embeddedRules(ctx context.Context) []iacscan.Rule {
	modules, err := rego.LoadEmbeddedPolicies()
	if err != nil {
		return nil
	}
	libs, err := rego.LoadEmbeddedLibraries()
	if err != nil {
		return nil
	}
	maps.Copy(modules, libs)
	schemas, _ := rego.BuildSchemaSetFromPolicies(modules, nil, nil, map[string][]byte{})
	compiler := ast.NewCompiler().WithSchemas(schemas).WithCapabilities(nil).WithUseTypeCheckAnnotations(true)
	compiler.SetErrorLimit(rego.DefaultAllowedRegoErrors)
	compiler.Compile(modules)
	if compiler.Failed() {
		return nil
	}
	retriever := rego.NewMetadataRetriever(compiler)
	var out []iacscan.Rule
	for _, module := range modules {
		md, err := retriever.RetrieveMetadata(ctx, module)
		if err != nil || md.ID == "" {
			continue
		}
		out = append(out, md.ToRule())
	}
	return out
}
