package images

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"

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
	"github.com/tollgate/tollgate/scanners"
)

// scanImage runs Trivy's image analysis and vulnerability detection.
func (s *Engine) scanImage(ctx context.Context, ref Ref, units *scanners.UnitCache, java bool) (types.Report, error) {
	imgOpt := ftypes.ImageOptions{
		RegistryOptions: ftypes.RegistryOptions{Insecure: s.opts.Insecure},
		DockerOptions:   ftypes.DockerOptions{Host: s.opts.DockerHost},
	}
	if (s.opts.Username != "" || s.opts.Password != "") && slices.Contains(s.credentialScopes(), ref.Repository()) {
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
	rep, err := s.analyze(ctx, img, imgOpt, java)
	if err == nil && keyed {
		if b, merr := json.Marshal(rep); merr == nil {
			units.PutBytes(key, b)
		}
	}
	return rep, err
}

// analyze reads an image's packages and matches them with the DB.
func (s *Engine) analyze(ctx context.Context, img ftypes.Image, imgOpt ftypes.ImageOptions, java bool) (types.Report, error) {
	c := cache.NewMemoryCache()
	art, err := artimage.NewArtifact(img, c, artifact.Option{
		DisabledAnalyzers: s.disabledAnalyzers(java),
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

func (s *Engine) pkgTypes() []string {
	if len(s.opts.PkgTypes) == 0 {
		return []string{types.PkgTypeOS, types.PkgTypeLibrary}
	}
	return s.opts.PkgTypes
}

// disabledAnalyzers mirrors what `trivy image --scanners vuln` turns off;
// JAR analysis is off too unless Trivy's Java DB is on disk (java).
func (s *Engine) disabledAnalyzers(java bool) []analyzer.Type {
	out := slices.Clone(analyzer.TypeLockfiles)
	out = append(out, analyzer.TypeApkCommand, analyzer.TypeSecret, analyzer.TypeLicenseFile,
		analyzer.TypeHistoryDockerfile, analyzer.TypeExecutable, analyzer.TypeRpmArchive)
	if !java {
		out = append(out, analyzer.TypeJar)
	}
	out = append(out, analyzer.TypeConfigFiles...)
	if !slices.Contains(s.pkgTypes(), PkgTypeLibrary) {
		out = append(out, analyzer.TypeLanguages...)
	}
	return out
}
