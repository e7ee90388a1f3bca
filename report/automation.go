package report

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"strings"
)

// Automation identifies the pipeline run a SARIF log belongs to. Its shape is
// what GitHub Advanced Security for Azure DevOps ingests (and the SARIF
// Multitool's GHAzDO rules check): automationDetails.id under
// "azuredevops/pipeline/build/" plus four pipeline properties.
type Automation struct {
	// GitHub marks a GitHub Actions run: ids are then "<category>-<engine>/<run id>",
	// the category/run shape GitHub code scanning groups analyses by.
	GitHub         bool
	Organization   string
	Project        string
	DefinitionID   string
	DefinitionName string
	PhaseID        string
	PhaseName      string
	Branch         string
	BuildID        string
}

// LocalAutomation is used outside any pipeline: placeholders that are
// stable, so a local scan's SARIF is reproducible, and valid for GHAzDO
// (definition id -1 is its "no definition" sentinel).
func LocalAutomation() Automation {
	return Automation{
		Organization:   "local",
		Project:        "local",
		DefinitionID:   "-1",
		DefinitionName: "local",
		PhaseID:        nameGUID("tollgate/local/phase"),
		PhaseName:      "local",
		Branch:         "local",
		BuildID:        "0",
	}
}

// AutomationFromEnv reads the pipeline's predefined variables: Azure
// Pipelines (TF_BUILD) or GitHub Actions; otherwise LocalAutomation.
func AutomationFromEnv(getenv func(string) string) Automation {
	first := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	if strings.EqualFold(getenv("GITHUB_ACTIONS"), "true") {
		return Automation{GitHub: true, BuildID: first("GITHUB_RUN_ID")}
	}
	a := LocalAutomation()
	if !strings.EqualFold(getenv("TF_BUILD"), "true") {
		return a
	}
	if v := first("SYSTEM_COLLECTIONURI"); v != "" {
		a.Organization = orgName(v)
	}
	if v := first("SYSTEM_TEAMPROJECT", "SYSTEM_TEAMPROJECTID"); v != "" {
		a.Project = v
	}
	if v := first("BUILD_DEFINITIONID", "SYSTEM_DEFINITIONID"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			a.DefinitionID = v
		}
	}
	if v := first("BUILD_DEFINITIONNAME"); v != "" {
		a.DefinitionName = v
	}
	if v := first("SYSTEM_PHASEID", "SYSTEM_JOBID"); v != "" {
		if g, ok := parseGUID(v); ok {
			a.PhaseID = g
		} else {
			a.PhaseID = nameGUID("tollgate/phase/" + v)
		}
	}
	if v := first("SYSTEM_PHASENAME", "SYSTEM_JOBNAME"); v != "" {
		a.PhaseName = v
	}
	if v := first("BUILD_SOURCEBRANCH"); v != "" {
		a.Branch = v
	}
	if v := first("BUILD_BUILDID"); v != "" {
		a.BuildID = v
	}
	return a
}

// ID is the automationDetails.id of one engine's run; category tells
// several Tollgate analyses of one repository apart.
func (a Automation) ID(category, engine string) string {
	if category == "" {
		category = "tollgate"
	}
	if a.GitHub {
		return category + "-" + engine + "/" + a.BuildID
	}
	return "azuredevops/pipeline/build/" + strings.Join([]string{
		a.Organization, a.Project, a.DefinitionID, a.PhaseID, a.Branch, a.BuildID, category + "-" + engine,
	}, "/")
}

// Properties are the automationDetails properties GHAzDO requires.
func (a Automation) Properties() map[string]string {
	if a.GitHub {
		return nil
	}
	return map[string]string{
		"azuredevops/pipeline/build/buildDefinitionId":   a.DefinitionID,
		"azuredevops/pipeline/build/buildDefinitionName": a.DefinitionName,
		"azuredevops/pipeline/build/phaseId":             a.PhaseID,
		"azuredevops/pipeline/build/phaseName":           a.PhaseName,
	}
}

// orgName takes the organisation from a collection URI
// (https://dev.azure.com/contoso/ or https://contoso.visualstudio.com/).
func orgName(uri string) string {
	u := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(uri, "https://"), "http://"), "/")
	host, rest, _ := strings.Cut(u, "/")
	if strings.HasSuffix(host, ".visualstudio.com") {
		return strings.TrimSuffix(host, ".visualstudio.com")
	}
	if rest != "" {
		seg, _, _ := strings.Cut(rest, "/")
		return seg
	}
	return host
}

// nameGUID is a name-based (version 5 style) GUID: stable for a name.
func nameGUID(name string) string {
	h := sha1.Sum([]byte("tollgate:" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func parseGUID(s string) (string, bool) {
	t := strings.ToLower(strings.Trim(s, "{}"))
	if len(t) != 36 || t == "00000000-0000-0000-0000-000000000000" {
		return "", false
	}
	for i, c := range t {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !strings.ContainsRune("0123456789abcdef", c) {
				return "", false
			}
		}
	}
	return t, true
}
