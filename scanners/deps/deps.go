// Package deps finds vulnerable packages pinned by the checkout's own
// lockfiles and manifests (npm, yarn, pnpm, pip, Pipenv, Poetry, uv,
// Bundler, Cargo, Composer, NuGet, Go modules, Gradle, Conan, Swift, Dart,
// Elixir, ...) with Trivy's language analyzers and the vulnerability DB the
// image engine uses. In a pull-request build it tells the vulnerabilities a
// pull request introduces from those already on its target branch.
//
// Files are read through the confined reader of the walk, never by path:
// Trivy's analyzers see an in-memory copy of the lockfiles (and the files
// their post-analysis pairs them with), so nothing in the checkout can make
// them read outside it.
package deps

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/versions"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
	"github.com/tollgate/tollgate/scanners/images"
	"github.com/tollgate/tollgate/vulndb"
)

// Fail-on settings: which vulnerabilities of a pull-request build count.
const (
	// FailOnIntroduced counts the vulnerabilities of packages the pull
	// request adds or changes; the others are reported as pre-existing.
	FailOnIntroduced = "introduced"
	// FailOnAll counts every vulnerability, as outside pull requests.
	FailOnAll = "all"
)

// Options configure the deps engine.
type Options struct {
	// DB holds the image engine's settings of the vulnerability DB (cache
	// directory, repositories, offline, credentials) and its
	// IgnoreUnfixed: both engines match packages against one DB.
	DB images.Options
	// FailOn is FailOnIntroduced or FailOnAll ("": FailOnIntroduced).
	FailOn string
	// Base reads the pull request's target commit, to tell what it
	// introduces (nil: not a pull-request build, or no comparison).
	Base checkout.Files
	// BaseMissing, in a pull-request build whose target cannot be read,
	// says why: every vulnerability then counts as introduced.
	BaseMissing string
	// SBOMDir, when set, receives a CycloneDX SBOM of the checkout's
	// dependencies (dependencies.cdx.json).
	SBOMDir string
	// Version is Tollgate's version, for the SBOM's tool.
	Version string
	// Exclude are the engine's own exclusions (deps.exclude).
	Exclude []string
}

// Engine is the deps engine.
type Engine struct {
	opts Options
	log  *slog.Logger
}

// New returns the deps engine.
func New(opts Options, log *slog.Logger) *Engine {
	if opts.DB.Now == nil {
		opts.DB.Now = time.Now
	}
	if opts.FailOn == "" {
		opts.FailOn = FailOnIntroduced
	}
	return &Engine{opts: opts, log: log}
}

// Name implements scanners.Engine.
func (s *Engine) Name() string { return scanners.EngineDeps }

// Tool implements scanners.Engine.
func (s *Engine) Tool() scanners.Tool { return Tool() }

// Tool describes Trivy's dependency scanning for reports.
func Tool() scanners.Tool {
	return scanners.Tool{
		Name:           "trivy-deps",
		FullName:       "Trivy dependency vulnerability scanner (Tollgate deps engine)",
		Version:        versions.Trivy,
		InformationURI: "https://trivy.dev/latest/docs/coverage/language/",
	}
}

// Scan implements scanners.Engine.
func (s *Engine) Scan(ctx context.Context, t *scanners.Target) (res scanners.Result, err error) {
	res = scanners.Result{Engine: scanners.EngineDeps, Tool: Tool()}
	defer func() {
		if err == nil {
			res.Status.Finish()
		}
	}()
	if s.opts.FailOn != FailOnIntroduced && s.opts.FailOn != FailOnAll {
		return res, fmt.Errorf("deps.fail-on %q: want %s or %s", s.opts.FailOn, FailOnIntroduced, FailOnAll)
	}
	if len(s.opts.DB.PkgTypes) > 0 && !slices.Contains(s.opts.DB.PkgTypes, images.PkgTypeLibrary) {
		res.Status.Add(scanners.Notification{Level: scanners.LevelNote, Code: "pkg-types",
			Message: "--pkg-types leaves out library packages: the checkout's dependencies were not checked"})
		return res, nil
	}
	head, err := newAnalysis()
	if err != nil {
		return res, err
	}
	files := head.selectFiles(ctx, t)
	if n := archivesNote(t); n != nil {
		res.Status.Add(*n)
	}
	if len(files.manifests) == 0 {
		res.Status.Add(scanners.Notification{Level: scanners.LevelNote, Code: "no-lockfiles",
			Message: "no lockfile or dependency manifest in the scan root: no dependency was checked"})
		return res, nil
	}
	contents, skipped := readFiles(ctx, files.all, func(p string, limit int64) ([]byte, error) { return t.Checkout().ReadFile(p, limit) })
	for _, n := range skipped {
		res.Status.Add(n)
	}
	for _, n := range guardPOMs(contents) {
		res.Status.Add(n)
	}
	headApps, notes, err := head.analyze(ctx, contents)
	if err != nil {
		return res, err
	}
	for _, n := range notes {
		res.Status.Add(n)
	}

	meta, err := images.PrepareDB(ctx, s.opts.DB, s.log, &res)
	if err != nil {
		return res, err
	}
	res.Tool.Properties = map[string]string{
		"vulnerabilityDB.updatedAt":  meta.UpdatedAt.UTC().Format(time.RFC3339),
		"vulnerabilityDB.nextUpdate": meta.NextUpdate.UTC().Format(time.RFC3339),
	}
	report, err := s.match(ctx, headApps)
	if err != nil {
		return res, err
	}

	var base *pins
	switch {
	case s.opts.Base != nil:
		b, notes := s.basePins(ctx, files.all)
		for _, n := range notes {
			res.Status.Add(n)
		}
		base = b
	case s.opts.BaseMissing != "":
		res.Status.Add(scanners.Notification{Level: scanners.LevelWarning, Code: "deps-no-target",
			Message: "the pull request's target branch could not be read (" + s.opts.BaseMissing + "): every dependency vulnerability counts as introduced"})
	}

	rules := map[string]scanners.Rule{}
	res.Findings = convert(report, contents, s.opts.DB.IgnoreUnfixed, base, s.opts.FailOn, rules)
	for _, id := range sortedKeys(rules) {
		res.Rules = append(res.Rules, rules[id])
	}
	if s.opts.SBOMDir != "" {
		if err := images.WriteSBOM(ctx, s.opts.SBOMDir, "dependencies", s.opts.Version, report); err != nil {
			res.Status.Add(scanners.Notification{Level: scanners.LevelError, Code: "sbom-error",
				Message: fmt.Sprintf("the SBOM of the checkout's dependencies could not be written: %v", err)})
		}
	}
	s.log.Debug("deps", "manifests", len(files.manifests), "packages", countPackages(report), "findings", len(res.Findings))
	return res, nil
}

// basePins reads the same files on the pull request's target commit and
// lists the packages they pin there.
func (s *Engine) basePins(ctx context.Context, paths []string) (*pins, []scanners.Notification) {
	contents, _ := readFiles(ctx, paths, s.opts.Base.ReadFile)
	guardPOMs(contents)
	a, err := newAnalysis()
	if err != nil {
		return nil, []scanners.Notification{{Level: scanners.LevelWarning, Code: "deps-no-target",
			Message: fmt.Sprintf("the packages of %s could not be read (%v): every dependency vulnerability counts as introduced", s.opts.Base.Origin(), err)}}
	}
	apps, _, err := a.analyze(ctx, contents)
	if err != nil {
		return nil, []scanners.Notification{{Level: scanners.LevelWarning, Code: "deps-no-target",
			Message: fmt.Sprintf("the packages of %s could not be read (%v): every dependency vulnerability counts as introduced", s.opts.Base.Origin(), err)}}
	}
	return pinsOf(apps), nil
}

// match matches the packages with the DB, as `trivy fs --scanners vuln`.
func (s *Engine) match(ctx context.Context, blob blobResult) (report, error) {
	handle, err := vulndb.Open(vulndb.Dir(s.opts.DB.CacheDir))
	if err != nil {
		return report{}, err
	}
	defer handle.Close()
	return detect(ctx, blob)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ParseFailOn checks a deps.fail-on value.
func ParseFailOn(v string) (string, error) {
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case FailOnIntroduced, FailOnAll:
		return v, nil
	}
	return "", fmt.Errorf("%q: want %s or %s", v, FailOnIntroduced, FailOnAll)
}

// archivesNote names the Java archives of the checkout, which are not
// checked: like `trivy fs`, the deps engine reads what lockfiles and
// manifests pin; JARs are matched in images (the image engine, with
// Trivy's Java DB).
func archivesNote(t *scanners.Target) *scanners.Notification {
	var jars []string
	for _, f := range t.Files {
		switch strings.ToLower(path.Ext(f.Path)) {
		case ".jar", ".war", ".ear", ".par":
			if !t.Shard.Split() || t.Shard.Owns(path.Dir(f.Path)) {
				jars = append(jars, f.Path)
			}
		}
	}
	if len(jars) == 0 {
		return nil
	}
	shown := jars
	if len(shown) > 10 {
		shown = shown[:10]
	}
	msg := fmt.Sprintf("%d Java archive(s) were not checked for vulnerable dependencies (Trivy matches Java archives in images, with its Java DB, not in a checkout): %s", len(jars), strings.Join(shown, ", "))
	if len(jars) > len(shown) {
		msg += fmt.Sprintf(" and %d more", len(jars)-len(shown))
	}
	return &scanners.Notification{Level: scanners.LevelNote, Code: "jar-not-checked", Path: jars[0], Message: msg}
}
