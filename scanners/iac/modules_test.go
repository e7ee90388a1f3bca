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
module "blob" {
  source = "https://acct.blob.core.windows.net/mods/net.zip?sv=2022-11-02&sig=QmxvYlNpZ25hdHVyZQ%3D%3D"
}
module "gitlab" {
  source = "git::https://gitlab.example.com/g/m.git?private_token=glpat-XYZXYZXYZ&aws_access_key_secret=wJalrXUtnFEMI"
}
module "registry" {
  source  = "Azure/aks/azurerm"
  version = "9.0.0"
}
`
	notes := remoteModuleNotes("infra/main.tf", []byte(tf))
	if len(notes) != 5 {
		t.Fatalf("%d notes, want 5 (git, ssh, blob, gitlab, registry): %+v", len(notes), notes)
	}
	all := ""
	for _, n := range notes {
		all += n.Message + "\n"
		if n.Path != "infra/main.tf" || n.Line == 0 {
			t.Errorf("note without its place: %+v", n)
		}
	}
	for _, want := range []string{`module "git" in infra/main.tf:7`, "(git::https://dev.azure.com/org/p/_git/mods//net)",
		"(https://acct.blob.core.windows.net/mods/net.zip)", "(git::https://gitlab.example.com/g/m.git)", `module "registry" in infra/main.tf:19`, "(Azure/aks/azurerm)"} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
	for _, secret := range []string{"s3cr3tT0ken", "LS0tLS1CRUdJTi", "QmxvYlNpZ25hdHVyZQ", "glpat-XYZ", "wJalrXUtnFEMI", "ref=v1"} {
		if strings.Contains(all, secret) {
			t.Errorf("a module source's credential leaked into the notes:\n%s", all)
		}
	}
	if n := remoteModuleNotes("infra/vars.tfvars", []byte(tf)); n != nil {
		t.Errorf("tfvars files have no modules: %+v", n)
	}
}
