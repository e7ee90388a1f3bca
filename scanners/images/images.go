// Package images finds vulnerable OS and language packages in container
// images with Trivy's image analysis and vulnerability detection: images the
// pipeline built (docker daemon), images in a registry, `docker save`
// tarballs, OCI layouts, and the images the checkout itself references.
package images

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/tollgate/tollgate/internal/versions"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/imageref"
	"github.com/tollgate/tollgate/vulndb"
)

// TrivyVersion is the Trivy module version Tollgate is built with.
const TrivyVersion = versions.Trivy

// Aliases of imageref's names, for callers of this package.
type (
	// Ref is one image to scan.
	Ref = imageref.Ref
	// Source is where an image is read from.
	Source = imageref.Source
)

// Image sources and package types (see imageref).
const (
	Auto           = imageref.Auto
	Daemon         = imageref.Daemon
	Registry       = imageref.Registry
	DockerArchive  = imageref.DockerArchive
	OCILayout      = imageref.OCILayout
	PkgTypeOS      = imageref.PkgTypeOS
	PkgTypeLibrary = imageref.PkgTypeLibrary
)

// ParseRef reads an --image value (see imageref.ParseRef).
func ParseRef(s string) (Ref, error) { return imageref.ParseRef(s) }

// Options configure the image engine.
type Options struct {
	// Images are --image values (see ParseRef): the pipeline's images.
	Images []string
	// RepoImages are images the checkout's .tollgate.yaml names: pulled like
	// discovered images, failing the engine when they cannot be scanned.
	RepoImages []string
	// DiscoverRegistries are the registry hosts discovered and repository
	// images may be pulled from, beside the hosts of Images; empty: none.
	DiscoverRegistries []string
	// Discover adds the images the checkout references.
	Discover bool
	// CacheDir holds the vulnerability DB (CacheDir/db, Trivy's layout).
	CacheDir string
	// DBRepositories are the DB's OCI repositories, tried in order.
	DBRepositories []string
	// Offline never downloads: a missing DB fails the engine.
	Offline bool
	// SkipDBUpdate uses the DB on disk even when it is due for an update.
	SkipDBUpdate  bool
	IgnoreUnfixed bool
	// PkgTypes limits packages to os and/or library; empty means both.
	PkgTypes []string
	// Username and Password authenticate to the repositories of Images
	// only (host and path), and to the DB repositories named
	// (DBRepositories).
	Username, Password string
	// Insecure allows plain-HTTP and self-signed registries.
	Insecure bool
	// DockerHost is the daemon's address (default: DOCKER_HOST or the local socket).
	DockerHost string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DBDownload tunes downloads (tests set a fast backoff).
	DBDownload vulndb.DownloadOptions
	// Cache keeps each image's report by its ID and the DB (nil: off).
	Cache *scanners.ResultCache
	// SBOMDir, when set, receives a CycloneDX SBOM of each scanned image
	// (see SBOMName); Version is Tollgate's, for the SBOM's tool.
	SBOMDir, Version string
}

// Engine is the image engine.
type Engine struct {
	opts Options
	log  *slog.Logger
}

// New returns the image engine.
func New(opts Options, log *slog.Logger) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Engine{opts: opts, log: log}
}

// Name implements scanners.Engine.
func (s *Engine) Name() string { return scanners.EngineImage }

// Tool implements scanners.Engine.
func (s *Engine) Tool() scanners.Tool { return Tool() }

// Tool describes Trivy's vulnerability scanner for reports.
func Tool() scanners.Tool {
	return scanners.Tool{
		Name:           "trivy-image",
		FullName:       "Trivy container image vulnerability scanner (Tollgate image engine)",
		Version:        TrivyVersion,
		InformationURI: "https://trivy.dev/latest/docs/target/container_image/",
	}
}

// Scan implements scanners.Engine.
func (s *Engine) Scan(ctx context.Context, t *scanners.Target) (res scanners.Result, err error) {
	res = scanners.Result{Engine: scanners.EngineImage, Tool: Tool()}
	defer func() {
		if err == nil {
			res.Status.Finish()
		}
	}()
	if err := imageref.ValidatePkgTypes(s.opts.PkgTypes); err != nil {
		return res, err
	}
	refs, err := s.refs(ctx, t, &res)
	if err != nil {
		return res, err
	}
	if t != nil && t.Shard.Split() {
		refs = slices.DeleteFunc(refs, func(r Ref) bool { return !t.Shard.Owns(r.ShardKey()) })
		if len(refs) == 0 {
			return res, nil // the images are other shards'
		}
	}
	if len(refs) == 0 {
		res.Status.Add(scanners.Notification{Level: scanners.LevelNote, Code: "no-images",
			Message: "no image to scan: give --image, or reference images in a Dockerfile, Kubernetes manifest or Compose file"})
		return res, nil
	}

	if err := checkTempDir(); err != nil {
		return res, err
	}
	meta, err := s.prepareDB(ctx, &res)
	if err != nil {
		return res, err
	}
	res.Tool.Properties = map[string]string{
		"vulnerabilityDB.updatedAt":  meta.UpdatedAt.UTC().Format(time.RFC3339),
		"vulnerabilityDB.nextUpdate": meta.NextUpdate.UTC().Format(time.RFC3339),
	}
	handle, err := vulndb.Open(vulndb.Dir(s.opts.CacheDir))
	if err != nil {
		return res, err
	}
	defer handle.Close()

	// JAR files are matched with Trivy's Java DB, when it is on disk
	// (`tollgate db download` fetches it); a scan never downloads it.
	javaMeta, jerr := vulndb.ReadJavaMetadata(s.opts.CacheDir)
	java := jerr == nil && slices.Contains(s.pkgTypes(), PkgTypeLibrary)
	if java {
		defer vulndb.UseJavaDB(s.opts.CacheDir)()
		res.Tool.Properties["javaDB.updatedAt"] = javaMeta.UpdatedAt.UTC().Format(time.RFC3339)
	} else if slices.Contains(s.pkgTypes(), PkgTypeLibrary) {
		res.Status.Add(scanners.Notification{Level: scanners.LevelNote, Code: "java-db-missing",
			Message: fmt.Sprintf("JAR, WAR and EAR files in the images were not matched: there is no Java DB in %s; `tollgate db download` fetches it beside the vulnerability DB", vulndb.JavaDir(s.opts.CacheDir))})
	}
	scope := dbScope(s.opts, meta)
	if java {
		scope = append(scope, []byte(" java "+javaMeta.UpdatedAt.UTC().Format(time.RFC3339Nano))...)
	}
	units := s.opts.Cache.Units(scanners.EngineImage, scope)
	units.AddUnits(len(refs))
	gauge := t.Meter.Gauge(scanners.EngineImage, "images")
	gauge.SetTotal(len(refs))
	rules := map[string]scanners.Rule{}
	// interrupted keeps the images scanned whole, with their rules (the
	// result fails as incomplete); the unit cache is not rewritten from a
	// partial run.
	interrupted := func() (scanners.Result, error) {
		for _, r := range rules {
			res.Rules = append(res.Rules, r)
		}
		return res, ctx.Err()
	}
	var failed []string
	for _, ref := range refs {
		if ctx.Err() != nil {
			return interrupted()
		}
		report, err := s.scanImage(ctx, ref, units, java)
		gauge.Add(1)
		res.Cache = units.Stats()
		if err != nil {
			if ctx.Err() != nil {
				return interrupted()
			}
			n := scanners.Notification{Level: scanners.LevelError, Code: "image-error",
				Message: fmt.Sprintf("image %s could not be scanned: %v", ref, err)}
			if ref.DaemonOnly {
				n.Level, n.Code = scanners.LevelNote, "image-not-pulled"
				n.Message = fmt.Sprintf("image %s was not scanned: it is not in the local docker daemon, and its registry %s is not one that discovered images are pulled from (allow it with --discover-registry %s)",
					ref.Name, ref.Registry(), ref.Registry())
			}
			if len(ref.Places) > 0 {
				n.Path, n.Line = ref.Places[0].Path, ref.Places[0].StartLine
			}
			if ref.Origin != imageref.Discovered {
				// An image someone asked for is scanned, or the run fails:
				// never a pass with the image unseen.
				failed = append(failed, n.Message)
			}
			res.Status.Add(n)
			continue
		}
		if s.opts.SBOMDir != "" {
			if err := WriteSBOM(ctx, s.opts.SBOMDir, SBOMName(ref.String()), s.opts.Version, report); err != nil {
				res.Status.Add(scanners.Notification{Level: scanners.LevelError, Code: "sbom-error",
					Message: fmt.Sprintf("the SBOM of image %s could not be written: %v", ref, err)})
			}
		}
		for _, f := range convert(ref, report, s.opts.IgnoreUnfixed, rules) {
			res.Findings = append(res.Findings, f)
		}
	}
	units.Close()
	for _, r := range rules {
		res.Rules = append(res.Rules, r)
	}
	if len(failed) > 0 {
		res.Status.State = scanners.Failed
		return res, fmt.Errorf("%d requested image(s) could not be scanned", len(failed))
	}
	return res, nil
}

// checkTempDir fails early, with the remedy, when Trivy could not unpack
// image layers: it needs the temporary directory, which a read-only root
// filesystem (docker run --read-only) leaves unwritable.
func checkTempDir() error {
	dir, err := os.MkdirTemp("", "tollgate-probe-")
	if err != nil {
		return fmt.Errorf("temporary directory %s is not writable, and image layers are unpacked there: run the container with --tmpfs /tmp (needed with --read-only) or set TMPDIR to a writable directory: %w", os.TempDir(), err)
	}
	return os.Remove(dir)
}
