package iac

import (
	"bytes"
	"path"
	"slices"
	"strings"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
)

// fileType is one kind of configuration Trivy checks.
type fileType struct {
	t detection.FileType
	// required mirrors the Required method of Trivy's analyzer for the type
	// (pkg/fanal/analyzer/config/*): the cheap, name-based first filter.
	required func(p string, size int64) bool
}

// maxHelmArchive is Trivy's size cap for a packaged chart.
const maxHelmArchive = 209_715_200

// fileTypes are the types `trivy config` scans by default (every config
// analyzer but the generic YAML and JSON ones, which need custom checks), in
// the order Trivy registers them.
var fileTypes = []fileType{
	{detection.FileTypeAzureARM, func(p string, _ int64) bool {
		return path.Ext(p) == ".json" && strings.ToLower(path.Base(p)) != "createuidefinition.json" || isBicep(p)
	}},
	{detection.FileTypeCloudFormation, extIn(".json", ".yaml", ".yml", ".tfvars")},
	{detection.FileTypeDockerfile, func(p string, _ int64) bool {
		base := path.Base(p)
		ext := path.Ext(base)
		for _, name := range []string{"Dockerfile", "Containerfile"} {
			if strings.EqualFold(base, name+ext) || strings.EqualFold(ext, "."+name) {
				return true
			}
		}
		return false
	}},
	{detection.FileTypeHelm, func(p string, size int64) bool {
		if size > maxHelmArchive {
			return false
		}
		lower := strings.ToLower(p)
		for _, ext := range []string{".tpl", ".json", ".yml", ".yaml", ".tar", ".tgz", ".tar.gz"} {
			if strings.HasSuffix(lower, ext) {
				return true
			}
		}
		base := path.Base(p)
		return strings.EqualFold(base, "Chart.yaml") || strings.EqualFold(base, ".helmignore")
	}},
	{detection.FileTypeKubernetes, extIn(".json", ".yaml", ".yml", ".tfvars")},
	{detection.FileTypeTerraform, func(p string, _ int64) bool { return detection.IsTerraformFile(p) }},
	{detection.FileTypeTerraformPlanJSON, extIn(".json")},
	{detection.FileTypeTerraformPlanSnapshot, func(p string, _ int64) bool {
		return path.Ext(p) == ".tfplan" || path.Base(p) == "tfplan"
	}},
	{detection.FileTypeAnsible, func(p string, _ int64) bool {
		return path.Base(p) == "ansible.cfg" || slices.Contains([]string{"", ".yml", ".yaml", ".json", ".ini"}, path.Ext(p))
	}},
}

func extIn(exts ...string) func(string, int64) bool {
	return func(p string, _ int64) bool { return slices.Contains(exts, path.Ext(p)) }
}

// candidateTypes returns the types whose name filter accepts the file.
func candidateTypes(p string, size int64, enabled map[detection.FileType]bool) []detection.FileType {
	var out []detection.FileType
	for _, ft := range fileTypes {
		if enabled[ft.t] && ft.required(p, size) {
			out = append(out, ft.t)
		}
	}
	return out
}

// matchTypes applies Trivy's content detection (what its misconf scanner's
// filterFS does) to a candidate file's content.
func matchTypes(p string, content []byte, candidates []detection.FileType) []detection.FileType {
	var out []detection.FileType
	for _, t := range candidates {
		if detection.IsType(p, bytes.NewReader(content), t) {
			out = append(out, t)
		}
	}
	return out
}

// TypeNames lists the file types the engine can scan (iactype.Names, which
// a test keeps equal to this table).
func TypeNames() []string {
	out := make([]string, 0, len(fileTypes))
	for _, ft := range fileTypes {
		out = append(out, string(ft.t))
	}
	return out
}
