package iac

import (
	"strings"

	tg "github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iactype"
)

// DefaultOptions are the IaC engine's options before any setting.
func DefaultOptions() *Options { return &Options{} }

// Bind implements scanners.EngineOptions: the IaC engine's flags,
// .tollgate.yaml keys (the iac section) and task inputs.
func (o *Options) Bind() []tg.Setting {
	add := func(dst *[]string) func(string) error {
		return func(v string) error { *dst = append(*dst, tg.SplitList(v)...); return nil }
	}
	return []tg.Setting{
		{Flag: "iac-file-types", Repo: true, Arg: "TYPES", Key: "iac.file-types", Usage: "IaC types to check (default all): " + strings.Join(iactype.Names, ", "),
			Set: func(v string) error {
				o.FileTypes = tg.SplitList(v)
				return iactype.Validate(o.FileTypes)
			}},
		{Flag: "iac-exclude", Repo: true, Key: "iac.exclude", Usage: "path `GLOB` the IaC engine skips (repeatable)",
			Set: func(v string) error { return tg.AddGlobs(&o.Exclude, v) }},
		{Flag: "download-tf-modules", Key: "iac.download-modules", Bool: true,
			Usage: "let Terraform fetch remote module sources (off: a pull request must not make the scanner fetch URLs)",
			Set:   func(v string) error { return tg.SetBool(&o.DownloadModules, v) }},
		{Flag: "iac-checks", Key: "iac.checks", Path: true, Usage: "extra Rego check `PATH`s (repeatable)", Set: add(&o.CheckPaths)},
		{Flag: "iac-namespaces", Arg: "NAMESPACE", Key: "iac.namespaces", Usage: "Rego namespaces of the extra checks (repeatable)", Set: add(&o.Namespaces)},
		{Flag: "tf-vars", Repo: true, Key: "iac.tf-vars", Path: true, Usage: "Terraform .tfvars `FILE`s (repeatable)", Set: add(&o.TFVars)},
		{Flag: "helm-values", Repo: true, Key: "iac.helm-values", Path: true, Usage: "Helm values `FILE`s (repeatable)", Set: add(&o.HelmValueFiles)},
		{Flag: "cf-params", Repo: true, Key: "iac.cf-params", Path: true, Usage: "CloudFormation parameter `FILE`s (repeatable)", Set: add(&o.CFParams)},
	}
}
