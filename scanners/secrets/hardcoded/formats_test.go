package hardcoded

import "testing"

func TestYAML(t *testing.T) {
	g := newGen(1)
	p1, p2, p3, p4, p5 := g.pw(), g.pw(), g.tok(20), g.tok(24), g.pw()
	runCases(t, []tcase{
		{name: "config", path: "deploy/values.yaml", text: lines(
			"db:",
			"  host: db.internal",
			"  password: "+p1,
			`  user_password: "`+p2+`"`,
			"  api_key: '"+p3+"'",
			"  password_policy: strict",
			"  password_required: true",
			"  pwd_length: 12",
			"  token_endpoint: https://auth.example.org/token",
			"  secret_name: prod-db",
			"  password: ${DB_PASSWORD}",
			`  password: "{{ .Values.db.password }}"`,
			"  password: !Ref DbPassword",
			"  password: <your-password>",
			"  password: changeme",
			`  password: ""`,
			"  password: ~",
			"  auth_token: "+p4+"  # rotate monthly",
			"env:",
			"  - name: DB_PASSWORD",
			`    value: "`+p5+`"`,
			"  - name: API_TOKEN",
			"    valueFrom:",
			"      secretKeyRef: {name: x, key: y}",
			"  bypass: abcdefgh",
			"  compass: northwest",
			"  keyboard: qwertz12",
			"  passwordless: enabled1",
			"  password: |",
		), want: []want{
			{line: 3, value: p1, rule: rPassword, key: "password"},
			{line: 4, value: p2, rule: rPassword, key: "user_password"},
			{line: 5, value: p3, rule: rAPIKey, key: "api_key"},
			{line: 18, value: p4, rule: rToken, key: "auth_token"},
			{line: 21, value: p5, rule: rPassword, key: "DB_PASSWORD"},
		}},
		{name: "github-actions", path: ".github/workflows/ci.yml", text: lines(
			"env:",
			"  TOKEN: ${{ secrets.GITHUB_TOKEN }}",
			"  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}",
			"  password: $(System.AccessToken)",
			"  password: '%DB_PASSWORD%'",
			"  password: '#{DbPassword}#'",
			"  secret: vault:secret/data/db#password",
			"  token: GITHUB_TOKEN",
		)},
		{name: "example-default", path: "app.yaml", text: lines(
			"password: changeit  # the default, change it",
			"trustStorePassword: changeit",
		), want: []want{{line: 2, value: "changeit", rule: rPassword, key: "trustStorePassword"}}},
		{name: "example-path", path: "docs/example.yaml", text: lines(
			"password: changeit",
		)},
	})
}

func TestCompose(t *testing.T) {
	g := newGen(2)
	p1, p2, p3, p4 := g.pw(), g.pw(), g.pw(), g.tok(24)
	runCases(t, []tcase{{name: "compose", path: "docker-compose.yml", text: lines(
		"services:",
		"  db:",
		"    image: postgres",
		"    environment:",
		"      - POSTGRES_PASSWORD="+p1,
		`      - "MYSQL_ROOT_PASSWORD=`+p2+`"`,
		"      - POSTGRES_PASSWORD_FILE=/run/secrets/db",
		"      - POSTGRES_PASSWORD=${PG_PASS}",
		"      - POSTGRES_PASSWORD=",
		"  app:",
		"    environment:",
		"      SMTP_PASS: "+p3,
		"      SLACK_KEY: "+p4,
		"      KEYBOARD_LAYOUT: us",
		"      PRIMARY_KEY: id",
	), want: []want{
		{line: 5, value: p1, rule: rPassword, key: "POSTGRES_PASSWORD"},
		{line: 6, value: p2, rule: rPassword, key: "MYSQL_ROOT_PASSWORD"},
		{line: 12, value: p3, rule: rPassword, key: "SMTP_PASS"},
		{line: 13, value: p4, rule: rAPIKey, key: "SLACK_KEY"},
	}}})
}

func TestJSON(t *testing.T) {
	g := newGen(3)
	p1, p2, p3 := g.pw(), g.pw(), g.tok(32)
	runCases(t, []tcase{{name: "appsettings", path: "src/App/appsettings.json", text: lines(
		`{`,
		`  "ConnectionStrings": {`,
		`    "Default": "Server=db;Database=app;User Id=app;Password=`+p1+`;"`,
		`  },`,
		`  "Smtp": { "Password": "`+p2+`", "PasswordRequired": true },`,
		`  "ClientSecret": "`+p3+`",`,
		`  "TokenUrl": "https://login.example.org/token",`,
		`  "apiKey": "",`,
		`  "password": "<password>",`,
		`  "secretName": "db-pass",`,
		`  "Password": "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/db/)",`,
		`  "password": "********",`,
		`  "i18n": { "password": "Mot de passe", "token": "Jeton:" }`,
		`}`,
	), want: []want{
		{line: 3, value: p1, rule: ruleConnString, key: "Password"},
		{line: 5, value: p2, rule: rPassword, key: "Password"},
		{line: 6, value: p3, rule: rSecret, key: "ClientSecret"},
	}}})
}

func TestXML(t *testing.T) {
	g := newGen(4)
	p1, p2, p3, p4, p5, p6 := g.pw(), g.pw(), g.pw(), g.pw(), g.pw(), g.pw()
	runCases(t, []tcase{{name: "web.config", path: "web.config", text: lines(
		`<configuration>`,
		`  <appSettings>`,
		`    <add key="DbPassword" value="`+p1+`" />`,
		`    <add key="PasswordPolicy" value="strict" />`,
		`    <add key="ApiKey" value="@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/k)" />`,
		`  </appSettings>`,
		`  <connectionStrings>`,
		`    <add name="Main" connectionString="Data Source=db;Initial Catalog=app;User ID=app;Password=`+p2+`" />`,
		`  </connectionStrings>`,
		`  <password>`+p3+`</password>`,
		`  <bean id="ds"><property name="password" value="`+p4+`"/></bean>`,
		`  <property name="password">`,
		`    <value>`+p5+`</value>`,
		`  </property>`,
		`  <user username="tomcat" password="`+p6+`" roles="manager"/>`,
		`  <password>${db.password}</password>`,
		`  <add key="TokenEndpoint" value="https://login.example.org/token" />`,
		`  <passwordPolicy>strict-and-long</passwordPolicy>`,
		`</configuration>`,
	), want: []want{
		{line: 3, value: p1, rule: rPassword, key: "DbPassword"},
		{line: 8, value: p2, rule: ruleConnString, key: "Password"},
		{line: 10, value: p3, rule: rPassword, key: "password"},
		{line: 11, value: p4, rule: rPassword, key: "password"},
		{line: 13, value: p5, rule: rPassword, key: "password"},
		{line: 15, value: p6, rule: rPassword, key: "password"},
	}}})
}

func TestINI(t *testing.T) {
	g := newGen(5)
	p1, p2, p3 := g.pw(), g.pw(), g.pw()
	runCases(t, []tcase{{name: "ini", path: "conf/app.ini", text: lines(
		"[database]",
		"host = db.internal",
		"password = "+p1,
		"; password = "+g.pw(),
		"passwd: "+p2,
		"password_file = /etc/app/db.pass",
		"pwd = /home/app",
		"secret = %(SECRET)s",
		"[smtp]",
		"smtp_pass = "+p3+" ; inline comment",
		"password = true",
	), want: []want{
		{line: 3, value: p1, rule: rPassword, key: "password"},
		{line: 5, value: p2, rule: rPassword, key: "passwd"},
		{line: 10, value: p3, rule: rPassword, key: "smtp_pass"},
	}}})
}

func TestProperties(t *testing.T) {
	g := newGen(6)
	p1, p2 := g.pw()+"#x", g.tok(24)
	runCases(t, []tcase{{name: "spring", path: "src/main/resources/application.properties", text: lines(
		"spring.datasource.url=jdbc:mysql://db:3306/app",
		"spring.datasource.password="+p1,
		"spring.datasource.password=${DB_PASSWORD}",
		"app.jwt.secret: "+p2,
		"mail.password=ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)",
		"password.reset.url=https://example.org/reset",
		"# password=commented",
	), want: []want{
		{line: 2, value: p1, rule: rPassword, key: "spring.datasource.password"},
		{line: 4, value: p2, rule: rSecret, key: "app.jwt.secret"},
	}}})
}

func TestEnv(t *testing.T) {
	g := newGen(7)
	p1, p2, p3, p4 := g.pw(), g.tok(30), g.tok(24), g.pw()
	runCases(t, []tcase{
		{name: "dotenv", path: ".env", text: lines(
			"DB_PASSWORD="+p1,
			`export API_TOKEN="`+p2+`"`,
			"STRIPE_KEY='"+p3+"'",
			"DATABASE_URL=postgres://app:"+p4+"@db:5432/app",
			"PASSWORD=",
			"PASSWORD_MIN_LENGTH=12",
			"SECRET=$OTHER",
			"DB_PASSWORD=changeit",
		), want: []want{
			{line: 1, value: p1, rule: rPassword, key: "DB_PASSWORD"},
			{line: 2, value: p2, rule: rToken, key: "API_TOKEN"},
			{line: 3, value: p3, rule: rAPIKey, key: "STRIPE_KEY"},
			{line: 4, value: p4, rule: ruleURI},
			{line: 8, value: "changeit", rule: rPassword, key: "DB_PASSWORD"},
		}},
		{name: "example", path: ".env.example", text: lines(
			"DB_PASSWORD=changeit",
			"API_TOKEN=your-api-token-here",
			"SECRET_KEY=REPLACE_ME",
		)},
		{name: "plain-config", path: "deploy/config", text: lines(
			"SMTP_HOST=mail.internal",
			"SMTP_PASS="+p1,
		), want: []want{{line: 2, value: p1, rule: rPassword, key: "SMTP_PASS"}}},
	})
}

func TestTOML(t *testing.T) {
	g := newGen(8)
	p1, p2, p3 := g.pw(), g.tok(24), g.tok(16)
	runCases(t, []tcase{{name: "toml", path: "config/app.toml", text: lines(
		"[database]",
		`password = "`+p1+`"`,
		`"api_key" = '`+p2+`'`,
		`token_url = "https://example.org/token"`,
		`password = ""`,
		"[server]",
		`tls = { cert = "a.pem", private_key = "`+p3+`" }`,
		`private_key = "certs/server.key"`,
	), want: []want{
		{line: 2, value: p1, rule: rPassword, key: "password"},
		{line: 3, value: p2, rule: rAPIKey, key: "api_key"},
		{line: 7, value: p3, rule: rSecret, key: "private_key"},
	}}})
}

func TestHCL(t *testing.T) {
	g := newGen(9)
	p1, p2 := g.pw(), g.pw()
	runCases(t, []tcase{{name: "terraform", path: "infra/main.tf", text: lines(
		`variable "db_password" {`,
		`  type      = string`,
		`  sensitive = true`,
		`  default   = "`+p1+`"`,
		`}`,
		`variable "region" {`,
		`  default = "eu-west-1"`,
		`}`,
		`variable "api_token" {`,
		`  type = string`,
		`}`,
		`resource "aws_db_instance" "main" {`,
		`  password        = "`+p2+`"`,
		`  username        = "app"`,
		`  master_password = var.db_password`,
		`  password_length = 16`,
		`  password        = "${var.db_password}"`,
		`}`,
		`variable "admin_password" {`,
		`  default = ""`,
		`}`,
	), want: []want{
		{line: 4, value: p1, rule: rPassword, key: "db_password"},
		{line: 13, value: p2, rule: rPassword, key: "password"},
	}}})
}

func TestDockerfile(t *testing.T) {
	g := newGen(10)
	p1, p2, p3, p4 := g.pw(), g.tok(24), g.tok(10), g.pw()
	runCases(t, []tcase{{name: "dockerfile", path: "build/Dockerfile", text: lines(
		"FROM alpine:3",
		"ARG DB_PASSWORD",
		"ENV APP_PASSWORD="+p1+" APP_USER=app",
		"ENV API_TOKEN "+p2,
		"ARG SLACK_TOKEN=${SLACK_TOKEN}",
		`RUN mysql -u root -p`+p3+` -e "select 1"`,
		"RUN ./configure --password="+p4,
		"ENV PASSWORD_FILE=/run/secrets/pw",
		"RUN ./configure --password=$DB_PASSWORD --password-file=/run/pw",
	), want: []want{
		{line: 3, value: p1, rule: rPassword, key: "APP_PASSWORD"},
		{line: 4, value: p2, rule: rToken, key: "API_TOKEN"},
		{line: 6, value: p3, rule: rPassword, key: "-p"},
		{line: 7, value: p4, rule: rPassword, key: "--password"},
	}}})
}

func TestPython(t *testing.T) {
	g := newGen(11)
	p1, p2, p3, p4, p5 := g.pw(), g.tok(24), g.tok(32), g.pw(), g.pw()
	runCases(t, []tcase{{name: "python", path: "app/db.py", text: lines(
		"import os",
		`DB_PASSWORD = "`+p1+`"`,
		`password = os.getenv("DB_PASSWORD")`,
		`password = get_password()`,
		`password = user.password`,
		`password = None`,
		`password = ""`,
		`token: str = '`+p2+`'`,
		`client = Client(api_key="`+p3+`", timeout=3)`,
		`if password == "`+p4+`":`,
		`config = {"password": "`+p5+`", "password_policy": "strict"}`,
		`secret = f"{prefix}-suffix"`,
		`password = "Password:"`,
		`token = "Invalid token, please retry"`,
		`password = os.environ["DB_PASSWORD"]`,
		`password = "abc" + suffix`,
		`def login(password: str = None): pass`,
	), want: []want{
		{line: 2, value: p1, rule: rPassword, key: "DB_PASSWORD"},
		{line: 8, value: p2, rule: rToken, key: "token"},
		{line: 9, value: p3, rule: rAPIKey, key: "api_key"},
		{line: 10, value: p4, rule: rPassword, key: "password"},
		{line: 11, value: p5, rule: rPassword, key: "password"},
	}}})
}

func TestJavaScript(t *testing.T) {
	g := newGen(12)
	p1, p2, p3, p4, tk, p5 := g.pw(), g.tok(24), g.pw(), g.tok(24), g.tok(32), g.tok(20)
	runCases(t, []tcase{{name: "ts", path: "web/src/api.ts", text: lines(
		`const password = "`+p1+`";`,
		`let apiKey = '`+p2+`';`,
		`const cfg = { password: "`+p3+`", user: "app" };`,
		`const secret = process.env.SECRET;`,
		"const token = `${prefix}abcdef`;",
		`const authToken: string = "`+p4+`";`,
		`headers["Authorization"] = "Bearer `+tk+`";`,
		`fetch(url, { headers: { Authorization: "Bearer " + token } });`,
		`localStorage.setItem("token", "`+p5+`");`,
		`const passwordField = document.getElementById("password");`,
		`const password = this.form.value.password;`,
		`if (password === "") { return; }`,
	), want: []want{
		{line: 1, value: p1, rule: rPassword, key: "password"},
		{line: 2, value: p2, rule: rAPIKey, key: "apiKey"},
		{line: 3, value: p3, rule: rPassword, key: "password"},
		{line: 6, value: p4, rule: rToken, key: "authToken"},
		{line: 7, value: tk, rule: rToken, key: "Authorization"},
		{line: 9, value: p5, rule: rToken, key: "token"},
	}}})
}

func TestGo(t *testing.T) {
	g := newGen(13)
	p1, p2, p3, p4, p5 := g.pw(), g.tok(24), g.pw(), g.pw(), g.tok(24)
	runCases(t, []tcase{{name: "go", path: "internal/db/db.go", text: lines(
		"package db",
		`const dbPassword = "`+p1+`"`,
		`var apiToken string = "`+p2+`"`,
		"func f() {",
		"\tpassword := \""+p3+"\"",
		"\tcfg := Config{Password: \""+p4+"\", User: \"app\"}",
		"\tpass := os.Getenv(\"PASS\")",
		"\ttoken := strings.TrimSpace(string(b))",
		"\tos.Setenv(\"API_TOKEN\", \""+p5+"\")",
		"\tvar password string",
		"\tif tok.Kind == token.STRING {",
		"\tnextToken := \"abcdefgh\"",
		"}",
	), want: []want{
		{line: 2, value: p1, rule: rPassword, key: "dbPassword"},
		{line: 3, value: p2, rule: rToken, key: "apiToken"},
		{line: 5, value: p3, rule: rPassword, key: "password"},
		{line: 6, value: p4, rule: rPassword, key: "Password"},
		{line: 9, value: p5, rule: rToken, key: "API_TOKEN"},
	}}})
}

func TestJava(t *testing.T) {
	g := newGen(14)
	p1, p2, p3, p4, p5, p6 := g.pw(), g.tok(24), g.pw(), g.pw(), g.pw(), g.pw()
	runCases(t, []tcase{{name: "java", path: "src/main/java/App.java", text: lines(
		`String password = "`+p1+`";`,
		`private static final String API_KEY = "`+p2+`";`,
		`ds.setPassword("`+p3+`");`,
		`if (password.equals("`+p4+`")) {`,
		`props.put("mail.smtp.password", "`+p5+`");`,
		`String pwd = System.getenv("PWD");`,
		`char[] password = "`+p6+`".toCharArray();`,
		`ds.setPassword(config.getPassword());`,
		`settings("password");`,
		`String passwordHint = "Use a long phrase";`,
	), want: []want{
		{line: 1, value: p1, rule: rPassword, key: "password"},
		{line: 2, value: p2, rule: rAPIKey, key: "API_KEY"},
		{line: 3, value: p3, rule: rPassword, key: "Password"},
		{line: 4, value: p4, rule: rPassword, key: "password"},
		{line: 5, value: p5, rule: rPassword, key: "mail.smtp.password"},
		{line: 7, value: p6, rule: rPassword, key: "password"},
	}}})
}

func TestCSharp(t *testing.T) {
	g := newGen(15)
	p1, p2, p3, p4 := g.pw(), g.tok(32), g.pw(), g.pw()
	runCases(t, []tcase{{name: "csharp", path: "src/Data/Db.cs", text: lines(
		`var connectionString = "Server=db;Database=app;User Id=app;Password=`+p1+`;";`,
		`private const string ClientSecret = "`+p2+`";`,
		`public string Password { get; set; } = "`+p3+`";`,
		`string token = Environment.GetEnvironmentVariable("TOKEN");`,
		`Environment.SetEnvironmentVariable("DB_PASSWORD", "`+p4+`");`,
		`var s = $"Password={pw}";`,
		`var c = "Server=db;Integrated Security=true;";`,
	), want: []want{
		{line: 1, value: p1, rule: ruleConnString, key: "Password"},
		{line: 2, value: p2, rule: rSecret, key: "ClientSecret"},
		{line: 3, value: p3, rule: rPassword, key: "Password"},
		{line: 5, value: p4, rule: rPassword, key: "DB_PASSWORD"},
	}}})
}

func TestPHP(t *testing.T) {
	g := newGen(16)
	p1, p2, p3, p4 := g.pw(), g.pw(), g.pw(), g.pw()
	text := lines(
		"<?php",
		"define('DB_PASSWORD', '"+p1+"');",
		"define('DB_USER', 'app');",
		"$db_pass = '"+p2+"';",
		"$config = ['password' => '"+p3+"', 'pass_min' => 8];",
		`$this->password = "`+p4+`";`,
		"$password = $_POST['password'];",
		"$password = getenv('DB_PASS');",
		"define('AUTH_KEY', 'put your unique phrase here');",
		"$hash = password_hash($password, PASSWORD_DEFAULT);",
	)
	wants := func(rule string) []want {
		return []want{
			{line: 2, value: p1, rule: rule, key: "DB_PASSWORD"},
			{line: 4, value: p2, rule: rule, key: "db_pass"},
			{line: 5, value: p3, rule: rule, key: "password"},
			{line: 6, value: p4, rule: rule, key: "password"},
		}
	}
	runCases(t, []tcase{
		{name: "php", path: "app/config.php", text: text, want: wants(rPassword)},
		{name: "wordpress", path: "wp-config.php", text: text, want: wants("tollgate-hardcoded-wordpress-config")},
	})
}

func TestShell(t *testing.T) {
	g := newGen(17)
	p1, p2, p3, p4, p5, p6 := g.pw(), g.tok(24), g.pw(), g.pw(), g.pw(), g.pw()
	runCases(t, []tcase{{name: "sh", path: "scripts/deploy.sh", text: lines(
		"#!/bin/sh",
		"export DB_PASSWORD="+p1,
		`API_TOKEN="`+p2+`"`,
		"PGPASSWORD='"+p3+"' psql -h db",
		"curl -u admin:"+p4+" https://api.example.org",
		"mysql -uroot -p"+p5+" app < dump.sql",
		"sshpass -p '"+p6+"' ssh host",
		"PASSWORD=$(cat /run/secrets/pw)",
		`TOKEN="${GITHUB_TOKEN}"`,
		`read -s -p "Password: " PASSWORD`,
		`mysql -u root -p"$MYSQL_PWD" app`,
		`cd "$PWD/build"`,
	), want: []want{
		{line: 2, value: p1, rule: rPassword, key: "DB_PASSWORD"},
		{line: 3, value: p2, rule: rToken, key: "API_TOKEN"},
		{line: 4, value: p3, rule: rPassword, key: "PGPASSWORD"},
		{line: 5, value: p4, rule: rPassword, key: "-u"},
		{line: 6, value: p5, rule: rPassword, key: "-p"},
		{line: 7, value: p6, rule: rPassword, key: "-p"},
	}}})
}

func TestHTML(t *testing.T) {
	g := newGen(18)
	p1, p2 := g.pw(), g.pw()
	runCases(t, []tcase{{name: "html", path: "templates/login.html", text: lines(
		"<form>",
		`  <input type="password" name="pw" value="`+p1+`">`,
		`  <input type="password" name="pw2" value="">`,
		`  <input type="text" name="user" value="admin">`,
		`  <input name="api_key" type="hidden" value="{{ api_key }}">`,
		`  <input value='`+p2+`' type=password>`,
		`  <label for="password">Password</label>`,
		`  <input type="password" autocomplete="current-password" placeholder="Password">`,
		"</form>",
	), want: []want{
		{line: 2, value: p1, rule: rPassword, key: "input[type=password]"},
		{line: 6, value: p2, rule: rPassword, key: "input[type=password]"},
	}}})
}

func TestURIs(t *testing.T) {
	g := newGen(19)
	p1, p2, p3, p4 := g.pw(), g.tok(20), g.pw(), g.tok(12)
	runCases(t, []tcase{{name: "uris", path: "README.md", text: lines(
		"mongodb://app:"+p1+"@mongo.internal:27017/app",
		"postgres://user:password@localhost/db",
		"redis://:"+p2+"@cache:6379/0",
		"amqp://guest:guest@localhost:5672",
		"https://{user}:{password}@host.example.org",
		"ftp://anonymous@ftp.example.org/pub",
		"smtp://mailer:"+p3+"@smtp.example.org:587",
		"ldap://cn=admin:"+p4+"@ldap.internal",
		"http://%s:%s@%s/",
		"https://user:${TOKEN}@github.com/org/repo.git",
		"postgres://app:****@db/app",
		"mysql://root:<password>@db/app",
	), want: []want{
		{line: 1, value: p1, rule: ruleURI},
		{line: 3, value: p2, rule: ruleURI},
		{line: 7, value: p3, rule: ruleURI},
		{line: 8, value: p4, rule: ruleURI},
	}}, {name: "uri-words", path: "config/app.env", text: lines(
		// The README's example: a password that reads like a key name is
		// still the password of its URI (the userinfo slot says so).
		"DATABASE_URL=mongodb://app:apppass@host/db",
		// A documented default on a documentation host stays out.
		"MONGO_URL=mongodb://app:hunter2@db.example.com/db",
	), want: []want{
		{line: 1, value: "apppass", rule: ruleURI},
	}}})
}

func TestConnectionStrings(t *testing.T) {
	g := newGen(20)
	p1, p2, p3, k := g.pw(), g.pw(), g.pw(), g.tok(40)+"=="
	runCases(t, []tcase{{name: "connstr", path: "notes/connections.txt", text: lines(
		"Server=tcp:db.example.org;Database=app;User ID=app;Password="+p1+";Encrypt=true",
		"Driver={ODBC Driver 18};Server=db;Uid=app;Pwd={"+p2+"};",
		"jdbc:sqlserver://db:1433;databaseName=app;user=app;password="+p3,
		"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="+k+";EndpointSuffix=core.windows.net",
		"Password=${DB_PASS};Server=db",
		"The password=wrongish is rejected by the login page",
		"Server=db;User Id=app;Password=;",
	), want: []want{
		{line: 1, value: p1, rule: ruleConnString, key: "Password"},
		{line: 2, value: p2, rule: ruleConnString, key: "Pwd"},
		{line: 3, value: p3, rule: ruleConnString, key: "password"},
		{line: 4, value: k, rule: ruleConnString, key: "AccountKey"},
	}}})
}

func TestWebhooks(t *testing.T) {
	g := newGen(21)
	slack := "services/T" + g.tok(9) + "/B" + g.tok(9) + "/" + g.tok(24)
	teams := "webhookb2/" + g.tok(8) + "-" + g.tok(4) + "@" + g.tok(8) + "/IncomingWebhook/" + g.tok(32) + "/" + g.tok(8)
	discord := "api/webhooks/123456789012345678/" + g.tok(68)
	generic := "triggers/" + g.tok(32)
	runCases(t, []tcase{{name: "webhooks", path: "ops/notes.txt", text: lines(
		"slack: https://hooks.slack.com/"+slack,
		"teams: https://contoso.webhook.office.com/"+teams,
		`discord = "https://discord.com/`+discord+`"`,
		"https://hooks.example.org/"+generic,
		"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
		"https://hooks.slack.com/services/",
		"https://hooks.example.org/short",
	), want: []want{
		{line: 1, value: slack, rule: ruleWebhook},
		{line: 2, value: teams, rule: ruleWebhook},
		{line: 3, value: discord, rule: ruleWebhook},
		{line: 4, value: generic, rule: ruleWebhook},
	}}})
}

func TestTestFixtures(t *testing.T) {
	g := newGen(22)
	p1 := g.pw()
	text := lines(
		`password = "test123"`,
		`password = "`+p1+`"`,
		`password = "hunter2"`,
		`token = "fake-token-value"`,
	)
	runCases(t, []tcase{
		{name: "test-path", path: "tests/test_login.py", text: text, want: []want{
			{line: 2, value: p1, rule: rPassword, key: "password"},
		}},
		{name: "go-test", path: "auth/login_test.go", text: text, want: []want{
			{line: 2, value: p1, rule: rPassword, key: "password"},
		}},
		{name: "not-test", path: "auth/login.py", text: text, want: []want{
			{line: 1, value: "test123", rule: rPassword, key: "password"},
			{line: 2, value: p1, rule: rPassword, key: "password"},
			{line: 3, value: "hunter2", rule: rPassword, key: "password"},
		}},
	})
}

func TestSkips(t *testing.T) {
	g := newGen(23)
	p1 := g.pw()
	long := "password = \"" + p1 + "\"; " + string(make([]byte, 0)) + repeat("a", 4100)
	runCases(t, []tcase{
		{name: "binary", path: "config/app.ini", text: "password=" + p1 + "\n\x00\x01"},
		{name: "minified", path: "static/app.min.js", text: `var password="` + p1 + `";`},
		{name: "long-line", path: "static/app.js", text: long},
		{name: "no-keyword", path: "main.go", text: lines("package main", "func main() {}")},
		{name: "dbeaver", path: ".dbeaver/credentials-config.json", text: `{"password": "` + p1 + `"}`},
		// The controls: the same values without the condition that skips
		// them are found, so the skips above are skips, not blind spots.
		{name: "binary-control", path: "config/app.ini", text: "password=" + p1 + "\n",
			want: []want{{line: 1, value: p1, rule: rPassword, key: "password"}}},
		{name: "minified-control", path: "static/app.js", text: `var password="` + p1 + `";`,
			want: []want{{line: 1, value: p1, rule: rPassword, key: "password"}}},
		{name: "long-line-control", path: "static/app.js", text: "password = \"" + p1 + "\"; " + repeat("a", 40),
			want: []want{{line: 1, value: p1, rule: rPassword, key: "password"}}},
		{name: "dbeaver-control", path: ".dbeaver/data-sources.json", text: `{"password": "` + p1 + `"}`,
			want: []want{{line: 1, value: p1, rule: rPassword, key: "password"}}},
	})
}

func repeat(s string, n int) string {
	b := make([]byte, 0, n*len(s))
	for i := 0; i < n; i++ {
		b = append(b, s...)
	}
	return string(b)
}

// TestNearMisses covers the filters added while tuning on the Go source
// tree, each next to a true positive that must survive it.
func TestNearMisses(t *testing.T) {
	g := newGen(24)
	p1, p2 := g.pw(), g.pw()
	hexv := "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b"
	runCases(t, []tcase{
		{name: "go-test-fixtures", path: "internal/auth/auth_test.go", text: lines(
			`	wantPassword: "secr3t",`,
			`	in: "http://user:pa%2Fssword@dummy.faketld/",`,
			`	in: "http://%3Fam:pa%3Fsword@google.com",`,
			"Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",
			"Authorization: Basic jpvcGVuc2VzYW1lYWxhZGRpb",
			`	SharedSecret: "`+hexv+`",`,
			`	wantPassword: "`+p1+`",`,
		), want: []want{{line: 7, value: p1, rule: rPassword, key: "wantPassword"}}},
		{name: "hex-outside-tests", path: "config/app.yaml", text: lines("shared_secret: " + hexv),
			want: []want{{line: 1, value: hexv, rule: rSecret, key: "shared_secret"}}},
		{name: "code-idioms", path: "lib/fetch.js", text: lines(
			`const jsFetchCreds = "js.fetch:credentials";`,
			`opt.Set("credentials", "same-origin");`,
			`line.Suffix = []Comment{{Token: "// indirect", Suffix: true}};`,
			`  "secret": "\u3299\ufe0f",`,
			`const password = "Summer 2024!";`,
			`const password = "`+p2+`" // not a placeholder`,
		), want: []want{
			{line: 5, value: "Summer 2024!", rule: rPassword, key: "password"},
			{line: 6, value: p2, rule: rPassword, key: "password"},
		}},
		{name: "basic-outside-tests", path: "scripts/call.sh", text: lines(
			`curl -H "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l" https://api.example.org`,
		), want: []want{{line: 1, value: "YWxhZGRpbjpvcGVuc2VzYW1l", rule: rToken, key: "Authorization"}}},
	})
}

// TestNearMissesThirdParty covers the false positives found by running the
// detector over a module cache (SDK enums, recorded sessions, CI
// permissions), each beside a finding that must survive.
func TestNearMissesThirdParty(t *testing.T) {
	g := newGen(25)
	p1, p2, p3 := g.pw(), g.pw(), g.pw()
	slackApp := "app/T012AB0A1/123456789/" + g.tok(24)
	runCases(t, []tcase{
		{name: "go-enums-and-names", path: "sdk/enums.go", text: lines(
			`	AuthenticationTypeActiveDirectoryPassword AuthenticationType = "ActiveDirectoryPassword"`,
			`	ElevationTokenFull ElevationToken = "Full"`,
			`	MockEc2MetadataAccessKey = `+"`Ec2MetadataAccessKey`",
			`	loginSessionKey = "login_session"`,
			`	const headerAuxiliaryAuthorization = "x-ms-authorization-auxiliary"`,
			`	traceOpGetToken = "GetToken"`,
			`	if token == "allows" {`,
			`	if token == "`+p1+`" {`,
			`	PASS="\x1b[32mPASS"`,
			`	var password string = "`+p2+`"`,
		), want: []want{
			{line: 8, value: p1, rule: rToken, key: "token"},
			{line: 10, value: p2, rule: rPassword, key: "password"},
		}},
		{name: "recorded-and-ci", path: "sdk/recordings/session.json", text: lines(
			`{"Authorization": "Sanitized", "password": "cGFzc3dvcmQ="}`,
			`{"POSTGRES_PASSWORD": "unused"}`,
		)},
		{name: "ci-permissions", path: ".github/workflows/release.yml", text: lines(
			"permissions:",
			"  id-token: write",
			"  password: "+p3,
		), want: []want{{line: 3, value: p3, rule: rPassword, key: "password"}}},
		{name: "test-fixture-shapes", path: "pkg/client/client_test.go", text: lines(
			`	expected: rest.Config{BearerToken: "first-with-port"},`,
			`	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: "SESSION"}`,
			`	AccessToken: "dGhpcyBpcyBub3QgYSByZWFsIHZhbHVl",`,
			`	Password: "g0ph3r",`,
			`	password := "1234"`,
			`	Token: "`+p1+`",`,
		), want: []want{{line: 6, value: p1, rule: rToken, key: "Token"}}},
		{name: "arm-expressions", path: "avm/ptn/stack/main.json", text: lines(
			`  "sharedKey": "[listKeys('logAnalyticsWorkspace', '2025-02-01').primarySharedKey]",`,
			`  "adminPassword": "[parameters('adminPassword')]",`,
			`  "clientSecret": "`+p3+`",`,
		), want: []want{{line: 3, value: p3, rule: rSecret, key: "clientSecret"}}},
		{name: "helm-secret-names", path: "charts/exporter/values.yaml", text: lines(
			"  existingUserSecret: ~",
			"  existingUserSecretKey: username",
			`  configFromSecret: "prometheus-config"`,
			`  existingSecretPasswordKey: db-password`,
		)},
		{name: "assembly-public-key-token", path: "scripts/unattend.ps1", text: lines(
			`<component name="Microsoft-Windows-Shell-Setup" publicKeyToken="31bf3856ad364e35" language="neutral">`,
		)},
		{name: "slack-response-url", path: "notes.txt", text: lines(
			`"response_url": "https://hooks.slack.com/` + slackApp + `"`,
		)},
	})
}

// TestPrefilterOffsets checks that the every-other-byte prefilter finds a
// needle at any offset, on the first and last line, with and without a
// final newline.
func TestPrefilterOffsets(t *testing.T) {
	d := New()
	for k := 0; k < 6; k++ {
		for _, tail := range []string{"", "\n"} {
			pad := repeat(" ", k)
			for _, text := range []string{
				pad + "pwd=Summer2024!" + tail,
				"x=1\n" + pad + "pwd=Summer2024!" + tail,
				"x=1\n" + pad + "key=1\n" + pad + "pwd=Summer2024!" + tail,
			} {
				ms := d.Scan("a.ini", []byte(text))
				if len(ms) != 1 || ms[0].Value != "Summer2024!" || ms[0].StartCol != k+5 {
					t.Errorf("%q: got %v", text, ms)
				}
			}
		}
	}
}

// TestSampleSuffixes: a configuration kept as a template, a sample or a
// backup is read in the format before the suffix; its placeholders stay
// excluded, a real value is reported.
func TestSampleSuffixes(t *testing.T) {
	g := newGen(37)
	xmlPw, ymlPw, jsonPw, propPw := g.pw(), g.pw(), g.pw(), g.pw()
	runCases(t, []tcase{
		{name: "xml.dist", path: "src/main/resources/beans.xml.dist",
			text: "<beans>\n  <bean id=\"ds\">\n    <property name=\"password\" value=\"" + xmlPw + "\"/>\n  </bean>\n</beans>\n",
			want: []want{{line: 3, value: xmlPw, rule: "tollgate-hardcoded-password", key: "password"}}},
		{name: "yml.template", path: "config/app.yml.template",
			text: "db:\n  user: app\n  password: " + ymlPw + "\n",
			want: []want{{line: 3, value: ymlPw, rule: "tollgate-hardcoded-password", key: "password"}}},
		{name: "json.sample", path: "settings.json.sample",
			text: "{\n  \"db\": {\"password\": \"" + jsonPw + "\"}\n}\n",
			want: []want{{line: 2, value: jsonPw, rule: "tollgate-hardcoded-password", key: "password"}}},
		{name: "properties.orig", path: "application.properties.orig",
			text: "spring.datasource.username=app\nspring.datasource.password=" + propPw + "\n",
			want: []want{{line: 2, value: propPw, rule: "tollgate-hardcoded-password", key: "spring.datasource.password"}}},
		{name: "placeholder in a template", path: "config/app.yml.template",
			text: "db:\n  password: changeme\n  token: ${DB_TOKEN}\n"},
		{name: "a suffix alone is no format", path: "notes.template",
			text: "password is written on the whiteboard\n"},
	})
}

// TestPairsAndLists: a credential named by a sibling key (key/value,
// ParameterKey/ParameterValue, Name/Value) and the items of a list under a
// credential key.
func TestPairsAndLists(t *testing.T) {
	g := newGen(41)
	kv, cfn, nv, l1, l2 := g.pw(), g.pw(), g.pw(), g.pw(), g.pw()
	runCases(t, []tcase{
		{name: "key/value", path: "ansible/vars.yml",
			text: "settings:\n  - key: password\n    value: " + kv + "\n  - key: username\n    value: admin\n",
			want: []want{{line: 3, value: kv, rule: "tollgate-hardcoded-password", key: "password"}}},
		{name: "ParameterKey/ParameterValue", path: "cfn/params.yaml",
			text: "- ParameterKey: DBPassword\n  ParameterValue: " + cfn + "\n- ParameterKey: DBUser\n  ParameterValue: admin\n",
			want: []want{{line: 2, value: cfn, rule: "tollgate-hardcoded-password", key: "DBPassword"}}},
		{name: "Name/Value", path: "ci/pipeline.yml",
			text: "variables:\n  - Name: API_TOKEN\n    Value: " + nv + "\n",
			want: []want{{line: 3, value: nv, rule: "tollgate-hardcoded-token", key: "API_TOKEN"}}},
		{name: "a list under passwords", path: "config/users.yml",
			text: "passwords:\n  - \"" + l1 + "\"\n  - " + l2 + "\nother: 1\n",
			want: []want{{line: 2, value: l1, rule: "tollgate-hardcoded-password", key: "passwords"}, {line: 3, value: l2, rule: "tollgate-hardcoded-password", key: "passwords"}}},
		{name: "a list of mappings under passwords", path: "config/users.yml",
			text: "passwords:\n  - name: admin\n    length: 12\n"},
		{name: "a list of placeholders", path: "config/users.yml",
			text: "passwords:\n  - changeme\n  - ${PASSWORD}\n"},
		{name: "names under secrets and tokens", path: "deploy/app.yml",
			text: "secrets:\n  - server-certificate\n  - SENTRY_DSN\ntokens:\n  - IDENTIFIER\n  - string.literal\n"},
	})
}

// TestLiteralFirstComparison: a literal compared with a credential-named
// variable, the literal first ("x" == password, as Yoda conditions and
// assertions write it), is reported as the other order is; a method call
// on the variable or a lowercase keyword is not.
func TestLiteralFirstComparison(t *testing.T) {
	g := newGen(43)
	py, js, java := g.pw(), g.pw(), g.pw()
	runCases(t, []tcase{
		{name: "python", path: "app/auth.py",
			text: "if \"" + py + "\" == password:\n    grant()\n",
			want: []want{{line: 1, value: py, rule: "tollgate-hardcoded-password", key: "password"}}},
		{name: "javascript", path: "web/login.js",
			text: "if ('" + js + "' !== PASSWORD) { deny(); }\n",
			want: []want{{line: 1, value: js, rule: "tollgate-hardcoded-password", key: "PASSWORD"}}},
		{name: "a field", path: "src/Auth.java",
			text: "if (\"" + java + "\" == this.adminPassword) { ok(); }\n",
			want: []want{{line: 1, value: java, rule: "tollgate-hardcoded-password", key: "adminPassword"}}},
		{name: "a method on the variable", path: "app/auth.py",
			text: "if \"" + py + "\" == password.strip():\n    grant()\n"},
		{name: "a keyword", path: "lex/lexer.go",
			text: "if \"func\" == token {\n}\n"},
	})
}

// TestStructuredPairsAndLists: the pairs and lists of TestPairsAndLists
// written as JSON, TOML and HCL: an object or table whose name member names
// the credential and whose value member holds it (on one line, value
// first, or over several lines), and the string items of a list under a
// credential key. A pair object that ends without a value, a list of
// objects or references, and a pair naming no credential are not findings.
func TestStructuredPairsAndLists(t *testing.T) {
	g := newGen(47)
	v := make([]string, 16)
	for i := range v {
		v[i] = g.pw()
	}
	runCases(t, []tcase{
		{name: "JSON key/value on one line (Postman auth)", path: "postman/orders.postman_collection.json",
			text: lines(`{"auth": {"type": "basic", "basic": [`,
				`  {"key": "username", "value": "ops"},`,
				`  {"key": "password", "value": "`+v[0]+`", "type": "string"}`,
				`]}}`),
			want: []want{{line: 3, value: v[0], rule: rPassword, key: "password"}}},
		{name: "JSON Name/Value over lines (ECS)", path: "ecs/taskdef.json",
			text: lines(`{"Environment": [`, `  {`, `    "Name": "DB_PASSWORD",`, `    "Value": "`+v[1]+`"`, `  }`, `]}`),
			want: []want{{line: 4, value: v[1], rule: rPassword, key: "DB_PASSWORD"}}},
		{name: "JSON ParameterKey/ParameterValue", path: "cfn/params.json",
			text: lines(`[{"ParameterKey": "Env", "ParameterValue": "prod"}, {"ParameterKey": "DBPassword", "ParameterValue": "` + v[2] + `"}]`),
			want: []want{{line: 1, value: v[2], rule: rPassword, key: "DBPassword"}}},
		{name: "JSON value before name", path: "ci/vars.json",
			text: lines(`[{"value": "` + v[3] + `", "name": "API_TOKEN"}]`),
			want: []want{{line: 1, value: v[3], rule: rToken, key: "API_TOKEN"}}},
		{name: "TOML array of tables", path: "config/creds.toml",
			text: lines(`[[credentials]]`, `name = "password"`, `value = "`+v[4]+`"  # rotated yearly`, ``, `[[credentials]]`, `name = "user"`, `value = "ops"`),
			want: []want{{line: 3, value: v[4], rule: rPassword, key: "password"}}},
		{name: "TOML inline table", path: "config/app.toml",
			text: lines(`settings = [ { key = "db.password", value = "` + v[5] + `" } ]`),
			want: []want{{line: 1, value: v[5], rule: rPassword, key: "db.password"}}},
		{name: "HCL Helm set block", path: "infra/helm.tf",
			text: lines(`resource "helm_release" "db" {`, `  set {`, `    name  = "auth.postgresPassword"`, `    value = "`+v[6]+`"`, `  }`,
				`  set_sensitive {`, `    name  = "auth.password"`, `    value = var.db_password`, `  }`, `}`),
			want: []want{{line: 4, value: v[6], rule: rPassword, key: "auth.postgresPassword"}}},
		{name: "HCL SSM parameter", path: "infra/ssm.tf",
			text: lines(`resource "aws_ssm_parameter" "db" {`, `  name  = "/prod/orders/db/password"`, `  type  = "SecureString"`, `  value = "`+v[15]+`"`, `}`),
			want: []want{{line: 4, value: v[15], rule: rPassword, key: "/prod/orders/db/password"}}},
		{name: "JSON list on one line", path: "config/users.json",
			text: lines(`{"admin": {"passwords": ["` + v[7] + `", "` + v[8] + `"]}}`),
			want: []want{{line: 1, value: v[7], rule: rPassword, key: "passwords"}, {line: 1, value: v[8], rule: rPassword, key: "passwords"}}},
		{name: "JSON list over lines", path: "config/users.json",
			text: lines(`{`, `  "api_tokens": [`, `    "`+v[9]+`",`, `    "`+v[10]+`"`, `  ],`, `  "name": "reports"`, `}`),
			want: []want{{line: 3, value: v[9], rule: rToken, key: "api_tokens"}, {line: 4, value: v[10], rule: rToken, key: "api_tokens"}}},
		{name: "TOML list over lines", path: "config/app.toml",
			text: lines(`passwords = [`, `  "`+v[11]+`", # primary`, `  "`+v[12]+`",`, `]`, `users = ["ops"]`),
			want: []want{{line: 2, value: v[11], rule: rPassword, key: "passwords"}, {line: 3, value: v[12], rule: rPassword, key: "passwords"}}},
		{name: "HCL list", path: "infra/prod.tfvars",
			text: lines(`admin_passwords = ["` + v[13] + `"]`),
			want: []want{{line: 1, value: v[13], rule: rPassword, key: "admin_passwords"}}},
		{name: "Authorization header pairs (Postman)", path: "postman/api.postman_collection.json",
			text: lines(`"header": [`, `  {"key": "Authorization", "value": "Bearer `+v[14]+`"},`,
				`  {"key": "Authorization", "value": "OAuth oauth_consumer_key=\"RKCGzna7bv9Y\",oauth_signature=\"x0gnkYdST73FwY8o%3D\""}`,
				`], "headers": {"Authorization": "Digest username=\"ops\", nonce=\"dcd98b7102dd2f0e\", response=\"6629fae49393a053\""}`),
			want: []want{{line: 2, value: v[14], rule: rToken, key: "Authorization"}}},
		{name: "a pair object without a value", path: "forms/login.json",
			text: lines(`[`, `  {"name": "password", "type": "string"},`, `  {"name": "user", "value": "ops-reader"}`, `]`)},
		{name: "a pair object ending before a value", path: "forms/login.json",
			text: lines(`[{`, `  "name": "password",`, `  "type": "string"`, `}, {`, `  "value": "ops-reader"`, `}]`)},
		{name: "an inline table ending before a value", path: "config/app.toml",
			text: lines(`cred = { name = "password", kind = "text" }`, `value = "ops-reader"`)},
		{name: "a pair naming no credential", path: "ecs/taskdef.json",
			text: lines(`[{"name": "TOKEN_URL", "value": "https://login.example.org/token"}, {"name": "PASSWORD_POLICY", "value": "strict"}]`)},
		{name: "a list of objects or references", path: "config/users.json",
			text: lines(`{"passwords": [{"user": "ops", "length": 16}], "tokens": [`, `  "$TOKEN_A",`, `  "${TOKEN_B}"`, `]}`)},
		{name: "a list of references in HCL", path: "infra/main.tf",
			text: lines(`passwords = [var.primary_password, var.secondary_password]`)},
		{name: "names under tokens and secrets", path: "grammar/tokens.json",
			text: lines(`{"tokens": ["IDENTIFIER", "STRING_LITERAL", "hello"], "secrets": [`, `  "DATABASE_URL",`, `  "server-certificate"`, `]}`)},
	})
}

// TestFormatComparison: a credential compared with (or passed as) a
// literal that str.format only wraps ("{}".format("x"), either side of the
// comparison) or an f-string without a replacement field is the literal;
// a template with text of its own or a computed argument is not reported.
func TestFormatComparison(t *testing.T) {
	g := newGen(53)
	a, b, c, d := g.pw(), g.pw(), g.pw(), g.pw()
	runCases(t, []tcase{
		{name: "format on the left", path: "app/auth.py",
			text: lines(`if "{}".format("`+a+`") != PASSWORD:`, `    deny()`),
			want: []want{{line: 1, value: a, rule: rPassword, key: "PASSWORD"}}},
		{name: "format on the right", path: "app/auth.py",
			text: lines(`if user == "admin" and password == "{0}".format("`+b+`"):`, `    grant()`),
			want: []want{{line: 1, value: b, rule: rPassword, key: "password"}}},
		{name: "a keyword argument", path: "app/client.py",
			text: lines(`client.login(user="ops", password="{}".format("` + c + `"))`),
			want: []want{{line: 1, value: c, rule: rPassword, key: "password"}}},
		{name: "an f-string without a field", path: "app/auth.py",
			text: lines(`if password == f"`+d+`":`, `    grant()`),
			want: []want{{line: 1, value: d, rule: rPassword, key: "password"}}},
		{name: "computed values", path: "app/auth.py",
			text: lines(
				`if password == "s3cr3t{}".format(year):`,
				`    grant()`,
				`password = "{}".format(salt)`,
				`format_password = "prefix_{}".format(dynamic_value)`,
				`password = "{}{}".format("Kes", "trel")`,
				`password = f"prefix_{dynamic_value}"`,
			)},
	})
}

// TestLabelMaps: the entries of a Kubernetes label map (a Service's
// selector, matchLabels, labels, nodeSelector) are label keys and values,
// not credentials, whatever words the key holds (the bench trees' services
// named svc-token-NNN select their pods by such a key); the same key
// outside a label map, and a credential beside a label map, are reported.
func TestLabelMaps(t *testing.T) {
	g := newGen(59)
	p1, p2 := g.pw(), g.pw()
	runCases(t, []tcase{
		{name: "selector and labels", path: "deploy/k8s/pod.yaml",
			text: lines(`apiVersion: v1`, `kind: Service`, `metadata:`, `  name: debug`, `  labels:`, `    # the owning service`,
				`    svc-token-053: debug`, `spec:`, `  selector:`, `    app: web`, `    svc-token-053: debug`,
				`  template:`, `    spec:`, `      nodeSelector:`, `        pool-secret: blue`)},
		{name: "matchLabels", path: "deploy/k8s/deploy.yaml",
			text: lines(`spec:`, `  selector:`, `    matchLabels:`, `      auth-token: canary`, `      app: web`)},
		{name: "outside a label map", path: "deploy/app.yaml",
			text: lines(`metadata:`, `  labels:`, `    app: web`, `config:`, `  svc-token-053: `+p1, `auth:`, `  selector: web`, `  password: `+p2),
			want: []want{{line: 5, value: p1, rule: rToken, key: "svc-token-053"}, {line: 8, value: p2, rule: rPassword, key: "password"}}},
	})
}
