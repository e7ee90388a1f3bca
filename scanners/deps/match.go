package deps

import (
	"context"
	"fmt"

	"github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/scan"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local"
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"
)

// report is Trivy's report of the checkout's dependencies.
type report = types.Report

// blobID names the one blob of the in-memory artifact.
const blobID = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// memArtifact hands Trivy's scan service the packages the analyzers
// found, as one blob, the way its filesystem artifact would.
type memArtifact struct {
	cache cache.ArtifactCache
	blob  blobResult
}

func (a memArtifact) Inspect(ctx context.Context) (artifact.Reference, error) {
	info := ftypes.BlobInfo{SchemaVersion: ftypes.BlobJSONSchemaVersion, Applications: a.blob.apps}
	if err := a.cache.PutBlob(ctx, blobID, info); err != nil {
		return artifact.Reference{}, err
	}
	return artifact.Reference{Name: ".", Type: ftypes.TypeRepository, ID: blobID, BlobIDs: []string{blobID}}, nil
}

func (memArtifact) Clean(artifact.Reference) error { return nil }

// detect matches the packages with the open DB: Trivy's scan service with
// the options `trivy fs --scanners vuln` uses.
func detect(ctx context.Context, blob blobResult) (report, error) {
	c := cache.NewMemoryCache()
	svc := scan.NewService(local.NewService(applier.NewApplier(c), ospkg.NewScanner(), langpkg.NewScanner(),
		vulnerability.NewClient(db.Config{})), memArtifact{cache: c, blob: blob})
	rep, err := svc.ScanArtifact(ctx, types.ScanOptions{
		PkgTypes:            []string{types.PkgTypeLibrary},
		PkgRelationships:    ftypes.Relationships,
		Scanners:            types.Scanners{types.VulnerabilityScanner},
		VulnSeveritySources: []dbtypes.SourceID{"auto"},
	})
	if err != nil {
		return report{}, fmt.Errorf("matching the dependencies with the vulnerability DB: %w", err)
	}
	return rep, nil
}

// countPackages counts the packages of a report.
func countPackages(r report) int {
	n := 0
	for _, res := range r.Results {
		n += len(res.Packages)
	}
	return n
}
