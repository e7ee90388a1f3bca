package iac

import (
	"fmt"
	"path"
	"slices"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/iac/scanners"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/ansible"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/azure/arm"
	cfscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/cloudformation"
	dfscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/dockerfile"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/helm"
	k8sscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/kubernetes"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/options"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/terraform"
	tfsnapshot "github.com/aquasecurity/trivy/pkg/iac/scanners/terraformplan/snapshot"
	tfjson "github.com/aquasecurity/trivy/pkg/iac/scanners/terraformplan/tfjson"
	"github.com/aquasecurity/trivy/pkg/mapfs"
	"github.com/aquasecurity/trivy/pkg/misconf"
)

// buildFS puts the files, as classify read them, into a virtual filesystem
// for Trivy's scanners: no file is read twice, none is reopened by path
// after the walk, and a module path cannot climb out of the scan root.
func buildFS(contents map[string][]byte, paths []string) (*mapfs.FS, error) {
	mfs := mapfs.New()
	for _, p := range paths {
		if d := path.Dir(p); d != "." {
			if err := mfs.MkdirAll(d, 0o700); err != nil && !isExist(err) {
				return nil, fmt.Errorf("virtual filesystem: %s: %w", p, err)
			}
		}
		if err := mfs.WriteVirtualFile(p, contents[p], 0o600); err != nil {
			return nil, fmt.Errorf("virtual filesystem: %s: %w", p, err)
		}
	}
	return mfs, nil
}

func (s *Engine) initRego(in *inputs) (*rego.Scanner, error) {
	opt := misconf.ScannerOption{
		Namespaces:     append(slices.Clone(s.opts.Namespaces), rego.BuiltinNamespaces()...),
		RegoErrorLimit: 10,
	}
	if in.checkDir != "" {
		opt.PolicyPaths = []string{in.checkDir}
	}
	return misconf.InitRegoScanner(opt)
}

// newTrivyScanner builds the scanner for one type as Trivy's misconf package
// does, plus the module download switch it does not expose.
func (s *Engine) newTrivyScanner(t detection.FileType, rs *rego.Scanner, in *inputs) (scanners.FSScanner, error) {
	opts := []options.ScannerOption{
		rego.WithRegoScanner(rs),
		options.WithScanRawConfig(false),
	}
	switch t {
	case detection.FileTypeAzureARM:
		return arm.New(opts...), nil
	case detection.FileTypeCloudFormation:
		if len(in.cfParams.names) > 0 {
			cfs, names, err := valueFilesFS(in.cfParams)
			if err != nil {
				return nil, err
			}
			opts = append(opts, cfscanner.WithParameterFiles(names...), cfscanner.WithConfigsFS(cfs))
		}
		return cfscanner.New(opts...), nil
	case detection.FileTypeDockerfile:
		return dfscanner.NewScanner(opts...), nil
	case detection.FileTypeHelm:
		if len(in.helmValues) > 0 {
			opts = append(opts, helm.ScannerWithValuesFile(in.helmValues...))
		}
		return helm.New(opts...), nil
	case detection.FileTypeKubernetes:
		return k8sscanner.NewScanner(opts...), nil
	case detection.FileTypeTerraform, detection.FileTypeTerraformPlanSnapshot:
		opts = append(opts,
			terraform.ScannerWithAllDirectories(true),
			terraform.ScannerWithDownloadsAllowed(s.opts.DownloadModules),
			terraform.ScannerWithSkipCachedModules(!s.opts.DownloadModules),
		)
		if len(in.tfVars.names) > 0 {
			cfs, names, err := valueFilesFS(in.tfVars)
			if err != nil {
				return nil, err
			}
			opts = append(opts, terraform.ScannerWithTFVarsPaths(names...), terraform.ScannerWithConfigsFileSystem(cfs))
		}
		if t == detection.FileTypeTerraformPlanSnapshot {
			return tfsnapshot.New(opts...), nil
		}
		return terraform.New(opts...), nil
	case detection.FileTypeTerraformPlanJSON:
		return tfjson.New(opts...), nil
	case detection.FileTypeAnsible:
		return ansible.New(opts...), nil
	}
	return nil, fmt.Errorf("unsupported file type %s", t)
}

func isPlan(ft detection.FileType) bool {
	return ft == detection.FileTypeTerraformPlanJSON || ft == detection.FileTypeTerraformPlanSnapshot
}
