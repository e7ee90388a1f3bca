package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
)

// keyHelp names a setting's .tollgate.yaml key for help and the README.
func keyHelp(s scanners.Setting) string {
	if s.Repo {
		return "key " + s.FileKey()
	}
	return "key " + s.FileKey() + " (in a --config file, not the checkout's own)"
}

// settings are Tollgate's own options, bound to o; each engine's come from
// its options value (scanners.EngineOptions), in allSettings.
func (o *Options) settings() []scanners.Setting {
	return []scanners.Setting{
		{Flag: "scanners", TaskInput: "scanners", Repo: true, Arg: "ENGINES", Short: "s", Usage: "engines to run, comma-separated: " + strings.Join(o.Registry.Names(), ", ") + " (default: all that apply)",
			Set: func(v string) error { o.Engines = scanners.SplitList(v); return nil }},
		{Flag: "sarif", Usage: "write the SARIF 2.1.0 log to `FILE`", Path: true, Writes: true,
			Set: func(v string) error { o.SARIF = v; return nil }},
		{Flag: "format", Arg: "FORMAT", Short: "f", Usage: "report format on --output: " + strings.Join(report.FormatNames(), ", "), Default: "table",
			Set: func(v string) error { o.Format = strings.ToLower(v); return nil }},
		{Flag: "output", Short: "o", Usage: "write the report to `FILE` instead of stdout", Path: true, Writes: true,
			Set: func(v string) error { o.Output = v; return nil }},
		{Flag: "fail-on", TaskInput: "failOn", Repo: true, Arg: "SEVERITY", Usage: "fail at or above this severity: critical, high, medium, low, unknown or none; per engine: secrets=low,iac=high (repeatable)", Default: "high",
			Set: func(v string) error { return o.Gate.Thresholds.Set(v) }},
		{Flag: "quiet", Short: "q", Usage: "print only the verdict line (and errors, on stderr; warnings stay in the SARIF log)", Bool: true,
			Set: func(v string) error { return scanners.SetBool(&o.Quiet, v) }},
		{Flag: "debug", Usage: "log what the engines do, on stderr", Bool: true,
			Set: func(v string) error { return scanners.SetBool(&o.Debug, v) }},
		{Flag: "timeout", TaskInput: "timeout", Repo: true, Usage: "stop the scan after this `DURATION` (e.g. 10m; 0: no limit; what the engines finished is kept, exit 3)", Default: DefaultTimeout.String(),
			Set: func(v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("invalid duration %q", v)
				}
				o.Timeout = d
				return nil
			}},
		{Flag: "engine-timeout", Repo: true, Usage: "stop an engine after this `DURATION`: 5m for each, or secrets=2m,iac=5m,image=10m",
			Set: func(v string) error {
				for _, part := range scanners.SplitList(v) {
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
		{Flag: "max-file-size", Repo: true, Usage: "skip (and report) files larger than this `SIZE`", Default: "50MiB",
			Set: func(v string) error {
				n, err := scanners.ParseSize(v)
				o.MaxFileSize = n
				return err
			}},
		{Flag: "max-depth", Repo: true, Arg: "N", Usage: "skip (and report) directories nested deeper than this", Default: strconv.Itoa(scanners.DefaultMaxDepth),
			Set: func(v string) error { return scanners.SetCount(&o.MaxDepth, v) }},
		{Flag: "exclude", Repo: true, Usage: "path `GLOB` (doublestar syntax) no engine reads (repeatable)",
			Set: func(v string) error { return scanners.AddGlobs(&o.Exclude, v) }},
		{Flag: "baseline", TaskInput: "baseline", Repo: true, Usage: "compare with a previous Tollgate SARIF `FILE`: every result gets a baselineState, vanished ones are reported absent", Path: true,
			Set: func(v string) error { o.Baseline = v; return nil },
			// The checkout's own file names a policy file: read from the
			// policy source.
			SetRepo: func(v string, _ func(string)) error { o.RepoBaseline = scanners.SplitList(v)[0]; return nil }},
		{Flag: "unchecked-files", Repo: true, Arg: "MODE", Default: "fail",
			Usage: "in a pull-request build, a file the pull request adds or changes that could not be checked (it does not parse, a chart does not render, too large): fail (a CRITICAL finding of rule tollgate-unchecked-file) or warn (a notification, as elsewhere)",
			Set: func(v string) error {
				switch v = strings.ToLower(strings.TrimSpace(v)); v {
				case "fail", "warn":
					o.UncheckedFiles = v
					return nil
				}
				return fmt.Errorf("%q is not fail or warn", v)
			}},
		{Flag: "new-only", TaskInput: "newOnly", Repo: true, Key: "fail-on-new-only", Usage: "with --baseline, only new findings count for the verdict", Bool: true,
			Set: func(v string) error { return scanners.SetBool(&o.Gate.NewOnly, v) }},
		{Flag: "sarif-category", Repo: true, Arg: "NAME", Key: "category", Usage: "SARIF automationDetails category, for several analyses of one repository",
			Set: func(v string) error { o.Category = v; return nil }},
		{Flag: "cache-dir", Usage: "`DIR` of the vulnerability DB and the result cache (default $XDG_CACHE_HOME/tollgate; Trivy's layout: DIR/db/trivy.db; results: DIR/results)", Path: true, Writes: true,
			Set: func(v string) error { o.CacheDir = v; return nil }},
		{Flag: "shard", Arg: "K/N", Usage: "scan only the K-th of N parts of the units (files, IaC groups, images), for N parallel jobs; with N > 1 the gate and the baseline are applied by tollgate merge over the N logs (1/1 is the whole scan)",
			Set: func(v string) error {
				s, err := scanners.ParseShard(v)
				o.Shard = s
				return err
			}},
		{Flag: "no-result-cache", Usage: "do not reuse or keep results in the result cache (DIR/results of --cache-dir), where files, IaC groups and images already scanned with the same rules are not scanned again", Bool: true,
			Set: func(v string) error { return scanners.SetBool(&o.NoResultCache, v) }},
		{Flag: "result-cache-size", Usage: "bound the result cache to this `SIZE`; the least recently used entries go first", Default: "512MiB",
			Set: func(v string) error {
				n, err := scanners.ParseSize(v)
				o.ResultCacheSize = n
				return err
			}},
		{Flag: "policy-from", TaskInput: "policySource", Usage: "where repository policy (.tollgate.yaml, .gitleaksignore, .gitleaks.toml, .trivyignore, inline suppressions) comes from: auto (the target branch in a pull-request build, else the checkout), checkout, or a git `REF`", Default: PolicyAuto,
			Set: func(v string) error {
				v = strings.TrimSpace(v)
				if err := validPolicyFrom(v); err != nil {
					return err
				}
				o.PolicyFrom = v
				return nil
			}},
		{Flag: "pr-comments", TaskInput: "prComments", Key: "pr.comments", Usage: "in an Azure Repos pull-request build, post the failing findings on lines the pull request changes as review threads, one summary comment and the security/tollgate/gate status (needs SYSTEM_ACCESSTOKEN in the environment)", Bool: true,
			Set: func(v string) error { return scanners.SetBool(&o.PR.Comments, v) }},
		{Flag: "max-pr-comments", TaskInput: "maxPrComments", Arg: "N", Key: "pr.max-comments", Usage: "most review threads Tollgate keeps open on a pull request; the rest are counted in the summary comment", Default: "25",
			Set: func(v string) error { return scanners.SetCount(&o.PR.MaxComments, v) }},
		{Flag: "pr-comments-required", TaskInput: "prCommentsRequired", Key: "pr.comments-required", Usage: "with --pr-comments, end with exit 3 when the pull request cannot be decorated (default: a warning, the verdict stands)", Bool: true,
			Set: func(v string) error { return scanners.SetBool(&o.PR.Required, v) }},
	}
}

// allSettings are Tollgate's settings and then each engine's, in registry
// order, bound to o.
func (o *Options) allSettings() []scanners.Setting {
	all := o.settings()
	for _, e := range o.Registry {
		if eo := o.EngineOptions[e.Name]; eo != nil {
			all = append(all, eo.Bind()...)
		}
	}
	return all
}

// resolvePaths makes every path in a comma list absolute against dir.
func resolvePaths(v, dir string) string {
	parts := scanners.SplitList(v)
	for i, p := range parts {
		if !filepath.IsAbs(p) {
			parts[i] = filepath.Join(dir, p)
		}
	}
	return strings.Join(parts, ",")
}
