package hardcoded

// keyFamilyNotes is what every key-based rule deliberately leaves alone.
const keyFamilyNotes = " Not reported: empty values and values under 4 characters; references " +
	"and templating (${VAR}, $VAR, {{ }}, %VAR%, #{}, <%= %>, !Ref/!Sub/!GetAtt, " +
	"os.getenv, process.env, secrets.X, vault: and @Microsoft.KeyVault(...)); " +
	"placeholders (<password>, changeme, xxx, ****, REPLACE_ME, your-token-here, " +
	"example, dummy); booleans; code that is not a string literal " +
	"(get_password(), user.password, None); keys that only mention a credential " +
	"(password_policy, token_url, secret_name, password_file); UI text; and, " +
	"in test paths, the usual fixture guesses (test, foo, secret123)."

// keyFamilyShapes are the places a key-based rule finds its credential
// besides key = value (issue 37); every key-based rule reads them.
const keyFamilyShapes = " The credential may also be named by a sibling key: name/value, " +
	"key/value, ParameterKey/ParameterValue and OptionName/Value pairs in YAML, JSON, TOML " +
	"and HCL (env lists, Postman auth and headers, CloudFormation parameters, [[tables]], " +
	"Helm set blocks), <entry key=... value=...> and <property name=...><value>...</value> " +
	"in XML; and every string of a list under the key or its plural (passwords: - x, " +
	"\"passwords\": [\"x\"], passwords = [\"x\"]; under tokens or secrets, not an item that " +
	"reads as a name: IDENT, SENTRY_DSN, db-url). A literal compared first (\"x\" == password), " +
	"only wrapped by str.format (\"{}\".format(\"x\")) or in an f-string without a field is " +
	"the literal. Template, sample and backup copies (.dist, .template, .example, .sample, " +
	".orig, .bak, .default) are read in the format before the suffix. Not reported: " +
	"the entries of Kubernetes label maps (labels, selector, matchLabels, nodeSelector)."

// pairPattern is the Pattern of the pair and list shapes.
const pairPattern = `or a pair whose name|Name|key|Key|ParameterKey|OptionName member is such a key and whose value|Value|ParameterValue member is a literal; or the literals of a list under such a key or its plural`

// pairKeys are the Keys entries of the pair and list shapes.
var pairKeys = []string{"name/value, key/value, ParameterKey/ParameterValue, OptionName/Value pairs", "a list under the plural (passwords, tokens, secrets)"}

// Rules returns the rule catalogue, in a stable order.
func Rules() []Rule {
	return []Rule{
		{
			ID:    "tollgate-hardcoded-password",
			Title: "Hardcoded password",
			Description: "A literal password under a key that names one, in configuration " +
				"(YAML, JSON, XML, INI, .properties, .env, TOML, HCL, Dockerfile ENV/ARG, " +
				"compose environment lists) or code (assignments, comparisons, keyword " +
				"arguments, object and dictionary literals, setters, define()), a prefilled " +
				"<input type=\"password\">, or a --password / mysql -p / curl -u " +
				"command-line argument. Comparisons such as `if password == \"x\"` are " +
				"reported, as CredScan does: the literal is a credential in the code " +
				"(except a lowercase word, which is a lexer keyword such as \"func\")." +
				keyFamilyShapes + keyFamilyNotes,
			Keys: append([]string{"password", "passwd", "pwd", "pass", "passphrase", "passcode",
				"*_PASSWORD", "*Password", "*_pass", "dbpass", "--password", "mysql -p", "curl -u"}, pairKeys...),
			Pattern: `key (last word password|passwd|pwd|pass|passphrase) followed by = := : => or a setter, then a literal; ` + pairPattern,
			Examples: []string{
				`db_password: Summer2024!`,
				`DB_PASSWORD=Summer2024!`,
				`<add key="DbPassword" value="Summer2024!" />`,
				`password = "Summer2024!"`,
				`$db_pass = 'Summer2024!';`,
				`conn.setPassword("Summer2024!");`,
				`<input type="password" value="Summer2024!">`,
				`{"key": "password", "value": "Summer2024!"}`,
				`<entry key="password" value="Summer2024!"/>`,
				`passwords = ["Summer2024!"]`,
				`if "{}".format("Summer2024!") != password:`,
			},
		},
		{
			ID:    "tollgate-hardcoded-secret",
			Title: "Hardcoded secret or private key",
			Description: "A literal under a key whose last word is secret, credentials, or a " +
				"qualified key (secret_key, private_key, signing_key, encryption_key), in " +
				"configuration or code." + keyFamilyShapes + keyFamilyNotes,
			Keys:    append([]string{"secret", "client_secret", "secret_key", "private_key", "credentials", "signing_key", "encryption_key"}, pairKeys...),
			Pattern: `key (last word secret|credentials, or <secret|private|signing|encryption|master|...> key) then a literal; ` + pairPattern,
			Examples: []string{
				`client_secret: Summer2024!`,
				`SECRET_KEY = 'django-insecure-Summer2024'`,
				`{"Name": "CLIENT_SECRET", "Value": "Summer2024!"}`,
			},
		},
		{
			ID:    "tollgate-hardcoded-token",
			Title: "Hardcoded token",
			Description: "A literal under a key whose last word is token (access_token, " +
				"auth_token, bot_token) or an Authorization header value after its " +
				"scheme. Cursor and lexer tokens (next_token, page_token, csrf_token, " +
				"cancellationToken) are not credentials, nor is a signed request's Authorization " +
				"header (OAuth, Digest, AWS4-HMAC-SHA256): its signature serves once." + keyFamilyShapes + keyFamilyNotes,
			Keys:    append([]string{"token", "access_token", "auth_token", "authToken", "Authorization"}, pairKeys...),
			Pattern: `key (last word token, not next/page/csrf/...) then a literal; Authorization: (Bearer|Basic|Token) <value>; ` + pairPattern,
			Examples: []string{
				`auth_token: Summer2024Token`,
				`headers = {"Authorization": "Bearer Summer2024Token"}`,
				`{"key": "Authorization", "value": "Bearer Summer2024Token"}`,
				`api_tokens = ["Summer2024Token"]`,
			},
		},
		{
			ID:    "tollgate-hardcoded-api-key",
			Title: "Hardcoded API key",
			Description: "A literal under api_key / apikey / x-api-key or a service-qualified " +
				"key name (slackKey, stripe_key, access_key, subscription_key). A bare " +
				"key, primary key or cache key is not a credential." + keyFamilyShapes + keyFamilyNotes,
			Keys:    append([]string{"api_key", "apikey", "x-api-key", "access_key", "slackKey", "subscription_key"}, pairKeys...),
			Pattern: `key (last word apikey, or <api|access|slack|stripe|...> key) then a literal; ` + pairPattern,
			Examples: []string{
				`const apiKey = "Summer2024Key";`,
				`SLACK_KEY=Summer2024Key`,
				`{"ParameterKey": "StripeApiKey", "ParameterValue": "Summer2024Key"}`,
			},
		},
		{
			ID:    ruleURI,
			Title: "Password in a URI",
			Description: "The password of scheme://user:password@host in any file (mongodb, " +
				"postgres, mysql, redis, amqp, ftp, sftp, http(s), smtp, ldap...), whatever " +
				"its entropy. Format holes (%s, {password}) and references ($PASS, ${PASS}) " +
				"are not reported.",
			Pattern:  uriUserinfo.String(),
			Examples: []string{`DATABASE_URL=postgres://app:Summer2024!@db.internal:5432/app`},
		},
		{
			ID:    ruleConnString,
			Title: "Password in a connection string",
			Description: "Password= / Pwd= / userpass= / AccountKey= in JDBC URLs, ADO.NET, ODBC " +
				"and Azure Storage connection strings, when the line also holds a " +
				"connection parameter (Server=, Host=, User Id=, jdbc:, ...), or a " +
				"?password= / &password= URL query parameter.",
			Keys:     []string{"Password", "Pwd", "userpass", "AccountKey", "SharedAccessKey"},
			Pattern:  connParam.String(),
			Examples: []string{`"Server=db;Database=app;User Id=app;Password=Summer2024!;"`, `jdbc:mysql://db/app?user=app&password=Summer2024`},
		},
		{
			ID:    ruleWebhook,
			Title: "Incoming webhook URL",
			Description: "Slack, Microsoft Teams (webhook.office.com), Discord and generic " +
				"https://hooks.<host>/ incoming-webhook URLs: the URL is the credential. The " +
				"value is the token path after the host; documentation placeholders " +
				"(XXXX, T00000000) are not reported.",
			Pattern:  `https://hooks.slack.com/services/...; https://*.webhook.office.com/webhookb2/...; https://discord.com/api/webhooks/<id>/<token>; https://hooks.<host>/<20+ chars>`,
			Examples: []string{`SLACK_URL=https://hooks.slack.com/services/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`},
		},
		store("tollgate-hardcoded-ftp-client", "FTP/SFTP client configuration",
			"Passwords in FTP and SFTP client files: Sublime SFTP sftp-config.json, Atom "+
				".ftpconfig, VS Code .vscode/sftp.json, FileZilla sitemanager.xml / "+
				"recentservers.xml <Pass>, WinSCP.ini Password=.",
			[]string{"sftp-config.json", ".ftpconfig", ".vscode/sftp.json", "sitemanager.xml", "recentservers.xml", "WinSCP.ini"},
			`"password": "Summer2024!"`, `<Pass encoding="base64">U3VtbWVyMjAyNCE=</Pass>`),
		store("tollgate-hardcoded-ide-config", "IDE data source or deployment configuration",
			"Passwords and JDBC credentials in JetBrains .idea/*.xml (dataSources.xml, "+
				"dataSources.local.xml, deployment.xml, webServers.xml). DBeaver's "+
				"credentials-config.json is encrypted and skipped.",
			[]string{".idea/dataSources.xml", ".idea/dataSources.local.xml", ".idea/deployment.xml"},
			`<jdbc-url>jdbc:postgresql://db/app?user=app&amp;password=Summer2024</jdbc-url>`),
		store("tollgate-hardcoded-db-client", "Database client password file",
			"The password field of .pgpass (host:port:db:user:password) and password= in "+
				".my.cnf.",
			[]string{".pgpass", ".my.cnf"}, `db.internal:5432:app:app:Summer2024!`, `password=Summer2024!`),
		store("tollgate-hardcoded-mail-client", "Mail client password",
			"password lines of .esmtprc and .msmtprc, set smtp_pass / imap_pass in .muttrc.",
			[]string{".esmtprc", ".msmtprc", ".muttrc", ".fetchmailrc"}, `password Summer2024!`, `set smtp_pass = "Summer2024!"`),
		store("tollgate-hardcoded-netrc", ".netrc password",
			"The token after password in .netrc / _netrc, including one-line entries.",
			[]string{".netrc", "_netrc"}, `machine ftp.example.org login app password Summer2024!`),
		store("tollgate-hardcoded-pypirc", ".pypirc password",
			"password= in the index sections of .pypirc.",
			[]string{".pypirc"}, `password = Summer2024!`),
		store("tollgate-hardcoded-pip-config", "pip index URL with credentials",
			"The password in index-url / extra-index-url of pip.conf / pip.ini.",
			[]string{"pip.conf", "pip.ini"}, `index-url = https://app:Summer2024@pypi.internal/simple`),
		store("tollgate-hardcoded-aws-credentials", "AWS shared credentials file",
			"aws_access_key_id, aws_secret_access_key and aws_session_token in "+
				".aws/credentials, whatever their shape.",
			[]string{".aws/credentials", "aws_access_key_id", "aws_secret_access_key", "aws_session_token"},
			`aws_secret_access_key = Summer2024SecretValue`),
		store("tollgate-hardcoded-htpasswd", ".htpasswd entry",
			"The hash of every user:hash line of an .htpasswd file: a crackable copy of the password.",
			[]string{".htpasswd"}, `admin:$apr1$Summer24$abcdefghijklmnopqrstu0`),
		store("tollgate-hardcoded-jenkins-credentials", "Jenkins credentials.xml",
			"<password>, <secret>, <privateKey>, <passphrase> in Jenkins credentials.xml "+
				"(encrypted with the controller's key, which often leaks with it).",
			[]string{"credentials.xml"}, `<password>{AQAAABAAAAAQSummer2024}</password>`),
		store("tollgate-hardcoded-maven-settings", "Maven settings.xml server password",
			"<password> and <passphrase> of <server> entries in settings.xml.",
			[]string{"settings.xml", "settings-security.xml"}, `<password>Summer2024!</password>`),
		store("tollgate-hardcoded-nuget-config", "NuGet.Config package source credential",
			"ClearTextPassword (and Password) of packageSourceCredentials in NuGet.Config.",
			[]string{"NuGet.Config"}, `<add key="ClearTextPassword" value="Summer2024!" />`),
		store("tollgate-hardcoded-git-credentials", ".git-credentials entry",
			"The password or token of each https://user:password@host line of "+
				".git-credentials, with any user part.",
			[]string{".git-credentials"}, `https://ci:Summer2024Token@git.example.org`),
		store("tollgate-hardcoded-wordpress-config", "WordPress wp-config.php credential",
			"define('DB_PASSWORD', ...) and the authentication keys and salts of wp-config.php.",
			[]string{"wp-config.php"}, `define('DB_PASSWORD', 'Summer2024!');`),
		store("tollgate-hardcoded-django-settings", "Django settings credential",
			"SECRET_KEY and DATABASES 'PASSWORD' (and other credential keys) in settings.py "+
				"or a settings/ package.",
			[]string{"settings.py", "settings/*.py", "SECRET_KEY", "PASSWORD"},
			`SECRET_KEY = 'django-insecure-Summer2024'`, `'PASSWORD': 'Summer2024!',`),
		store("tollgate-hardcoded-rails-database", "Rails database.yml password",
			"password: of an environment in config/database.yml.",
			[]string{"config/database.yml"}, `  password: Summer2024!`),
		store("tollgate-hardcoded-sql-dump", "Password or hash in an SQL dump",
			"Values of password/pass/pwd/token/secret columns (and password_hash-style "+
				"columns) in INSERT statements of .sql files, with the columns taken from "+
				"the INSERT or from the dump's CREATE TABLE, and SET password = '...' "+
				"literals. Hash-like values ($2y$..., {SSHA}..., hex digests) are reported "+
				"as such: they are crackable copies of the passwords.",
			[]string{"*.sql", "password", "user_pass", "password_hash"},
			`INSERT INTO users (id, login, password) VALUES (1, 'app', '$2y$10$Summer2024abcdefghijklmnopqrstuvwxyzABCDEFGHI');`),
	}
}

// store builds a credential-store rule.
func store(id, title, desc string, keys []string, examples ...string) Rule {
	return Rule{
		ID:          id,
		Title:       title,
		Description: desc + " Placeholders and references are not reported; short values are, since the format is explicit.",
		Keys:        keys,
		Pattern:     "file name match, then the format's own parser",
		Examples:    examples,
	}
}
