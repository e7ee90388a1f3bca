package secrets

import (
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/scanners"
)

// DefaultOptions are the secrets engine's options before any setting.
func DefaultOptions() *Options { return &Options{Severity: scanners.SeverityHigh} }

// Bind implements scanners.EngineOptions: the secrets engine's flags,
// .tollgate.yaml keys (the secrets section) and task inputs.
func (o *Options) Bind() []scanners.Setting {
	return []scanners.Setting{
		{Flag: "secrets-config", Repo: true, Key: "secrets.config", Path: true,
			Usage: "gitleaks config `FILE` (default: " + configFile + " at the root, else gitleaks' rules)",
			Set:   func(v string) error { o.ConfigPath = v; return nil },
			// The checkout's own file names a policy file: read from the
			// policy source, like .gitleaks.toml.
			SetRepo: func(v string, _ func(string)) error { o.RepoConfig = scanners.SplitList(v)[0]; return nil }},
		{Flag: "secrets-severity", Repo: true, Arg: "SEVERITY", Key: "secrets.severity", Usage: "severity of a secret finding", Default: "high",
			Set: func(v string) error {
				s, err := scanners.ParseSeverity(v)
				o.Severity = s
				return err
			}},
		{Key: "secrets.rule-severity", Repo: true, Map: true, Usage: "severity by rule ID (globs), over secrets.severity",
			Set: func(v string) error {
				id, sev, _ := strings.Cut(v, "=")
				s, err := scanners.ParseSeverity(sev)
				if err != nil {
					return err
				}
				if o.RuleSeverity == nil {
					o.RuleSeverity = map[string]scanners.Severity{}
				}
				o.RuleSeverity[id] = s
				return nil
			}},
		{Flag: "secrets-exclude", Repo: true, Key: "secrets.exclude", Usage: "path `GLOB` the secrets engine skips (repeatable)",
			Set: func(v string) error { return scanners.AddGlobs(&o.Exclude, v) }},
		{Flag: "secrets-mode", Repo: true, Arg: "MODE", Key: "secrets.mode", TaskInput: "secretsMode", Default: "worktree",
			Usage: "what the secrets engine reads: worktree (the files), commits (the commits a pull request adds) or history (every commit)",
			Set: func(v string) error {
				o.Mode = strings.ToLower(strings.TrimSpace(v))
				switch o.Mode {
				case "worktree", "commits", "history":
					return nil
				}
				return fmt.Errorf("unknown secrets mode %q (want worktree, commits or history)", v)
			}},
		{Flag: "since", Repo: true, Key: "secrets.since",
			Usage: "base `REF` of --secrets-mode commits (default: the pull request's target branch, from SYSTEM_PULLREQUEST_TARGETBRANCH or GITHUB_BASE_REF)",
			Set:   func(v string) error { o.Since, o.SinceFrom = v, "--since"; return nil }},
		{Flag: "secrets-extra-rules", Repo: true, Key: "secrets.extra-rules", Bool: true, Default: "true", TaskInput: "secretsExtraRules",
			Usage: "add Tollgate's rules for credential files and Azure credentials to gitleaks' rules",
			Set:   func(v string) error { return setOff(&o.NoExtraRules, v) }},
		{Flag: "secrets-hardcoded", Repo: true, Key: "secrets.hardcoded", Bool: true, Default: "true", TaskInput: "secretsHardcoded",
			Usage: "report hardcoded credentials: passwords and secrets under keys that name them, credential stores, passwords in URIs and connection strings (rules tollgate-hardcoded-*, medium severity)",
			Set:   func(v string) error { return setOff(&o.NoHardcoded, v) }},
		{Flag: "secrets-allow-emulator-keys", Repo: true, Key: "secrets.allow-emulator-keys", Bool: true, Default: "true",
			Usage: "allow the Azurite and Cosmos DB emulators' published keys for every rule (separately from the extra rules)",
			Set:   func(v string) error { return setOff(&o.NoEmulatorAllowlist, v) }},
		{Flag: "secrets-archive-depth", Repo: true, Arg: "N", Key: "secrets.max-archive-depth", Default: "0",
			Usage: "look this many levels into zip/tar archives (0: not at all)",
			Set:   func(v string) error { return scanners.SetCount(&o.MaxArchiveDepth, v) }},
	}
}

// setOff sets a No* option from its setting, which says "on".
func setOff(no *bool, v string) error {
	var on bool
	err := scanners.SetBool(&on, v)
	*no = !on
	return err
}

// FromEnv implements scanners.EnvDefaults: a pull request's base, as the
// CI system names it, when --since does not.
func (o *Options) FromEnv(getenv func(string) string) {
	if o.Since != "" {
		return
	}
	o.Since, o.SinceFrom = scanners.PullRequestTarget(getenv)
}

// PolicyFiles implements scanners.PolicyFiler: the gitleaks config the
// checkout's .tollgate.yaml names.
func (o *Options) PolicyFiles() []string {
	if o.RepoConfig == "" {
		return nil
	}
	return []string{o.RepoConfig}
}
