package secrets_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/scanners/secrets"
)

// recallSeed fixes the corpus of TestHardcodedRecall; so does the
// environment's TOLLGATE_RECALL_SEED, which wins. Without either, each run
// draws a new seed and logs it.
var recallSeed = flag.Uint64("recall-seed", 0, "seed of the hardcoded-credential recall corpus (0: a new one each run; TOLLGATE_RECALL_SEED overrides)")

// The recall thresholds of TestHardcodedRecall. Each family of plants
// must find familyRecall % of its plants, rounded up, so a family of four
// or fewer plants may miss none and none may drop to zero; the whole
// corpus must find totalRecall %. Tollgate's recall must exceed that of
// gitleaks' default rules alone by overGitleaks percentage points of the
// corpus, and the hardcoded class must add overExtra points to gitleaks
// with Tollgate's extra rules.
const (
	familyRecall = 80
	totalRecall  = 95
	overGitleaks = 50
	overExtra    = 40
)

// corpusGen makes the random values of one corpus: new every run, so the
// detector cannot be tuned to them.
type corpusGen struct{ r *rand.Rand }

const (
	lowerAlpha = "abcdefghijklmnopqrstuvwxyz"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// words are the stems of human-chosen passwords; none is a word the
// detector treats as a placeholder.
var words = []string{"Kestrel", "Quokka", "Marlin", "Juniper", "Copper", "Falcon", "Harbor", "Tundra",
	"Saffron", "Walrus", "Orchid", "Granite", "Meadow", "Cobalt", "Pelican", "Thistle", "Lantern", "Bramble"}

func (g corpusGen) pick(s string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = s[g.r.IntN(len(s))]
	}
	return string(b)
}

// password is a human-chosen password (Kestrel4471!) or a generated one.
// A generated value holding "xxx" is drawn again: the class documents such
// values as placeholders (tollgate-hardcoded-password's description); a few
// runs in a thousand drew one, and a family of three plants then failed.
func (g corpusGen) password() string {
	switch g.r.IntN(3) {
	case 0:
		return words[g.r.IntN(len(words))] + strconv.Itoa(1000+g.r.IntN(9000)) + []string{"!", ".", "_", "-"}[g.r.IntN(4)]
	case 1:
		return strings.ToLower(words[g.r.IntN(len(words))]) + strings.ToLower(words[g.r.IntN(len(words))]) + strconv.Itoa(10+g.r.IntN(90))
	default:
		for {
			if v := g.pick(alnum, 10+g.r.IntN(10)); !strings.Contains(strings.ToLower(v), "xxx") {
				return v
			}
		}
	}
}

func (g corpusGen) user() string { return strings.ToLower(words[g.r.IntN(len(words))]) + "_svc" }

func (g corpusGen) hex(n int) string { return g.pick("0123456789abcdef", n) }

func (g corpusGen) guid() string {
	h := g.hex(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// plant is one file of the corpus with the credential's line.
type plant struct {
	family, path, content string
	line                  int
}

// recallCorpus builds files that look like the ones real repositories leak
// credentials in, one planted credential each. {{PW}} marks the planted
// value (its line is the answer key), {{U}} a user name.
func recallCorpus(g corpusGen) []plant {
	pw := g.password
	tmpl := []struct{ family, path, content string }{
		// Key-based, structured configuration.
		{"yaml", "deploy/config/app.yaml", "app:\n  name: orders\n  port: 8080\ndatabase:\n  host: orders-db.internal\n  user: {{U}}\n  password: {{PW}}\n  pool: 10\n"},
		{"yaml", "charts/orders/values.yaml", "replicaCount: 2\nimage:\n  repository: contoso/orders\nredis:\n  enabled: true\n  auth:\n    password: \"{{PW}}\"\n"},
		{"yaml", "ansible/group_vars/db.yml", "---\npostgresql_version: 15\npostgresql_users:\n  - name: {{U}}\n    db_password: '{{PW}}'\n"},
		{"yaml", "config/mongoid.yml", "production:\n  clients:\n    default:\n      uri: mongodb://{{U}}:{{PW}}@mongo-1.internal:27017/orders\n"},
		{"yaml", ".github/workflows/deploy.yml", "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      SMTP_PASSWORD: {{PW}}\n    steps:\n      - run: ./deploy.sh\n"},
		{"k8s", "k8s/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          env:\n            - name: DB_PASSWORD\n              value: \"{{PW}}\"\n"},
		{"compose", "docker-compose.yml", "services:\n  db:\n    image: postgres:15\n    environment:\n      - POSTGRES_USER={{U}}\n      - POSTGRES_PASSWORD={{PW}}\n"},
		{"compose", "compose/docker-compose.prod.yaml", "services:\n  mysql:\n    image: mysql:8\n    environment:\n      MYSQL_ROOT_PASSWORD: {{PW}}\n"},
		{"json", "config/default.json", "{\n  \"server\": { \"port\": 3000 },\n  \"db\": {\n    \"user\": \"{{U}}\",\n    \"password\": \"{{PW}}\"\n  }\n}\n"},
		{"json", "src/Orders.Api/appsettings.json", "{\n  \"Logging\": { \"LogLevel\": { \"Default\": \"Information\" } },\n  \"ConnectionStrings\": {\n    \"Orders\": \"Server=tcp:orders.database.windows.net,1433;Database=orders;User ID={{U}};Password={{PW}};Encrypt=true\"\n  }\n}\n"},
		{"json", "config/mail.json", "{\n  \"smtp\": {\n    \"host\": \"smtp.contoso.com\",\n    \"auth\": { \"user\": \"{{U}}\", \"pass\": \"{{PW}}\" }\n  }\n}\n"},
		{"xml", "src/Web/Web.config", "<?xml version=\"1.0\"?>\n<configuration>\n  <appSettings>\n    <add key=\"Environment\" value=\"Production\" />\n    <add key=\"DbPassword\" value=\"{{PW}}\" />\n  </appSettings>\n</configuration>\n"},
		{"xml", "src/main/resources/applicationContext.xml", "<beans>\n  <bean id=\"dataSource\" class=\"org.apache.commons.dbcp2.BasicDataSource\">\n    <property name=\"username\" value=\"{{U}}\"/>\n    <property name=\"password\" value=\"{{PW}}\"/>\n  </bean>\n</beans>\n"},
		{"xml", "conf/server.xml", "<Server port=\"8005\">\n  <GlobalNamingResources>\n    <Resource name=\"jdbc/orders\" auth=\"Container\" type=\"javax.sql.DataSource\"\n              username=\"{{U}}\" password=\"{{PW}}\"\n              url=\"jdbc:mysql://db:3306/orders\"/>\n  </GlobalNamingResources>\n</Server>\n"},
		{"ini", "config/app.ini", "[server]\nport = 8080\n\n[database]\nhost = db.internal\nuser = {{U}}\npassword = {{PW}}\n"},
		{"ini", "etc/murmur.ini", "database=/var/lib/murmur/murmur.sqlite\nport=64738\nserverpassword={{PW}}\nusers=100\n"},
		{"ini", "odbc/odbc.ini", "[orders]\nDriver = PostgreSQL Unicode\nServername = db.internal\nUserName = {{U}}\nPassword = {{PW}}\n"},
		{"properties", "src/main/resources/application.properties", "server.port=8080\nspring.datasource.url=jdbc:postgresql://db:5432/orders\nspring.datasource.username={{U}}\nspring.datasource.password={{PW}}\n"},
		{"properties", "gradle.properties", "org.gradle.jvmargs=-Xmx2g\nnexusUsername={{U}}\nnexusPassword={{PW}}\n"},
		{"env", ".env.production", "NODE_ENV=production\nDATABASE_HOST=db.internal\nDATABASE_PASS={{PW}}\n"},
		{"env", "tools/rsync/config", "# deploy settings\nREMOTE_HOST=files.contoso.com\nREMOTE_USER={{U}}\nREMOTE_PASS={{PW}}\n"},
		{"toml", "config/production.toml", "[server]\naddr = \"0.0.0.0:8080\"\n\n[database]\nuser = \"{{U}}\"\npassword = \"{{PW}}\"\n"},
		{"hcl", "infra/variables.tf", "variable \"location\" {\n  default = \"westeurope\"\n}\n\nvariable \"admin_password\" {\n  type    = string\n  default = \"{{PW}}\"\n}\n"},
		{"hcl", "infra/prod.tfvars", "location       = \"westeurope\"\nadmin_username = \"{{U}}\"\nadmin_password = \"{{PW}}\"\n"},
		{"dockerfile", "Dockerfile", "FROM node:20-alpine\nWORKDIR /app\nENV NODE_ENV=production\nENV DB_PASSWORD={{PW}}\nCOPY . .\nCMD [\"node\", \"server.js\"]\n"},
		{"dockerfile", "docker/worker/Dockerfile", "FROM python:3.12-slim\nARG PIP_INDEX_PASSWORD={{PW}}\nRUN pip install -r requirements.txt\n"},
		// Assignments in code.
		{"code", "app/db.py", "import psycopg2\n\n\ndef connect():\n    return psycopg2.connect(host=\"db\", user=\"{{U}}\", password=\"{{PW}}\")\n"},
		{"code", "scripts/report.py", "import requests\n\nAPI_URL = \"https://reports.contoso.com/api\"\nAPI_TOKEN = \"{{PW}}\"\n"},
		{"code", "src/config.js", "module.exports = {\n  port: 3000,\n  db: {\n    user: '{{U}}',\n    password: '{{PW}}',\n  },\n};\n"},
		{"code", "src/services/mailer.ts", "import nodemailer from 'nodemailer';\n\nexport const transport = nodemailer.createTransport({\n  host: 'smtp.contoso.com',\n  auth: { user: '{{U}}', pass: '{{PW}}' },\n});\n"},
		{"code", "internal/store/db.go", "package store\n\nconst (\n\tdbUser     = \"{{U}}\"\n\tdbPassword = \"{{PW}}\"\n)\n"},
		{"code", "src/main/java/com/contoso/Db.java", "package com.contoso;\n\npublic class Db {\n    void init(BasicDataSource ds) {\n        ds.setUsername(\"{{U}}\");\n        ds.setPassword(\"{{PW}}\");\n    }\n}\n"},
		{"code", "src/Orders/Settings.cs", "namespace Orders;\n\npublic static class Settings\n{\n    public const string SmtpPassword = \"{{PW}}\";\n}\n"},
		{"code", "lib/config.php", "<?php\n$db_host = 'localhost';\n$db_user = '{{U}}';\n$db_pass = '{{PW}}';\n"},
		{"code", "app/models/sync.rb", "class Sync\n  def client\n    Ftp.new(host: 'files.contoso.com', user: '{{U}}', password: '{{PW}}')\n  end\nend\n"},
		{"code", "src/App.kt", "object Config {\n    val apiKey = \"{{PW}}\"\n}\n"},
		{"shell", "scripts/backup.sh", "#!/bin/sh\nset -e\nmysqldump -u {{U}} -p{{PW}} orders > /backup/orders.sql\n"},
		{"shell", "deploy/upload.sh", "#!/bin/bash\ncurl -u {{U}}:{{PW}} -T build.zip https://files.contoso.com/upload/\n"},
		{"shell", "tools/setup.ps1", "$ErrorActionPreference = 'Stop'\n$AdminPassword = \"{{PW}}\"\nNew-LocalUser -Name admin -Password (ConvertTo-SecureString $AdminPassword -AsPlainText -Force)\n"},
		{"html", "public/login.html", "<form method=\"post\" action=\"/login\">\n  <input type=\"text\" name=\"user\" value=\"{{U}}\">\n  <input type=\"password\" name=\"pass\" value=\"{{PW}}\">\n</form>\n"},
		// Credential stores.
		{"store", "ftp/sftp-config.json", "{\n    \"type\": \"sftp\",\n    \"host\": \"files.contoso.com\",\n    \"user\": \"{{U}}\",\n    \"password\": \"{{PW}}\",\n    \"remote_path\": \"/var/www/\"\n}\n"},
		{"store", ".vscode/sftp.json", "{\n  \"name\": \"prod\",\n  \"host\": \"files.contoso.com\",\n  \"protocol\": \"sftp\",\n  \"username\": \"{{U}}\",\n  \"password\": \"{{PW}}\"\n}\n"},
		{"store", "filezilla/sitemanager.xml", "<?xml version=\"1.0\"?>\n<FileZilla3>\n  <Servers>\n    <Server>\n      <Host>files.contoso.com</Host>\n      <User>{{U}}</User>\n      <Pass>{{PW}}</Pass>\n    </Server>\n  </Servers>\n</FileZilla3>\n"},
		{"store", "winscp/WinSCP.ini", "[Sessions\\{{U}}@files.contoso.com]\nHostName=files.contoso.com\nUserName={{U}}\nPassword={{PW}}\n"},
		{"store", ".idea/dataSources.xml", "<project version=\"4\">\n  <component name=\"DataSourceManagerImpl\">\n    <data-source name=\"orders\">\n      <user-name>{{U}}</user-name>\n      <password>{{PW}}</password>\n    </data-source>\n  </component>\n</project>\n"},
		{"store", "home/.msmtprc", "account default\nhost smtp.contoso.com\nport 587\nuser {{U}}\npassword {{PW}}\n"},
		{"store", "home/.muttrc", "set from = \"{{U}}@contoso.com\"\nset smtp_url = \"smtp://{{U}}@smtp.contoso.com:587/\"\nset smtp_pass = \"{{PW}}\"\n"},
		{"store", "home/.esmtprc", "hostname = smtp.contoso.com:587\nusername = \"{{U}}\"\npassword = \"{{PW}}\"\n"},
		{"store", "home/.pypirc", "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = {{U}}\npassword = {{PW}}\n"},
		{"store", "home/.config/pip/pip.conf", "[global]\nindex-url = https://{{U}}:{{PW}}@pkgs.contoso.com/simple\n"},
		{"store", "home/.aws/credentials", "[default]\naws_access_key_id = AKIAIOSFODNN7QWERTYU\naws_secret_access_key = {{PW}}\n"},
		{"store", "web/.htpasswd", "{{U}}:{{PW}}\n"},
		{"store", "jenkins/credentials.xml", "<com.cloudbees.plugins.credentials.SystemCredentialsProvider>\n  <domainCredentialsMap>\n    <entry>\n      <com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>\n        <username>{{U}}</username>\n        <password>{{PW}}</password>\n      </com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>\n    </entry>\n  </domainCredentialsMap>\n</com.cloudbees.plugins.credentials.SystemCredentialsProvider>\n"},
		{"store", "ci/settings.xml", "<settings>\n  <servers>\n    <server>\n      <id>nexus</id>\n      <username>{{U}}</username>\n      <password>{{PW}}</password>\n    </server>\n  </servers>\n</settings>\n"},
		{"store", "NuGet.Config", "<configuration>\n  <packageSourceCredentials>\n    <contoso>\n      <add key=\"Username\" value=\"{{U}}\" />\n      <add key=\"ClearTextPassword\" value=\"{{PW}}\" />\n    </contoso>\n  </packageSourceCredentials>\n</configuration>\n"},
		{"store", "wordpress/wp-config.php", "<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', '{{U}}' );\ndefine( 'DB_PASSWORD', '{{PW}}' );\n"},
		{"store", "mysite/settings.py", "DATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.postgresql',\n        'USER': '{{U}}',\n        'PASSWORD': '{{PW}}',\n    }\n}\n"},
		{"store", "config/database.yml", "production:\n  adapter: postgresql\n  database: orders\n  username: {{U}}\n  password: {{PW}}\n"},
		{"store", "db/dump.sql", "CREATE TABLE users (id int, email varchar(255), password varchar(255));\nINSERT INTO users (id, email, password) VALUES (1, 'ops@contoso.com', '{{PW}}');\n"},
		{"store", "home/.netrc", "machine files.contoso.com login {{U}} password {{PW}}\n"},
		{"store", "home/.git-credentials", "https://{{U}}:{{PW}}@git.contoso.com\n"},
		{"store", "home/.pgpass", "db.internal:5432:orders:{{U}}:{{PW}}\n"},
		{"store", "home/.my.cnf", "[client]\nuser={{U}}\npassword={{PW}}\n"},
		// URIs and connection strings.
		{"uri", "src/queue.js", "const amqp = require('amqplib');\nconst conn = amqp.connect('amqp://{{U}}:{{PW}}@rabbit.internal:5672/orders');\n"},
		{"uri", "config/cache.yaml", "cache:\n  url: redis://:{{PW}}@redis.internal:6379/0\n"},
		{"uri", "src/main/resources/db.properties", "db.url=jdbc:sqlserver://db.internal:1433;databaseName=orders;user={{U}};password={{PW}}\n"},
		{"uri", "Reports/App.config", "<configuration>\n  <connectionStrings>\n    <add name=\"Reports\" connectionString=\"Data Source=sql01;Initial Catalog=Reports;User Id={{U}};Password={{PW}};\" />\n  </connectionStrings>\n</configuration>\n"},
		{"uri", "docs/setup.md", "Connect with:\n\n    psql postgresql://{{U}}:{{PW}}@db.internal:5432/orders\n"},
		// A credential named by a sibling key (issue 37), in YAML, XML,
		// JSON, TOML and HCL.
		{"pairs", "ansible/group_vars/app.yml", "app_settings:\n  - key: port\n    value: 8080\n  - key: password\n    value: {{PW}}\n"},
		{"pairs", "cfn/prod-params.yaml", "- ParameterKey: Environment\n  ParameterValue: prod\n- ParameterKey: DBPassword\n  ParameterValue: {{PW}}\n"},
		{"pairs", "conf/context.xml", "<config>\n  <entry key=\"url\" value=\"jdbc:postgresql://db/orders\"/>\n  <entry key=\"password\" value=\"{{PW}}\"/>\n</config>\n"},
		{"pairs", "src/main/resources/datasource.xml", "<beans>\n  <bean id=\"ds\" class=\"org.apache.commons.dbcp2.BasicDataSource\">\n    <property name=\"db.password\">\n      <value>{{PW}}</value>\n    </property>\n  </bean>\n</beans>\n"},
		{"pairs", "ecs/orders-task.json", "{\n  \"family\": \"orders\",\n  \"environment\": [\n    {\n      \"Name\": \"DB_PASSWORD\",\n      \"Value\": \"{{PW}}\"\n    }\n  ]\n}\n"},
		{"pairs", "postman/orders.postman_collection.json", "{\"auth\": {\"type\": \"basic\", \"basic\": [\n  {\"key\": \"username\", \"value\": \"{{U}}\"},\n  {\"key\": \"password\", \"value\": \"{{PW}}\", \"type\": \"string\"}\n]}}\n"},
		{"pairs", "config/credentials.toml", "[[credentials]]\nname = \"user\"\nvalue = \"{{U}}\"\n\n[[credentials]]\nname = \"password\"\nvalue = \"{{PW}}\"\n"},
		{"pairs", "infra/redis.tf", "resource \"helm_release\" \"redis\" {\n  chart = \"redis\"\n  set {\n    name  = \"auth.password\"\n    value = \"{{PW}}\"\n  }\n}\n"},
		// The items of a list under a credential key.
		{"lists", "config/users.yml", "service_accounts:\n  reporting:\n    passwords:\n      - \"{{PW}}\"\n"},
		{"lists", "config/reporting.json", "{\n  \"user\": \"{{U}}\",\n  \"passwords\": [\n    \"{{PW}}\"\n  ]\n}\n"},
		{"lists", "config/ingest.toml", "[ingest]\nuser = \"{{U}}\"\ningest_passwords = [\"{{PW}}\"]\n"},
		{"lists", "infra/admins.tfvars", "location        = \"westeurope\"\nadmin_passwords = [\"{{PW}}\"]\n"},
		// Template, sample and backup copies read in their format. A
		// common guess (Summer2024!) in a file named as a sample is a
		// placeholder by design; these plant a random value.
		{"sample", "src/main/resources/beans.xml.dist", "<beans>\n  <bean id=\"ds\" class=\"org.apache.commons.dbcp2.BasicDataSource\">\n    <property name=\"password\" value=\"{{R16}}\"/>\n  </bean>\n</beans>\n"},
		{"sample", "config/app.yml.template", "database:\n  host: db.internal\n  password: {{R16}}\n"},
		{"sample", "config/settings.json.sample", "{\n  \"db\": {\n    \"password\": \"{{R16}}\"\n  }\n}\n"},
		{"sample", "src/main/resources/application.properties.orig", "server.port=8080\nspring.datasource.password={{R16}}\n"},
		{"sample", "deploy/.env.example", "DB_HOST=db.internal\nDB_PASSWORD={{R16}}\n"},
		// A literal compared with a credential, the literal first or only
		// wrapped by str.format.
		{"compare", "app/backdoor.py", "def check(user, password):\n    if \"{{PW}}\" == password:\n        return True\n"},
		{"compare", "web/admin.js", "function ok(input) {\n  return '{{PW}}' === input.adminPassword;\n}\n"},
		{"compare", "src/main/java/com/contoso/Gate.java", "class Gate {\n    boolean ok(String pwd) { return \"{{PW}}\" == this.masterPassword; }\n}\n"},
		{"compare", "app/gate.py", "def allowed(user, password):\n    if \"{}\".format(\"{{PW}}\") != password:\n        return False\n    return True\n"},
		{"compare", "internal/auth/gate.go", "package auth\n\nfunc ok(password string) bool {\n\treturn \"{{PW}}\" == password\n}\n"},
		// Webhooks.
		{"webhook", "scripts/notify.py", "import requests\n\nWEBHOOK = \"https://hooks.slack.com/services/T{{A8}}/B{{A8}}/{{A24}}\"\n"},
		{"webhook", "ops/alerts.yaml", "receivers:\n  - name: teams\n    url: https://contoso.webhook.office.com/webhookb2/{{GUID}}@{{GUID}}/IncomingWebhook/{{HEX32}}/{{GUID}}\n"},
		{"webhook", "bot/config.json", "{\n  \"discord\": \"https://discord.com/api/webhooks/{{D18}}/{{A68}}\"\n}\n"},
	}
	out := make([]plant, 0, len(tmpl))
	for _, t := range tmpl {
		c := t.content
		// The answer key: the line of the first planted value.
		marks := []string{"{{PW}}", "{{A24}}", "{{HEX32}}", "{{A68}}", "{{R16}}"}
		line := 0
		for _, m := range marks {
			if i := strings.Index(c, m); i >= 0 {
				if l := strings.Count(c[:i], "\n") + 1; line == 0 || l < line {
					line = l
				}
			}
		}
		u := g.user()
		c = strings.ReplaceAll(c, "{{U}}", u)
		c = strings.ReplaceAll(c, "{{PW}}", pw())
		for strings.Contains(c, "{{GUID}}") {
			c = strings.Replace(c, "{{GUID}}", g.guid(), 1)
		}
		c = strings.ReplaceAll(c, "{{HEX32}}", g.hex(32))
		for strings.Contains(c, "{{A8}}") {
			c = strings.Replace(c, "{{A8}}", strings.ToUpper(g.pick(alnum, 8)), 1)
		}
		c = strings.ReplaceAll(c, "{{A24}}", g.pick(alnum, 24))
		c = strings.ReplaceAll(c, "{{R16}}", g.pick(alnum, 16))
		c = strings.ReplaceAll(c, "{{A68}}", g.pick(alnum+"_-", 68))
		c = strings.ReplaceAll(c, "{{D18}}", "1"+g.pick("0123456789", 17))
		out = append(out, plant{family: t.family, path: t.path, content: c, line: line})
	}
	return out
}

// Recall of the hardcoded class on a corpus of credential files written the
// way real repositories leak them, values new on every run, against
// gitleaks' default rules alone and with Tollgate's extra rules.
func TestHardcodedRecall(t *testing.T) {
	seed := *recallSeed
	if env := os.Getenv("TOLLGATE_RECALL_SEED"); env != "" {
		s, err := strconv.ParseUint(env, 10, 64)
		if err != nil || s == 0 {
			t.Fatalf("TOLLGATE_RECALL_SEED=%q: want a positive decimal seed", env)
		}
		seed = s
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("corpus seed %d (TOLLGATE_RECALL_SEED=%d go test -run 'TestHardcodedRecall$' ./scanners/secrets/ repeats this run)", seed, seed)
	corpus := recallCorpus(corpusGen{r: rand.New(rand.NewPCG(seed, seed>>1|1))})
	if len(corpus) < 60 {
		t.Fatalf("%d files in the corpus, want at least 60", len(corpus))
	}
	root := t.TempDir()
	files := map[string]string{}
	for _, p := range corpus {
		if _, dup := files[p.path]; dup {
			t.Fatalf("two plants at %s", p.path)
		}
		files[p.path] = p.content
	}
	writeTree(t, root, files)

	recall := func(opts secrets.Options) (int, map[string]int, []string) {
		res := scanDir(t, root, opts)
		at := map[string]bool{}
		for _, f := range res.Findings {
			at[fmt.Sprintf("%s:%d", f.Location.Path, f.Location.StartLine)] = true
		}
		hits, byFamily, missed := 0, map[string]int{}, []string(nil)
		for _, p := range corpus {
			if at[fmt.Sprintf("%s:%d", p.path, p.line)] {
				hits++
				byFamily[p.family]++
			} else {
				missed = append(missed, fmt.Sprintf("%s:%d", p.path, p.line))
			}
		}
		if extra := len(res.Findings) - hits; extra > 0 {
			for _, f := range res.Findings {
				k := fmt.Sprintf("%s:%d", f.Location.Path, f.Location.StartLine)
				planted := false
				for _, p := range corpus {
					planted = planted || k == fmt.Sprintf("%s:%d", p.path, p.line)
				}
				if !planted && secrets.IsHardcodedRule(f.RuleID) {
					t.Errorf("%s at %s: not a planted credential", f.RuleID, k)
				}
			}
		}
		return hits, byFamily, missed
	}
	all, allFam, missed := recall(secrets.Options{})
	gl, glFam, _ := recall(secrets.Options{NoExtraRules: true, NoHardcoded: true})
	extra, _, _ := recall(secrets.Options{NoHardcoded: true})
	fams := map[string]int{}
	for _, p := range corpus {
		fams[p.family]++
	}
	names := make([]string, 0, len(fams))
	for f := range fams {
		names = append(names, f)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, f := range names {
		fmt.Fprintf(&b, "\n  %-10s %2d planted: Tollgate %2d (want >= %2d), gitleaks alone %2d", f, fams[f], allFam[f], (fams[f]*familyRecall+99)/100, glFam[f])
	}
	t.Logf("found / planted: Tollgate (all rules) %d/%d, gitleaks + extra rules %d/%d, gitleaks' rules alone %d/%d%s",
		all, len(corpus), extra, len(corpus), gl, len(corpus), b.String())
	if len(missed) > 0 {
		t.Logf("missed: %s", strings.Join(missed, ", "))
	}
	// Every family is covered, and misses are rare: a regression in any
	// one format shows here, in its own family, not only in the total.
	for _, f := range names {
		n := fams[f]
		want := (n*familyRecall + 99) / 100 // at least 1: n >= 1
		switch {
		case allFam[f] == 0:
			t.Errorf("family %s: none of its %d plants found (seed %d)", f, n, seed)
		case allFam[f] < want:
			t.Errorf("family %s: %d/%d found, want at least %d (%d%%, rounded up; seed %d)", f, allFam[f], n, want, familyRecall, seed)
		}
		if allFam[f] < glFam[f] {
			t.Errorf("family %s: Tollgate finds %d, fewer than gitleaks' rules alone (%d; seed %d)", f, allFam[f], glFam[f], seed)
		}
	}
	if all*100 < len(corpus)*totalRecall {
		t.Errorf("recall %d/%d, want at least %d%%; missed %v (seed %d)", all, len(corpus), totalRecall, missed, seed)
	}
	// What Tollgate adds to gitleaks is the point of the class: measured,
	// not only logged.
	if (all-gl)*100 < len(corpus)*overGitleaks {
		t.Errorf("Tollgate finds %d/%d, gitleaks' rules alone %d: want a margin of at least %d points of the corpus (seed %d)", all, len(corpus), gl, overGitleaks, seed)
	}
	if (all-extra)*100 < len(corpus)*overExtra {
		t.Errorf("the hardcoded class adds %d/%d to gitleaks with the extra rules (%d): want at least %d points of the corpus (seed %d)", all-extra, len(corpus), extra, overExtra, seed)
	}
	if os.Getenv("TOLLGATE_RECALL_KEEP") != "" {
		dst := os.Getenv("TOLLGATE_RECALL_KEEP")
		for rel, c := range files {
			p := filepath.Join(dst, filepath.FromSlash(rel))
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			_ = os.WriteFile(p, []byte(c), 0o644)
		}
	}
}
