// Package images finds vulnerable OS and language packages in container
// images with Trivy's image analysis and vulnerability detection: images the
// pipeline built (docker daemon), images in a registry, `docker save`
// tarballs, OCI layouts, and the images the checkout itself references.
package images

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	artimage "github.com/aquasecurity/trivy/pkg/fanal/artifact/image"
	"github.com/aquasecurity/trivy/pkg/fanal/image"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/scan"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local"
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"

	tgcache "github.com/tollgate/tollgate/cache"
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
	// Username and Password authenticate to the registry hosts of Images
	// only (and to a DB repository on one of those hosts).
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
}

// Scanner is the image engine.
type Scanner struct {
	opts Options
	log  *slog.Logger
}

// New returns the image engine.
func New(opts Options, log *slog.Logger) *Scanner {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Scanner{opts: opts, log: log}
}

// Name implements scanners.Scanner.
func (s *Scanner) Name() string { return scanners.EngineImage }

// Tool implements scanners.Scanner.
func (s *Scanner) Tool() scanners.Tool { return Tool() }

// Tool describes Trivy's vulnerability scanner for reports.
func Tool() scanners.Tool {
	return scanners.Tool{
		Name:           "trivy-image",
		FullName:       "Trivy container image vulnerability scanner (Tollgate image engine)",
		Version:        TrivyVersion,
		InformationURI: "https://trivy.dev/latest/docs/target/container_image/",
	}
}

// Scan implements scanners.Scanner.
func (s *Scanner) Scan(ctx context.Context, t *scanners.Target) (res scanners.Result, err error) {
	res = scanners.Result{Scanner: scanners.EngineImage, Tool: Tool()}
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

	units := s.opts.Cache.Units(scanners.EngineImage, dbScope(s.opts, meta))
	units.AddUnits(len(refs))
	defer units.Close()
	gauge := t.Meter.Gauge(scanners.EngineImage, "images")
	gauge.SetTotal(len(refs))
	rules := map[string]scanners.Rule{}
	var failed []string
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		report, err := s.scanImage(ctx, ref, units)
		gauge.Add(1)
		res.Cache = units.Stats()
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
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
		for _, f := range convert(ref, report, s.opts.IgnoreUnfixed, rules) {
			res.Findings = append(res.Findings, f)
		}
	}
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

// refs merges the --image values with the discovered references.
func (s *Scanner) refs(ctx context.Context, t *scanners.Target, res *scanners.Result) ([]Ref, error) {
	var refs []Ref
	seen := map[string]int{}
	add := func(r Ref) {
		key := r.String()
		if i, ok := seen[key]; ok {
			refs[i].Places = append(refs[i].Places, r.Places...)
			return
		}
		seen[key] = len(refs)
		refs = append(refs, r)
	}
	for _, v := range s.opts.Images {
		r, err := ParseRef(v)
		if err != nil {
			return nil, err
		}
		if (r.Source == DockerArchive || r.Source == OCILayout) && !filepath.IsAbs(r.Name) {
			if abs, err := filepath.Abs(r.Name); err == nil {
				r.Name = abs
			}
		}
		r.Origin = imageref.Pipeline
		add(r)
	}
	allowed := s.allowedRegistries()
	untrusted := func(r Ref) (Ref, bool) {
		if r.Source == DockerArchive || r.Source == OCILayout {
			return r, false // never from the checkout's files
		}
		if host := r.Registry(); !slices.Contains(allowed, host) {
			r.Source, r.DaemonOnly = Daemon, true
		}
		return r, true
	}
	for _, v := range s.opts.RepoImages {
		r, err := ParseRef(v)
		if err != nil {
			return nil, err
		}
		r.Origin = imageref.Repository
		if r, ok := untrusted(r); ok {
			add(r)
		}
	}
	if s.opts.Discover && t != nil {
		found, notes := Discover(ctx, t)
		for _, n := range notes {
			res.Status.Add(n)
		}
		for _, f := range found {
			if r, ok := untrusted(Ref{Source: Auto, Name: f.Image, Places: []scanners.Location{f.Location}}); ok {
				add(r)
			}
		}
	}
	return refs, nil
}

// allowedRegistries are the hosts discovered and repository images may be
// pulled from: DiscoverRegistries and the pipeline images' hosts.
func (s *Scanner) allowedRegistries() []string {
	var out []string
	for _, h := range s.opts.DiscoverRegistries {
		out = append(out, imageref.NormalizeHost(h))
	}
	return append(out, s.credentialHosts()...)
}

// credentialHosts are the registry hosts of the pipeline's images: the only
// hosts the registry credentials are sent to.
func (s *Scanner) credentialHosts() []string {
	var out []string
	for _, v := range s.opts.Images {
		if r, err := ParseRef(v); err == nil {
			if h := r.Registry(); h != "" && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// dbScope digests what an image's report depends on besides the image:
// Trivy's version, the DB (its metadata, and its file's size and time,
// which change with every download), and the package types.
func dbScope(o Options, meta vulndb.Metadata) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "trivy %s pkg-types %q\n", TrivyVersion, o.PkgTypes)
	// The metadata as prepareDB read it, not a second read of the file.
	if b, err := json.Marshal(meta); err == nil {
		h.Write(b)
	}
	if fi, err := os.Stat(vulndb.Path(vulndb.Dir(o.CacheDir))); err == nil {
		fmt.Fprintf(h, "db %d %d\n", fi.Size(), fi.ModTime().UnixNano())
	}
	return h.Sum(nil)
}

// prepareDB makes sure a usable DB is on disk: downloads it when missing or
// due (unless offline), and reports its age.
func (s *Scanner) prepareDB(ctx context.Context, res *scanners.Result) (vulndb.Metadata, error) {
	dbDir := vulndb.Dir(s.opts.CacheDir)
	now := s.opts.Now()
	meta, err := vulndb.ReadMetadata(dbDir)
	missing := errors.Is(err, vulndb.ErrMissing)
	switch {
	case err != nil && !missing:
		if s.opts.Offline {
			return meta, fmt.Errorf("%w (and --offline forbids downloading a new one)", err)
		}
	case missing && s.opts.Offline:
		return meta, fmt.Errorf("no vulnerability DB in %s and --offline forbids downloading it: run `tollgate db download --cache-dir %s` first, or use an image with the DB baked in", dbDir, s.opts.CacheDir)
	case err == nil && (s.opts.Offline || s.opts.SkipDBUpdate || !meta.NeedsUpdate(now)):
		s.warnAge(meta, now, res)
		return meta, nil
	}
	dl := s.opts.DBDownload
	if len(s.opts.DBRepositories) > 0 {
		dl.Repositories = s.opts.DBRepositories
	}
	if dl.Username == "" && dl.Password == "" && (s.opts.Username != "" || s.opts.Password != "") {
		// The registry credentials go to a DB repository only on a host they
		// were given for (an --image's registry).
		hosts := s.credentialHosts()
		dl.SendCredentials = func(h string) bool { return slices.Contains(hosts, imageref.NormalizeHost(h)) }
		dl.Username, dl.Password = s.opts.Username, s.opts.Password
	}
	dl.Log, dl.Now = s.log, s.opts.Now
	fresh, derr := vulndb.Download(ctx, s.opts.CacheDir, dl)
	if derr == nil {
		return fresh, nil
	}
	if err == nil {
		// Keep scanning with the DB we have; say why it is old.
		res.Status.Add(scanners.Notification{Level: scanners.LevelWarning, Code: "db-update-failed",
			Message: fmt.Sprintf("could not update the vulnerability DB, scanning with the one on disk: %v", derr)})
		s.warnAge(meta, now, res)
		return meta, nil
	}
	return meta, derr
}

func (s *Scanner) warnAge(meta vulndb.Metadata, now time.Time, res *scanners.Result) {
	age := meta.Age(now)
	s.log.Info("vulnerability DB", "updated", meta.UpdatedAt.Format(time.RFC3339), "age", age.Round(time.Hour).String())
	if age > vulndb.StaleAfter {
		res.Status.Add(scanners.Notification{Level: scanners.LevelWarning, Code: "db-stale",
			Message: fmt.Sprintf("the vulnerability DB is %d days old (updated %s): newer vulnerabilities are missed; run `tollgate db download`",
				int(age.Hours()/24), meta.UpdatedAt.Format("2006-01-02"))})
	}
}

// scanImage runs Trivy's image analysis and vulnerability detection.
func (s *Scanner) scanImage(ctx context.Context, ref Ref, units *scanners.UnitCache) (types.Report, error) {
	imgOpt := ftypes.ImageOptions{
		RegistryOptions: ftypes.RegistryOptions{Insecure: s.opts.Insecure},
		DockerOptions:   ftypes.DockerOptions{Host: s.opts.DockerHost},
	}
	if (s.opts.Username != "" || s.opts.Password != "") && slices.Contains(s.credentialHosts(), ref.Registry()) {
		imgOpt.RegistryOptions.Credentials = []ftypes.Credential{{Username: s.opts.Username, Password: s.opts.Password}}
	}
	var (
		img     ftypes.Image
		cleanup = func() {}
		err     error
	)
	switch ref.Source {
	case DockerArchive, OCILayout:
		img, err = image.NewArchiveImage(ref.Name)
	case Daemon:
		imgOpt.ImageSources = ftypes.ImageSources{ftypes.DockerImageSource}
		img, cleanup, err = image.NewContainerImage(ctx, ref.Name, imgOpt)
	case Registry:
		imgOpt.ImageSources = ftypes.ImageSources{ftypes.RemoteImageSource}
		img, cleanup, err = image.NewContainerImage(ctx, ref.Name, imgOpt)
	default:
		imgOpt.ImageSources = ftypes.ImageSources{ftypes.DockerImageSource, ftypes.RemoteImageSource}
		img, cleanup, err = image.NewContainerImage(ctx, ref.Name, imgOpt)
	}
	if err != nil {
		return types.Report{}, err
	}
	defer cleanup()

	// An image is a unit: its ID (the digest of its configuration, which
	// names its layers) under the reference it was asked for.
	var key tgcache.Key
	keyed := false
	if id, err := img.ID(); err == nil && id != "" && units != nil {
		key, keyed = units.Key([]byte(ref.String()), []byte(id)), true
		if b, ok := units.GetBytes(key); ok {
			var rep types.Report
			if err := json.Unmarshal(b, &rep); err == nil {
				return rep, nil
			}
		}
	}
	rep, err := s.analyze(ctx, img, imgOpt)
	if err == nil && keyed {
		if b, merr := json.Marshal(rep); merr == nil {
			units.PutBytes(key, b)
		}
	}
	return rep, err
}

// analyze reads an image's packages and matches them with the DB.
func (s *Scanner) analyze(ctx context.Context, img ftypes.Image, imgOpt ftypes.ImageOptions) (types.Report, error) {
	c := cache.NewMemoryCache()
	art, err := artimage.NewArtifact(img, c, artifact.Option{
		DisabledAnalyzers: s.disabledAnalyzers(),
		Parallel:          runtime.GOMAXPROCS(0),
		NoProgress:        true,
		ImageOption:       imgOpt,
	})
	if err != nil {
		return types.Report{}, err
	}
	svc := scan.NewService(local.NewService(applier.NewApplier(c), ospkg.NewScanner(), langpkg.NewScanner(),
		vulnerability.NewClient(db.Config{})), art)
	return svc.ScanArtifact(ctx, types.ScanOptions{
		PkgTypes:         s.pkgTypes(),
		PkgRelationships: ftypes.Relationships,
		Scanners:         types.Scanners{types.VulnerabilityScanner},
		// Trivy's default: the vendor's severity where it has one, else NVD's.
		VulnSeveritySources: []dbtypes.SourceID{"auto"},
	})
}

func (s *Scanner) pkgTypes() []string {
	if len(s.opts.PkgTypes) == 0 {
		return []string{types.PkgTypeOS, types.PkgTypeLibrary}
	}
	return s.opts.PkgTypes
}

// disabledAnalyzers mirrors what `trivy image --scanners vuln` turns off;
// JAR analysis is off too, as it needs Trivy's separate Java DB.
func (s *Scanner) disabledAnalyzers() []analyzer.Type {
	out := slices.Clone(analyzer.TypeLockfiles)
	out = append(out, analyzer.TypeApkCommand, analyzer.TypeSecret, analyzer.TypeLicenseFile,
		analyzer.TypeHistoryDockerfile, analyzer.TypeExecutable, analyzer.TypeRpmArchive, analyzer.TypeJar)
	out = append(out, analyzer.TypeConfigFiles...)
	if !slices.Contains(s.pkgTypes(), PkgTypeLibrary) {
		out = append(out, analyzer.TypeLanguages...)
	}
	return out
}

// normalizeSeverity maps Trivy's severity names.
func normalizeSeverity(s string) scanners.Severity {
	sev, err := scanners.ParseSeverity(strings.ToUpper(s))
	if err != nil {
		return scanners.SeverityUnknown
	}
	return sev
}
