package deps

import "github.com/tollgate/tollgate/scanners"

// DefaultOptions are the deps engine's options before any setting.
func DefaultOptions() *Options { return &Options{} }

// Bind implements scanners.EngineOptions: the deps engine's flags,
// .tollgate.yaml keys (the deps section) and task inputs. The DB settings
// are the image engine's (--offline, --db-repository, --skip-db-update,
// --ignore-unfixed): both engines match against one DB.
func (o *Options) Bind() []scanners.Setting {
	return []scanners.Setting{
		{Flag: "deps-fail-on", Repo: true, Arg: "WHICH", Key: "deps.fail-on", TaskInput: "depsFailOn",
			Usage: "in a pull-request build, which dependency vulnerabilities count: introduced (default: those of packages the pull request adds or changes) or all",
			Set: func(v string) error {
				f, err := ParseFailOn(v)
				o.FailOn = f
				return err
			}},
		{Flag: "sbom", Arg: "DIR", Path: true, Writes: true, TaskInput: "sbom",
			Usage: "write CycloneDX 1.6 SBOMs to DIR: dependencies.cdx.json for the checkout's lockfiles, one per scanned image",
			Set:   func(v string) error { o.SBOMDir = v; return nil }},
	}
}
