package hardcoded

import (
	"strings"
	"testing"
)

func TestCredentialStores(t *testing.T) {
	g := newGen(30)
	p := func() string { return g.pw() }
	const (
		ftp     = "tollgate-hardcoded-ftp-client"
		ide     = "tollgate-hardcoded-ide-config"
		dbc     = "tollgate-hardcoded-db-client"
		mail    = "tollgate-hardcoded-mail-client"
		netrc   = "tollgate-hardcoded-netrc"
		pypirc  = "tollgate-hardcoded-pypirc"
		pip     = "tollgate-hardcoded-pip-config"
		aws     = "tollgate-hardcoded-aws-credentials"
		htpw    = "tollgate-hardcoded-htpasswd"
		jenkins = "tollgate-hardcoded-jenkins-credentials"
		maven   = "tollgate-hardcoded-maven-settings"
		nuget   = "tollgate-hardcoded-nuget-config"
		gitcred = "tollgate-hardcoded-git-credentials"
		django  = "tollgate-hardcoded-django-settings"
		rails   = "tollgate-hardcoded-rails-database"
	)
	v := make([]string, 40)
	for i := range v {
		v[i] = p()
	}
	b64 := g.tok(16) + "=="
	jenkinsBlob := "{AQAAABAAAAAQ" + g.tok(40) + "=}"
	mvnBlob := "{" + g.tok(30) + "=}"
	id, sk, st := g.tok(20), g.tok(40), g.tok(60)
	winscp := "A35C4E" + strings.ToUpper(g.tok(20))
	bcryptHash := "$apr1$" + g.tok(8) + "$" + g.tok(22)
	shaHash := "{SHA}" + g.tok(27) + "="
	runCases(t, []tcase{
		{name: "sftp-config", path: "sftp-config.json", text: lines(
			`{`,
			`  "host": "ftp.example.org",`,
			`  "password": "`+v[0]+`",`,
			`  "password": "k9!",`,
			`  "password": "",`,
			`}`,
		), want: []want{
			{line: 3, value: v[0], rule: ftp, key: "password"},
			{line: 4, value: "k9!", rule: ftp, key: "password"},
		}},
		{name: "ftpconfig", path: ".ftpconfig", text: lines(`{"protocol": "sftp", "pass": "` + v[1] + `"}`),
			want: []want{{line: 1, value: v[1], rule: ftp, key: "pass"}}},
		{name: "vscode-sftp", path: ".vscode/sftp.json", text: lines(`{ "password": "` + v[2] + `" }`),
			want: []want{{line: 1, value: v[2], rule: ftp, key: "password"}}},
		{name: "filezilla", path: "FileZilla/sitemanager.xml", text: lines(
			`<Server><Host>ftp.example.org</Host>`,
			`<Pass encoding="base64">`+b64+`</Pass>`,
			`</Server>`,
		), want: []want{{line: 2, value: b64, rule: ftp, key: "Pass"}}},
		{name: "winscp", path: "WinSCP.ini", text: lines(
			`[Sessions\app@ftp]`,
			`HostName=ftp.example.org`,
			`Password=`+winscp,
		), want: []want{{line: 3, value: winscp, rule: ftp, key: "Password", col: 10}}},
		{name: "idea-datasources", path: ".idea/dataSources.xml", text: lines(
			`<data-source name="app">`,
			`  <jdbc-url>jdbc:postgresql://db:5432/app?user=app&amp;password=`+v[3]+`</jdbc-url>`,
			`</data-source>`,
		), want: []want{{line: 2, value: v[3], rule: ide, key: "password"}}},
		{name: "dbeaver-skipped", path: ".dbeaver/credentials-config.json", text: `{"#connection":{"user":"app","password":"` + v[4] + `"}}`},
		{name: "pgpass", path: ".pgpass", text: lines(
			"# host:port:db:user:password",
			"db.internal:5432:app:app:"+v[5],
			"*:*:*:ro:k9",
			"db\\:x:5432:app:app:"+v[6],
			"db:5432:app:app:",
		), want: []want{
			{line: 2, value: v[5], rule: dbc},
			{line: 3, value: "k9", rule: dbc},
			{line: 4, value: v[6], rule: dbc},
		}},
		{name: "my.cnf", path: "home/.my.cnf", text: lines("[client]", "user=app", "password="+v[7]),
			want: []want{{line: 3, value: v[7], rule: dbc, key: "password"}}},
		{name: "msmtprc", path: ".msmtprc", text: lines(
			"account default",
			"password "+v[8],
			"passwordeval gpg -d ~/.msmtp.gpg",
		), want: []want{{line: 2, value: v[8], rule: mail, key: "password"}}},
		{name: "esmtprc", path: ".esmtprc", text: lines(`identity app@example.org`, `  password "`+v[9]+`"`),
			want: []want{{line: 2, value: v[9], rule: mail, key: "password"}}},
		{name: "muttrc", path: ".muttrc", text: lines(
			`set smtp_pass = "`+v[10]+`"`,
			`set imap_pass=`+v[11],
			`set imap_pass="`+"`pass show mail`"+`"`,
		), want: []want{
			{line: 1, value: v[10], rule: mail, key: "smtp_pass"},
			{line: 2, value: v[11], rule: mail, key: "imap_pass"},
		}},
		{name: "netrc", path: ".netrc", text: lines(
			"machine a.example.org login u password "+v[12],
			"machine b.example.org",
			"  login u",
			"  password "+v[13],
			"macdef init",
			"  password notreallyone",
			"",
			"default login anonymous password x@y",
		), want: []want{
			{line: 1, value: v[12], rule: netrc, key: "password"},
			{line: 4, value: v[13], rule: netrc, key: "password"},
			{line: 8, value: "x@y", rule: netrc, key: "password"},
		}},
		{name: "pypirc", path: ".pypirc", text: lines("[pypi]", "username = __token__", "password = "+v[14]),
			want: []want{{line: 3, value: v[14], rule: pypirc, key: "password"}}},
		{name: "pip.conf", path: "etc/pip.conf", text: lines("[global]", "index-url = https://app:"+v[15]+"@pypi.internal/simple"),
			want: []want{{line: 2, value: v[15], rule: pip}}},
		{name: "aws", path: "home/.aws/credentials", text: lines(
			"[default]",
			"aws_access_key_id = "+id,
			"aws_secret_access_key = "+sk,
			"aws_session_token = "+st,
			"region = eu-west-1",
		), want: []want{
			{line: 2, value: id, rule: aws, key: "aws_access_key_id"},
			{line: 3, value: sk, rule: aws, key: "aws_secret_access_key"},
			{line: 4, value: st, rule: aws, key: "aws_session_token"},
		}},
		{name: "htpasswd", path: "web/.htpasswd", text: lines("admin:"+bcryptHash, "bob:"+shaHash, "# comment"),
			want: []want{{line: 1, value: bcryptHash, rule: htpw}, {line: 2, value: shaHash, rule: htpw}}},
		{name: "jenkins", path: "jenkins/credentials.xml", text: lines(
			`<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>`,
			`  <password>`+jenkinsBlob+`</password>`,
			`  <passwordPolicy>none</passwordPolicy>`,
		), want: []want{{line: 2, value: jenkinsBlob, rule: jenkins, key: "password"}}},
		{name: "maven", path: ".m2/settings.xml", text: lines(
			"<server><id>nexus</id>", "  <password>"+mvnBlob+"</password>", "  <password>${env.NEXUS_PW}</password>", "</server>",
		), want: []want{{line: 2, value: mvnBlob, rule: maven, key: "password"}}},
		{name: "nuget", path: "NuGet.Config", text: lines(
			`<packageSourceCredentials><feed>`,
			`  <add key="Username" value="app" />`,
			`  <add key="ClearTextPassword" value="`+v[16]+`" />`,
			`  <add key="ClearTextPassword" value="%FEED_PAT%" />`,
		), want: []want{{line: 3, value: v[16], rule: nuget, key: "ClearTextPassword"}}},
		{name: "git-credentials", path: ".git-credentials", text: lines(
			"https://ci:"+v[17]+"@git.example.org",
			"https://x-access-token:"+v[18]+"@github.com",
			"https://:"+v[19]+"@dev.azure.com",
			// Hand-written: "@" in the user, "#" and "@" in the password.
			"https://ops@contoso.com:"+v[30]+"!#@498@github.com",
			"https://ops@contoso.com@github.com",
		), want: []want{
			{line: 1, value: v[17], rule: gitcred},
			{line: 2, value: v[18], rule: gitcred},
			{line: 3, value: v[19], rule: gitcred},
			{line: 4, value: v[30] + "!#@498", rule: gitcred},
		}},
		{name: "django", path: "mysite/settings.py", text: lines(
			"SECRET_KEY = 'django-insecure-"+v[20]+"'",
			"DATABASES = {",
			"    'default': {",
			"        'PASSWORD': '"+v[21]+"',",
			"        'PASSWORD': '',",
			"        'PASSWORD': os.environ['DB_PASSWORD'],",
			"    }",
			"}",
			"DATABASE_URL = 'postgres://app:"+v[22]+"@db/app'",
		), want: []want{
			{line: 1, value: "django-insecure-" + v[20], rule: django, key: "SECRET_KEY"},
			{line: 4, value: v[21], rule: django, key: "PASSWORD"},
			{line: 9, value: v[22], rule: ruleURI},
		}},
		{name: "rails", path: "config/database.yml", text: lines(
			"production:",
			"  adapter: postgresql",
			"  password: "+v[23],
			"  password: <%= ENV['DB_PASSWORD'] %>",
		), want: []want{{line: 3, value: v[23], rule: rails, key: "password"}}},
	})
}

// TestWinSCPValue checks the full WinSCP value (the table above asserts the
// column; here the value, which is random).
func TestWinSCPValue(t *testing.T) {
	ms := New().Scan("WinSCP.ini", []byte("[Sessions]\nPassword=A35C4E9F0B12\n"))
	if len(ms) != 1 || ms[0].Value != "A35C4E9F0B12" || ms[0].StartCol != 10 || ms[0].EndCol != 21 {
		t.Fatalf("got %v", ms)
	}
}

func TestSQLDump(t *testing.T) {
	g := newGen(31)
	h1 := "$2y$10$" + g.tok(53)
	h2 := "$P$B" + g.tok(30)
	hex := strings.Repeat("a1b2c3d4", 5)
	plain := g.pw()
	set := g.pw()
	const rule = "tollgate-hardcoded-sql-dump"
	runCases(t, []tcase{{name: "dump", path: "backup/app.sql", text: lines(
		"CREATE TABLE `users` (",
		"  `id` int NOT NULL,",
		"  `login` varchar(60) NOT NULL,",
		"  `password` varchar(255) DEFAULT NULL,",
		"  `password_reset_at` datetime,",
		"  PRIMARY KEY (`id`)",
		");",
		"INSERT INTO `users` VALUES (1,'admin','"+h1+"','2024-01-01'),(2,'bob',NULL,NULL),(3,'eve','"+plain+"',NULL);",
		"INSERT INTO wp_users (ID, user_login, user_pass) VALUES",
		"  (1, 'admin', '"+h2+"');",
		"INSERT INTO accounts (id, password_hash, note) VALUES (1, '"+hex+"', 'password here');",
		"UPDATE users SET password = '"+set+"' WHERE id = 1;",
		"INSERT INTO settings (name, value) VALUES ('password_policy', 'strict');",
	), want: []want{
		{line: 8, value: h1, rule: rule, key: "password"},
		{line: 8, value: plain, rule: rule, key: "password"},
		{line: 10, value: h2, rule: rule, key: "user_pass"},
		{line: 11, value: hex, rule: rule, key: "password_hash"},
		{line: 12, value: set, rule: rule, key: "password"},
	}}})
}

func TestClassifyKey(t *testing.T) {
	cases := map[string]string{
		"password": classPassword, "DB_PASSWORD": classPassword, "dbPassword": classPassword,
		"DBPassword": classPassword, "db.password": classPassword, "smtp_pass": classPassword,
		"smtp-pass": classPassword, "PWD": classPassword, "passwd": classPassword,
		"passphrase": classPassword, "dbpass": classPassword, "mysqlpassword": classPassword,
		"ClearTextPassword": classPassword, "password2": classPassword,
		"secret": classSecret, "client_secret": classSecret, "clientSecret": classSecret,
		"SECRET_KEY": classSecret, "private_key": classSecret, "privateKey": classSecret,
		"credentials": classSecret, "signing_key": classSecret,
		"token": classToken, "access_token": classToken, "authToken": classToken,
		"GITHUB_TOKEN": classToken, "Authorization": classToken,
		"api_key": classAPIKey, "apikey": classAPIKey, "x-api-key": classAPIKey,
		"apiKey": classAPIKey, "slackKey": classAPIKey, "SLACK_KEY": classAPIKey,
		"connection_string": classConnStr, "connectionString": classConnStr, "connstr": classConnStr,
		// Near misses: keys that only mention a credential.
		"password_policy": "", "token_endpoint": "", "secret_name": "", "password_file": "",
		"token_url": "", "passwordless": "", "bypass": "", "compass": "", "keyboard": "",
		"password_required": "", "pwd_length": "", "key": "", "primary_key": "",
		"cacheKey": "", "next_token": "", "pageToken": "", "csrf_token": "",
		"cancellationToken": "", "proxy_pass": "", "secrets": "", "tokens": "",
		"passwordHint": "", "surpass": "", "passport": "", "passenger": "",
		"tokenizer": "", "publicKey": "", "sortKey": "",
		// Seen in public repositories: Helm's names of existing secrets, a
		// .NET assembly's public key token, an ARM resource-type token.
		"existingSecret": "", "existingUserSecretKey": "", "existingSecretPasswordKey": "",
		"configFromSecret": "", "publicKeyToken": "", "resourceTypeToken": "",
	}
	for k, want := range cases {
		if got := classifyKey(k); got != want {
			t.Errorf("classifyKey(%q) = %q, want %q", k, got, want)
		}
	}
}

// TestRuleCatalogue checks IDs, and that the key-based and generic rules'
// examples are found under their own rule.
func TestRuleCatalogue(t *testing.T) {
	paths := map[string]string{
		"tollgate-hardcoded-password":            "config/app.yaml",
		"tollgate-hardcoded-secret":              "config/app.yaml",
		"tollgate-hardcoded-token":               "app/client.py",
		"tollgate-hardcoded-api-key":             "app/client.js",
		ruleURI:                                  "docs.txt",
		ruleConnString:                           "notes.txt",
		ruleWebhook:                              "notes.txt",
		"tollgate-hardcoded-ftp-client":          "sftp-config.json",
		"tollgate-hardcoded-ide-config":          ".idea/dataSources.xml",
		"tollgate-hardcoded-db-client":           ".pgpass",
		"tollgate-hardcoded-mail-client":         ".msmtprc",
		"tollgate-hardcoded-netrc":               ".netrc",
		"tollgate-hardcoded-pypirc":              ".pypirc",
		"tollgate-hardcoded-pip-config":          "pip.conf",
		"tollgate-hardcoded-aws-credentials":     ".aws/credentials",
		"tollgate-hardcoded-htpasswd":            ".htpasswd",
		"tollgate-hardcoded-jenkins-credentials": "credentials.xml",
		"tollgate-hardcoded-maven-settings":      "settings.xml",
		"tollgate-hardcoded-nuget-config":        "NuGet.Config",
		"tollgate-hardcoded-git-credentials":     ".git-credentials",
		"tollgate-hardcoded-wordpress-config":    "wp-config.php",
		"tollgate-hardcoded-django-settings":     "settings.py",
		"tollgate-hardcoded-rails-database":      "config/database.yml",
		"tollgate-hardcoded-sql-dump":            "dump.sql",
	}
	perFile := map[string]map[string]string{
		"tollgate-hardcoded-password": {
			`$db_pass = 'Summer2024!';`:                    "app/db.php",
			`DB_PASSWORD=Summer2024!`:                      ".env",
			`password = "Summer2024!"`:                     "app/db.py",
			`<input type="password" value="Summer2024!">`:  "login.html",
			`conn.setPassword("Summer2024!");`:             "App.java",
			`<add key="DbPassword" value="Summer2024!" />`: "web.config",
			`{"key": "password", "value": "Summer2024!"}`:  "postman/api.postman_collection.json",
			`<entry key="password" value="Summer2024!"/>`:  "conf/context.xml",
			`passwords = ["Summer2024!"]`:                  "config/app.toml",
			`if "{}".format("Summer2024!") != password:`:   "app/auth.py",
		},
		"tollgate-hardcoded-api-key": {`SLACK_KEY=Summer2024Key`: ".env",
			`{"ParameterKey": "StripeApiKey", "ParameterValue": "Summer2024Key"}`: "cfn/params.json"},
		"tollgate-hardcoded-secret": {`SECRET_KEY = 'django-insecure-Summer2024'`: "app/conf.py",
			`{"Name": "CLIENT_SECRET", "Value": "Summer2024!"}`: "ecs/taskdef.json"},
		"tollgate-hardcoded-token": {`auth_token: Summer2024Token`: "config/app.yaml",
			`{"key": "Authorization", "value": "Bearer Summer2024Token"}`: "postman/api.postman_collection.json",
			`api_tokens = ["Summer2024Token"]`:                            "config/app.toml"},
		"tollgate-hardcoded-db-client":       {`password=Summer2024!`: ".my.cnf"},
		"tollgate-hardcoded-mail-client":     {`set smtp_pass = "Summer2024!"`: ".muttrc"},
		"tollgate-hardcoded-django-settings": {`'PASSWORD': 'Summer2024!',`: "settings.py"},
	}
	d := New()
	seen := map[string]bool{}
	for _, r := range Rules() {
		if !strings.HasPrefix(r.ID, "tollgate-hardcoded-") || seen[r.ID] {
			t.Errorf("bad or duplicate rule ID %q", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Description == "" || r.Pattern == "" || len(r.Examples) == 0 {
			t.Errorf("%s: incomplete rule", r.ID)
		}
		for _, ex := range r.Examples {
			p := paths[r.ID]
			if q, ok := perFile[r.ID][ex]; ok {
				p = q
			}
			ms := d.Scan(p, []byte(ex+"\n"))
			if len(ms) != 1 || ms[0].RuleID != r.ID {
				t.Errorf("%s example %q in %s: got %v", r.ID, ex, p, ms)
			}
		}
	}
	if len(seen) != len(paths) {
		t.Errorf("%d rules, %d example paths", len(seen), len(paths))
	}
}
