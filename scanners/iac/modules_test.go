package iac

import (
	"strings"
	"testing"
)

func TestRemoteModuleNotes(t *testing.T) {
	tf := `module "local" {
  source = "./modules/a"
}
module "parent" {
  source = "../shared"
}
module "git" {
  source = "git::https://ci:s3cr3tT0ken@dev.azure.com/org/p/_git/mods//net?ref=v1"
}
module "ssh" {
  source = "git::ssh://git@example.com/mods.git?sshkey=LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0K"
}
module "registry" {
  source  = "Azure/aks/azurerm"
  version = "9.0.0"
}
`
	notes := remoteModuleNotes("infra/main.tf", []byte(tf))
	if len(notes) != 3 {
		t.Fatalf("%d notes, want 3 (git, ssh, registry): %+v", len(notes), notes)
	}
	all := ""
	for _, n := range notes {
		all += n.Message + "\n"
		if n.Path != "infra/main.tf" || n.Line == 0 {
			t.Errorf("note without its place: %+v", n)
		}
	}
	for _, want := range []string{`module "git" in infra/main.tf:7`, "git::https://dev.azure.com/org/p/_git/mods//net?ref=v1", `module "registry" in infra/main.tf:13`, "Azure/aks/azurerm"} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
	for _, secret := range []string{"s3cr3tT0ken", "LS0tLS1CRUdJTi"} {
		if strings.Contains(all, secret) {
			t.Errorf("a module source's credential leaked into the notes:\n%s", all)
		}
	}
	if n := remoteModuleNotes("infra/vars.tfvars", []byte(tf)); n != nil {
		t.Errorf("tfvars files have no modules: %+v", n)
	}
}
