package secrets_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/secrets"
)

// Fake credentials are generated here, never committed: a seeded source
// keeps the cases reproducible.
type gen struct{ r *rand.Rand }

func newGen() gen { return gen{rand.New(rand.NewPCG(20261122, 7))} }

func (g gen) from(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g gen) alnum(n int) string {
	return g.from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", n)
}
func (g gen) hex(n int) string { return g.from("0123456789abcdef", n) }
func (g gen) b32(n int) string { return g.from("abcdefghijklmnopqrstuvwxyz234567", n) }
func (g gen) b64(n int) string {
	return g.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", n)
}

type ruleCase struct {
	rule, path, content string
	hit                 bool
}

func ruleCases() []ruleCase {
	g := newGen()
	azurite := "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	emulator := "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
	ppk := func(enc string) string {
		return "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: " + enc + "\nComment: deploy\nPublic-Lines: 2\n" +
			g.b64(64) + "\n" + g.b64(20) + "\nPrivate-Lines: 1\n" + g.b64(44) + "\nPrivate-MAC: " + g.hex(64) + "\n"
	}
	return []ruleCase{
		{"netrc-password", ".netrc", "machine api.example.io\n  login ci\n  password " + g.alnum(20) + "\n", true},
		{"netrc-password", ".netrc", "# password rotation: see the wiki\nmachine api.example.io login ci\n", false},
		{"git-credentials-password", ".git-credentials", "https://ci-bot:" + g.alnum(40) + "@github.com\n", true},
		{"git-credentials-password", ".git-credentials", "https://github.com\n", false},
		{"pgpass-password", ".pgpass", "db.internal:5432:app:app_user:" + g.alnum(16) + "\n", true},
		{"pgpass-password", ".pgpass", "# hostname:port:database:username:password\n", false},
		{"htpasswd-hash", ".htpasswd", "admin:$apr1$" + g.alnum(8) + "$" + g.alnum(22) + "\n", true},
		{"htpasswd-hash", ".htpasswd", "# users for the staging site\n", false},
		{"shadow-password-hash", "etc/shadow", "root:$6$" + g.alnum(16) + "$" + g.alnum(86) + ":19000:0:99999:7:::\n", true},
		{"shadow-password-hash", "etc/shadow", "root:*:19000:0:99999:7:::\ndaemon:!:19000:0:99999:7:::\n", false},
		{"docker-config-auth", ".docker/config.json", `{"auths":{"acme.azurecr.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("ci:"+g.alnum(24))) + `"}}}`, true},
		{"docker-config-auth", ".docker/config.json", `{"auths":{"acme.azurecr.io":{}},"credsStore":"desktop"}`, false},
		{"npmrc-auth", ".npmrc", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=" + g.alnum(36) + "\n", true},
		{"npmrc-auth", ".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", false},
		// gitleaks' npm-access-token has this one: reported once, by gitleaks' rule.
		{"npmrc-auth", ".npmrc", "//registry.npmjs.org/:_authToken=npm_" + g.alnum(36) + "\n", false},
		{"npmrc-auth", ".npmrc", "//pkgs.dev.azure.com/acme/_packaging/feed/npm/registry/:username=acme\n//pkgs.dev.azure.com/acme/_packaging/feed/npm/registry/:_password=" + base64.StdEncoding.EncodeToString([]byte(g.alnum(52))) + "\n", true},
		{"s3cfg-secret-key", ".s3cfg", "[default]\naccess_key = AKIA" + g.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) + "\nsecret_key = " + g.b64(40) + "\n", true},
		{"s3cfg-secret-key", ".s3cfg", "[default]\nsecret_key =\n", false},
		{"filezilla-password", "sitemanager.xml", `<Server><Host>ftp.acme.io</Host><User>deploy</User><Pass encoding="base64">` + base64.StdEncoding.EncodeToString([]byte(g.alnum(14))) + `</Pass></Server>`, true},
		{"filezilla-password", "sitemanager.xml", `<Server><Host>ftp.acme.io</Host><Logontype>2</Logontype><Pass encoding="base64"></Pass></Server>`, false},
		{"wordpress-db-password", "wp-config.php", "<?php\ndefine( 'DB_PASSWORD', '" + g.alnum(16) + "' );\n", true},
		{"wordpress-db-password", "wp-config.php", "<?php\ndefine( 'DB_PASSWORD', 'password_here' );\n", false},
		{"dotenv-secret", ".env", "APP_ENV=prod\nDB_PASSWORD=" + g.alnum(16) + "\n", true},
		{"dotenv-secret", ".env.example", "DB_PASSWORD=" + g.alnum(16) + "\nJWT_SECRET=changeme\n", false},
		{"jdbc-password", "src/main/resources/application.properties", "spring.datasource.url=jdbc:sqlserver://db:1433;databaseName=app;user=app;password=" + g.alnum(14) + "\n", true},
		{"jdbc-password", "src/main/resources/application.properties", "spring.datasource.url=jdbc:postgresql://db:5432/app?user=app&password=${DB_PASSWORD}\n", false},
		{"connection-string-password", "appsettings.json", `{"ConnectionStrings":{"Default":"Server=tcp:sql.acme.net,1433;Database=app;User ID=app;Password=` + g.alnum(16) + `;Encrypt=true"}}`, true},
		{"connection-string-password", "appsettings.json", `{"ConnectionStrings":{"Default":"Server=tcp:sql.acme.net,1433;Database=app;User ID=app;Password={0};Encrypt=true"}}`, false},
		{"url-credentials", "deploy/config.yaml", "broker: amqp://svc:" + g.alnum(18) + "@rabbit.internal:5672/\n", true},
		{"url-credentials", "deploy/config.yaml", "broker: amqp://user:password@localhost:5672/\n", false},
		{"putty-private-key", "keys/deploy.ppk", ppk("none"), true},
		{"putty-private-key", "docs/putty.md", "Convert the key with puttygen into a PuTTY-User-Key-File-3 file.\n", false},
		{"rails-master-key", "config/master.key", g.hex(32) + "\n", true},
		{"rails-master-key", "config/master.key", "REPLACE_WITH_THE_KEY\n", false},
		{"rails-master-key", "config/master.key", "\n\n\n" + g.hex(32) + "\n", true},
		{"azure-storage-connection-string", "local.settings.json", `{"Values":{"Storage":"DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=` + g.b64(86) + `==;EndpointSuffix=core.windows.net"}}`, true},
		{"azure-storage-connection-string", "local.settings.json", `{"Values":{"Storage":"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=` + azurite + `;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1"}}`, false},
		{"azure-storage-account-key", "infra/main.tf", `storage_account_key = "` + g.b64(86) + `=="` + "\n", true},
		{"azure-storage-account-key", "infra/main.tf", "storage_account_key = var.storage_key\n", false},
		{"azure-sas-token", "scripts/upload.sh", "curl -T f 'https://acme.blob.core.windows.net/c/f?sv=2022-11-02&ss=b&srt=o&sp=rw&se=2027-01-01T00:00:00Z&spr=https&sig=" + url.QueryEscape(g.b64(43)+"=") + "'\n", true},
		{"azure-sas-token", "scripts/upload.sh", "curl -T f 'https://acme.blob.core.windows.net/c/f?sv=2022-11-02&sp=rw&sig=<signature>'\n", false},
		{"azure-shared-access-key", "appsettings.json", `{"ServiceBus":"Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=` + g.b64(43) + `="}`, true},
		{"azure-shared-access-key", "appsettings.json", `{"ServiceBus":"Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=<key>"}`, false},
		{"azure-cosmosdb-key", "appsettings.json", `{"Cosmos":"AccountEndpoint=https://acme.documents.azure.com:443/;AccountKey=` + g.b64(86) + `==;"}`, true},
		{"azure-cosmosdb-key", "appsettings.json", `{"Cosmos":"AccountEndpoint=https://acme.documents.azure.com:443/;AccountKey=` + emulator + `;"}`, false},
		{"azure-devops-pat", "scripts/ado.ps1", "$pat = '" + g.alnum(76) + "AZDO" + g.alnum(4) + "'\n", true},
		{"azure-devops-pat", "scripts/ado.ps1", "$id = '" + g.alnum(75) + "AZDO" + g.alnum(4) + "'\n", false},
		{"azure-devops-pat-legacy", "scripts/ado.sh", "AZDO_PAT=\"" + g.b32(52) + "\"\n", true},
		{"azure-devops-pat-legacy", "scripts/ado.sh", "COMMIT_LIST=\"" + g.b32(52) + "\"\n", false},
		{"azure-function-key", "tests/smoke.http", "POST https://acme-fn.azurewebsites.net/api/orders?code=" + g.alnum(54) + "==\n", true},
		{"azure-function-key", "tests/smoke.http", "POST https://acme-fn.azurewebsites.net/api/orders?code=<function-key>\n", false},
		{"azure-app-configuration-connection-string", "appsettings.json", `{"AppConfig":"Endpoint=https://acme.azconfig.io;Id=` + g.alnum(10) + `;Secret=` + g.b64(44) + `"}`, true},
		{"azure-app-configuration-connection-string", "appsettings.json", `{"AppConfig":"Endpoint=https://acme.azconfig.io;Id=x;Secret="}`, false},
	}
}

func TestExtraRules(t *testing.T) {
	root := t.TempDir()
	cases := ruleCases()
	for i, c := range cases {
		p := filepath.Join(root, fmt.Sprintf("case%02d", i), filepath.FromSlash(c.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	res, err := secrets.New(secrets.Options{}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	hits := map[string]bool{}
	perLine := map[string][]string{}
	for _, f := range res.Findings {
		at := fmt.Sprintf("%s:%d", f.Location.Path, f.Location.StartLine)
		if perLine[at] = append(perLine[at], f.RuleID); len(perLine[at]) > 1 {
			t.Errorf("%s: one secret reported %d times: %v", at, len(perLine[at]), perLine[at])
		}
		dir, _, _ := strings.Cut(f.Location.Path, "/")
		hits[dir+" "+f.RuleID] = true
		hits[fmt.Sprintf("%s %s line %d", dir, f.RuleID, f.Location.StartLine)] = true
		if strings.Contains(f.Message, f.Secret.Redacted) && f.Secret.Redacted != secrets.Redacted {
			t.Errorf("unredacted detail %+v", f.Secret)
		}
	}
	// The emulators' published keys are allowed for every rule.
	for i, c := range cases {
		if strings.Contains(c.content, "Eby8vdM02xNOcqFl") || strings.Contains(c.content, "C2y6yDjf5/R+ob0N") {
			for _, f := range res.Findings {
				if strings.HasPrefix(f.Location.Path, fmt.Sprintf("case%02d/", i)) {
					t.Errorf("case %d: %s reported an emulator's published key", i, f.RuleID)
				}
			}
		}
	}
	seen := map[string]int{}
	for i, c := range cases {
		seen[c.rule]++
		if got := hits[fmt.Sprintf("case%02d %s", i, c.rule)]; got != c.hit {
			t.Errorf("case %d: %s on %s: hit=%v, want %v\n%s", i, c.rule, c.path, got, c.hit, c.content)
		}
	}
	// Every extra rule has a true positive and a near miss.
	extra, err := secrets.ExtraRules()
	if err != nil {
		t.Fatal(err)
	}
	for id := range extra.Rules {
		if seen[id] < 2 {
			t.Errorf("rule %s has %d test cases, want a true positive and a near miss", id, seen[id])
		}
	}
	// Switched off, none fires.
	res, err = secrets.New(secrets.Options{NoExtraRules: true, NoHardcoded: true}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	defaultHits := map[string]bool{}
	for _, f := range res.Findings {
		if _, ok := extra.Rules[f.RuleID]; ok {
			t.Errorf("extra rule %s fired while switched off", f.RuleID)
		}
		// The emulators' keys stay allowed without the extra rules: gitleaks'
		// own rules (generic-api-key) do not report them either.
		for i, c := range cases {
			if strings.HasPrefix(f.Location.Path, fmt.Sprintf("case%02d/", i)) && (strings.Contains(c.content, "Eby8vdM02xNOcqFl") || strings.Contains(c.content, "C2y6yDjf5/R+ob0N")) {
				t.Errorf("case %d: %s reported an emulator's published key with the extra rules off", i, f.RuleID)
			}
		}
		dir, _, _ := strings.Cut(f.Location.Path, "/")
		defaultHits[fmt.Sprintf("%s line %d", dir, f.Location.StartLine)] = true
	}
	// Recall on the true positives: gitleaks' rules alone, then with ours.
	tp, byDefault, withExtra := 0, 0, 0
	for i, c := range cases {
		if !c.hit {
			continue
		}
		tp++
		dir := fmt.Sprintf("case%02d", i)
		for line := range strings.Count(c.content, "\n") + 1 {
			if hits[fmt.Sprintf("%s %s line %d", dir, c.rule, line+1)] && defaultHits[fmt.Sprintf("%s line %d", dir, line+1)] {
				byDefault++ // gitleaks' rules find the same credential
			}
		}
		if hits[dir+" "+c.rule] {
			withExtra++
		}
	}
	t.Logf("recall on %d credential-file and Azure cases: gitleaks' default rules alone %d, with Tollgate's extra rules %d", tp, byDefault, withExtra)
	// The README quotes this figure: every true positive is found with the
	// extra rules, and they are what finds most of them.
	if tp < 20 || withExtra != tp || byDefault*2 > tp {
		t.Errorf("recall: %d true positives, %d found with the extra rules, %d by gitleaks' rules alone", tp, withExtra, byDefault)
	}

	// Turned off on its own, the emulator allowlist lets gitleaks' rules
	// report the published keys again: the allowlist is what hid them.
	res, err = secrets.New(secrets.Options{NoExtraRules: true, NoHardcoded: true, NoEmulatorAllowlist: true}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	emulatorHits := 0
	for _, f := range res.Findings {
		for i, c := range cases {
			if strings.HasPrefix(f.Location.Path, fmt.Sprintf("case%02d/", i)) && (strings.Contains(c.content, "Eby8vdM02xNOcqFl") || strings.Contains(c.content, "C2y6yDjf5/R+ob0N")) {
				emulatorHits++
			}
		}
	}
	if emulatorHits == 0 {
		t.Error("with the emulator allowlist off, no rule reports the emulators' keys: the test proves nothing about the allowlist")
	}
}

// The extra rules add no false positive on a large real codebase: the Go
// toolchain's own source tree (some 11,000 files, with test keys, example
// URLs with passwords and connection strings among them).
func TestExtraRulesPrecision(t *testing.T) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "src")
	// A config with no rule of its own: only the extra rules run.
	cfg := filepath.Join(t.TempDir(), "none.toml")
	if err := os.WriteFile(cfg, []byte("title = \"no rules\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tgt, err := scanners.Walk(context.Background(), src, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	if len(tgt.Files) < 5000 {
		t.Fatalf("%s has %d files: not the Go source tree", src, len(tgt.Files))
	}
	res, err := secrets.New(secrets.Options{ConfigPath: cfg}, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		t.Errorf("false positive: %s at %s:%d", f.RuleID, f.Location.Path, f.Location.StartLine)
	}
	t.Logf("%d files, %d extra-rule findings", len(tgt.Files), len(res.Findings))
}
