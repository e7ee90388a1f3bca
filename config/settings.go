package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/iactype"
	"github.com/tollgate/tollgate/scanners/imageref"
)

// setting is one option, readable from a flag, an environment variable and
// a key of .tollgate.yaml, all as the same string syntax.
type setting struct {
	flag  string // flag name; env var is TOLLGATE_<FLAG> in upper snake case
	short string
	// arg names the value in help, when the usage text does not (`FILE`).
	arg    string
	key    string // .tollgate.yaml key path; "" means flag name
	usage  string
	def    string
	isBool bool
	// path marks values that are file paths, resolved against the config
	// file's directory when they come from the file.
	path bool
	// repo marks the settings that repository policy (the checkout's own
	// .tollgate.yaml) may set: what to scan and how strictly. Every other
	// setting reaches out of the checkout (the network, the machine, the
	// files the reports go to, code to run) and is the pipeline author's
	// alone; in the checkout's file it is ignored with a warning.
	repo bool
	set  func(o *Options, v string) error
}

// Env returns the environment variable name of a setting.
func (s setting) Env() string {
	return "TOLLGATE_" + strings.ToUpper(strings.ReplaceAll(s.flag, "-", "_"))
}

// keyHelp names the setting's .tollgate.yaml key for help and the README.
func (s setting) keyHelp() string {
	if s.repo {
		return "key " + s.fileKey()
	}
	return "key " + s.fileKey() + " (in a --config file, not the checkout's own)"
}

func (s setting) fileKey() string {
	if s.key != "" {
		return s.key
	}
	return s.flag
}

// settings lists every option of `tollgate scan`.
var settings = []setting{
	{flag: "scanners", repo: true, arg: "ENGINES", short: "s", usage: "engines to run, comma-separated: secrets, iac, image (default: all that apply)",
		set: func(o *Options, v string) error { o.Engines = splitList(v); return nil }},
	{flag: "sarif", usage: "write the SARIF 2.1.0 log to `FILE`", path: true,
		set: func(o *Options, v string) error { o.SARIF = v; return nil }},
	{flag: "format", arg: "FORMAT", short: "f", usage: "report format on --output: " + strings.Join(report.FormatNames(), ", "), def: "table",
		set: func(o *Options, v string) error { o.Format = strings.ToLower(v); return nil }},
	{flag: "output", short: "o", usage: "write the report to `FILE` instead of stdout", path: true,
		set: func(o *Options, v string) error { o.Output = v; return nil }},
	{flag: "fail-on", repo: true, arg: "SEVERITY", usage: "fail at or above this severity: critical, high, medium, low, unknown or none; per engine: secrets=low,iac=high (repeatable)", def: "high",
		set: func(o *Options, v string) error { return o.Gate.Thresholds.Set(v) }},
	{flag: "quiet", short: "q", usage: "print only the verdict line", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.Quiet, v) }},
	{flag: "debug", usage: "log what the engines do, on stderr", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.Debug, v) }},
	{flag: "timeout", repo: true, usage: "stop the scan after this `DURATION` (e.g. 10m; 0: no limit)", def: "0",
		set: func(o *Options, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("invalid duration %q", v)
			}
			o.Timeout = d
			return nil
		}},
	{flag: "engine-timeout", repo: true, usage: "stop an engine after this `DURATION`: 5m for each, or secrets=2m,iac=5m,image=10m",
		set: func(o *Options, v string) error {
			for _, part := range splitList(v) {
				engine, d, found := strings.Cut(part, "=")
				if !found {
					engine, d = "", part
				}
				engine = strings.ToLower(strings.TrimSpace(engine))
				dur, err := time.ParseDuration(strings.TrimSpace(d))
				if err != nil {
					return fmt.Errorf("invalid duration %q", d)
				}
				if o.EngineTimeouts == nil {
					o.EngineTimeouts = map[string]time.Duration{}
				}
				o.EngineTimeouts[engine] = dur
			}
			return nil
		}},
	{flag: "max-file-size", repo: true, usage: "skip (and report) files larger than this `SIZE`", def: "50MiB",
		set: func(o *Options, v string) error {
			n, err := ParseSize(v)
			o.MaxFileSize = n
			return err
		}},
	{flag: "max-depth", repo: true, arg: "N", usage: "skip (and report) directories nested deeper than this", def: strconv.Itoa(scanners.DefaultMaxDepth),
		set: func(o *Options, v string) error { return setInt(&o.MaxDepth, v) }},
	{flag: "exclude", repo: true, usage: "path `GLOB` (doublestar syntax) no engine reads (repeatable)",
		set: func(o *Options, v string) error { o.Exclude = append(o.Exclude, splitList(v)...); return nil }},
	{flag: "baseline", repo: true, usage: "compare with a previous Tollgate SARIF `FILE`: every result gets a baselineState, vanished ones are reported absent", path: true,
		set: func(o *Options, v string) error { o.Baseline = v; return nil }},
	{flag: "new-only", repo: true, key: "fail-on-new-only", usage: "with --baseline, only new findings count for the verdict", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.Gate.NewOnly, v) }},
	{flag: "sarif-category", repo: true, arg: "NAME", key: "category", usage: "SARIF automationDetails category, for several analyses of one repository",
		set: func(o *Options, v string) error { o.Category = v; return nil }},

	{flag: "secrets-config", repo: true, key: "secrets.config", usage: "gitleaks config `FILE` (default: .gitleaks.toml at the root, else gitleaks' rules)", path: true,
		set: func(o *Options, v string) error { o.Secrets.Config = v; return nil }},
	{flag: "secrets-severity", repo: true, arg: "SEVERITY", key: "secrets.severity", usage: "severity of a secret finding", def: "high",
		set: func(o *Options, v string) error {
			s, err := scanners.ParseSeverity(v)
			o.Secrets.Severity = s
			return err
		}},
	{flag: "secrets-exclude", repo: true, key: "secrets.exclude", usage: "path `GLOB` the secrets engine skips (repeatable)",
		set: func(o *Options, v string) error {
			o.Secrets.Exclude = append(o.Secrets.Exclude, splitList(v)...)
			return nil
		}},
	{flag: "secrets-mode", repo: true, arg: "MODE", key: "secrets.mode", usage: "what the secrets engine reads: worktree (the files), commits (the commits a pull request adds) or history (every commit)", def: "worktree",
		set: func(o *Options, v string) error {
			o.Secrets.Mode = strings.ToLower(strings.TrimSpace(v))
			switch o.Secrets.Mode {
			case "worktree", "commits", "history":
				return nil
			}
			return fmt.Errorf("unknown secrets mode %q (want worktree, commits or history)", v)
		}},
	{flag: "since", repo: true, key: "secrets.since", usage: "base `REF` of --secrets-mode commits (default: the pull request's target branch, from SYSTEM_PULLREQUEST_TARGETBRANCH or GITHUB_BASE_REF)",
		set: func(o *Options, v string) error { o.Secrets.Since, o.Secrets.SinceFrom = v, "--since"; return nil }},
	{flag: "secrets-extra-rules", repo: true, key: "secrets.extra-rules", usage: "add Tollgate's rules for credential files and Azure credentials to gitleaks' rules", isBool: true, def: "true",
		set: func(o *Options, v string) error {
			var on bool
			err := setBool(&on, v)
			o.Secrets.NoExtraRules = !on
			return err
		}},
	{flag: "secrets-hardcoded", repo: true, key: "secrets.hardcoded", usage: "report hardcoded credentials: passwords and secrets under keys that name them, credential stores, passwords in URIs and connection strings (rules tollgate-hardcoded-*, medium severity)", isBool: true, def: "true",
		set: func(o *Options, v string) error {
			var on bool
			err := setBool(&on, v)
			o.Secrets.NoHardcoded = !on
			return err
		}},
	{flag: "secrets-allow-emulator-keys", repo: true, key: "secrets.allow-emulator-keys", usage: "allow the Azurite and Cosmos DB emulators' published keys for every rule (separately from the extra rules)", isBool: true, def: "true",
		set: func(o *Options, v string) error {
			var on bool
			err := setBool(&on, v)
			o.Secrets.NoEmulatorAllowlist = !on
			return err
		}},
	{flag: "secrets-archive-depth", repo: true, arg: "N", key: "secrets.max-archive-depth", usage: "look this many levels into zip/tar archives (0: not at all)", def: "0",
		set: func(o *Options, v string) error { return setInt(&o.Secrets.MaxArchiveDepth, v) }},

	{flag: "iac-file-types", repo: true, arg: "TYPES", key: "iac.file-types", usage: "IaC types to check (default all): " + strings.Join(iactype.Names, ", "),
		set: func(o *Options, v string) error {
			o.IaC.FileTypes = splitList(v)
			return iactype.Validate(o.IaC.FileTypes)
		}},
	{flag: "iac-exclude", repo: true, key: "iac.exclude", usage: "path `GLOB` the IaC engine skips (repeatable)",
		set: func(o *Options, v string) error { o.IaC.Exclude = append(o.IaC.Exclude, splitList(v)...); return nil }},
	{flag: "download-tf-modules", key: "iac.download-modules", usage: "let Terraform fetch remote module sources (off: a pull request must not make the scanner fetch URLs)", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.IaC.DownloadModules, v) }},
	{flag: "iac-checks", key: "iac.checks", usage: "extra Rego check `PATH`s (repeatable)", path: true,
		set: func(o *Options, v string) error {
			o.IaC.CheckPaths = append(o.IaC.CheckPaths, splitList(v)...)
			return nil
		}},
	{flag: "iac-namespaces", arg: "NAMESPACE", key: "iac.namespaces", usage: "Rego namespaces of the extra checks (repeatable)",
		set: func(o *Options, v string) error {
			o.IaC.Namespaces = append(o.IaC.Namespaces, splitList(v)...)
			return nil
		}},
	{flag: "tf-vars", repo: true, key: "iac.tf-vars", usage: "Terraform .tfvars `FILE`s (repeatable)", path: true,
		set: func(o *Options, v string) error { o.IaC.TFVars = append(o.IaC.TFVars, splitList(v)...); return nil }},
	{flag: "helm-values", repo: true, key: "iac.helm-values", usage: "Helm values `FILE`s (repeatable)", path: true,
		set: func(o *Options, v string) error {
			o.IaC.HelmValues = append(o.IaC.HelmValues, splitList(v)...)
			return nil
		}},
	{flag: "image", repo: true, arg: "REF", key: "image.images", usage: "image to scan (repeatable): NAME (daemon, then registry), docker:NAME, registry:REF, docker-archive:PATH, oci-layout:PATH",
		set: func(o *Options, v string) error {
			for _, ref := range splitList(v) {
				if _, err := imageref.ParseRef(ref); err != nil {
					return err
				}
				o.Image.Images = append(o.Image.Images, ref)
			}
			return nil
		}},
	{flag: "discover-images", repo: true, key: "image.discover", usage: "also scan the images the checkout references (Dockerfile FROM, Kubernetes and Compose image:)", isBool: true, def: "true",
		set: func(o *Options, v string) error { return setBool(&o.Image.Discover, v) }},
	{flag: "ignore-unfixed", repo: true, key: "image.ignore-unfixed", usage: "report only vulnerabilities that have a fixed version", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.Image.IgnoreUnfixed, v) }},
	{flag: "pkg-types", repo: true, arg: "TYPES", key: "image.pkg-types", usage: "package types to check: os, library (default both)",
		set: func(o *Options, v string) error {
			o.Image.PkgTypes = splitList(v)
			return imageref.ValidatePkgTypes(o.Image.PkgTypes)
		}},
	{flag: "cache-dir", usage: "`DIR` of the vulnerability DB and the result cache (default $XDG_CACHE_HOME/tollgate; Trivy's layout: DIR/db/trivy.db; results: DIR/results)", path: true,
		set: func(o *Options, v string) error { o.Image.CacheDir = v; return nil }},
	{flag: "shard", arg: "K/N", usage: "scan only the K-th of N parts of the units (files, IaC groups, images), for N parallel jobs; the gate and the baseline are applied by `tollgate merge` over the N logs",
		set: func(o *Options, v string) error {
			s, err := scanners.ParseShard(v)
			o.Shard = s
			return err
		}},
	{flag: "no-result-cache", usage: "do not reuse or keep results in the result cache (DIR/results of --cache-dir), where files, IaC groups and images already scanned with the same rules are not scanned again", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.NoResultCache, v) }},
	{flag: "result-cache-size", usage: "bound the result cache to this `SIZE`; the least recently used entries go first", def: "512MiB",
		set: func(o *Options, v string) error {
			n, err := ParseSize(v)
			o.ResultCacheSize = n
			return err
		}},
	{flag: "offline", usage: "never download the vulnerability DB; a missing DB fails the image engine (exit 3)", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.Image.Offline, v) }},
	{flag: "skip-db-update", key: "image.skip-db-update", usage: "use the DB on disk even when an update is due", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.Image.SkipDBUpdate, v) }},
	{flag: "db-repository", key: "image.db-repositories", usage: "OCI `REF` of the vulnerability DB, tried in order (repeatable; default Trivy's mirror.gcr.io, then ghcr.io)",
		set: func(o *Options, v string) error {
			o.Image.DBRepositories = append(o.Image.DBRepositories, splitList(v)...)
			return nil
		}},
	{flag: "registry-username", arg: "USER", key: "image.registry-username", usage: "registry user (the password comes from TOLLGATE_REGISTRY_PASSWORD; else the docker config is used)",
		set: func(o *Options, v string) error { o.Image.Username = v; return nil }},
	{flag: "insecure-registry", key: "image.insecure-registry", usage: "allow registries over plain HTTP or with untrusted certificates", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.Image.Insecure, v) }},
	{flag: "docker-host", arg: "ADDRESS", key: "image.docker-host", usage: "docker daemon address (default DOCKER_HOST or the local socket)",
		set: func(o *Options, v string) error { o.Image.DockerHost = v; return nil }},
	{flag: "policy-from", usage: "where repository policy (.tollgate.yaml, .gitleaksignore, .gitleaks.toml, .trivyignore, inline suppressions) comes from: auto (the target branch in a pull-request build, else the checkout), checkout, or a git `REF`", def: PolicyAuto,
		set: func(o *Options, v string) error {
			v = strings.TrimSpace(v)
			if err := validPolicyFrom(v); err != nil {
				return err
			}
			o.PolicyFrom = v
			return nil
		}},
	{flag: "discover-registry", key: "image.discover-registries", usage: "registry `HOST` that discovered images may be pulled from (repeatable; default: " + strings.Join(DefaultDiscoverRegistries(), ", ") + ", and the hosts of --image)",
		set: func(o *Options, v string) error {
			for _, h := range splitList(v) {
				o.Image.DiscoverRegistries = append(o.Image.DiscoverRegistries, strings.ToLower(h))
			}
			return nil
		}},
	{flag: "pr-comments", key: "pr.comments", usage: "in an Azure Repos pull-request build, post the failing findings on lines the pull request changes as review threads, one summary comment and the security/tollgate/gate status (needs SYSTEM_ACCESSTOKEN in the environment)", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.PR.Comments, v) }},
	{flag: "max-pr-comments", arg: "N", key: "pr.max-comments", usage: "most review threads Tollgate keeps open on a pull request; the rest are counted in the summary comment", def: "25",
		set: func(o *Options, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return fmt.Errorf("invalid number %q", v)
			}
			o.PR.MaxComments = n
			return nil
		}},
	{flag: "pr-comments-required", key: "pr.comments-required", usage: "with --pr-comments, end with exit 3 when the pull request cannot be decorated (default: a warning, the verdict stands)", isBool: true,
		set: func(o *Options, v string) error { return setBool(&o.PR.Required, v) }},
	{flag: "cf-params", repo: true, key: "iac.cf-params", usage: "CloudFormation parameter `FILE`s (repeatable)", path: true,
		set: func(o *Options, v string) error { o.IaC.CFParams = append(o.IaC.CFParams, splitList(v)...); return nil }},
}

// resolvePaths makes every path in a comma list absolute against dir.
func resolvePaths(v, dir string) string {
	parts := splitList(v)
	for i, p := range parts {
		if !filepath.IsAbs(p) {
			parts[i] = filepath.Join(dir, p)
		}
	}
	return strings.Join(parts, ",")
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("invalid boolean %q", v)
	}
	*dst = b
	return nil
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return fmt.Errorf("invalid number %q", v)
	}
	*dst = n
	return nil
}
