package iac

import (
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/isolate"
	tg "github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iactype"
)

// DefaultOptions are the IaC engine's options before any setting.
func DefaultOptions() *Options {
	return &Options{UnitTimeout: DefaultUnitTimeout, UnitMemory: DefaultUnitMemory}
}

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
		{Flag: "iac-unit-timeout", Key: "iac.unit-timeout", Arg: "DURATION", Default: DefaultUnitTimeout.String(),
			Usage: "stop checking one IaC unit (a Terraform module group, a Helm chart, a kustomization, a file of the other types) after this DURATION: the unit is reported, not checked, and the rest of the scan goes on (0: no limit)",
			Set: func(v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return fmt.Errorf("invalid duration %q", v)
				}
				o.UnitTimeout = d
				return nil
			}},
		{Flag: "iac-unit-memory", Key: "iac.unit-memory", Arg: "SIZE", Default: isolate.Size(DefaultUnitMemory),
			Usage: "memory one IaC unit may use (its worker process is stopped past it; the unit is reported, not checked) (0: no limit)",
			Set: func(v string) error {
				n, err := tg.ParseSize(v)
				if err != nil {
					return err
				}
				o.UnitMemory = n
				return nil
			}},
		{Flag: "cf-params", Repo: true, Key: "iac.cf-params", Path: true, Usage: "CloudFormation parameter `FILE`s (repeatable)", Set: add(&o.CFParams)},
	}
}
