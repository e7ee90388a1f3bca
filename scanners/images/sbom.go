package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/aquasecurity/trivy/pkg/sbom/cyclonedx"
	"github.com/aquasecurity/trivy/pkg/types"
)

// WriteSBOM writes a report's packages as CycloneDX 1.6 JSON, with Trivy's
// marshaler, to dir/name.cdx.json (written whole, then renamed).
func WriteSBOM(ctx context.Context, dir, name, appVersion string, r types.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("SBOM directory: %w", err)
	}
	dst := filepath.Join(dir, name+".cdx.json")
	f, err := os.CreateTemp(dir, "."+name+"-*.tmp")
	if err != nil {
		return fmt.Errorf("SBOM %s: %w", dst, err)
	}
	defer os.Remove(f.Name())
	m := cyclonedx.NewMarshaler(appVersion)
	bom, err := m.MarshalReport(ctx, r)
	if err != nil {
		f.Close()
		return fmt.Errorf("SBOM %s: %w", dst, err)
	}
	enc := cdx.NewBOMEncoder(f, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	// CycloneDX 1.6, what Defender for Cloud, Dependency-Track and GitHub
	// read today (the library's default is the newest, 1.7).
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		f.Close()
		return fmt.Errorf("SBOM %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("SBOM %s: %w", dst, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("SBOM %s: %w", dst, err)
	}
	return nil
}

// unsafeName matches what a file name made from an image reference may
// not hold.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// SBOMName is the file name (without .cdx.json) of an image's SBOM.
func SBOMName(ref string) string {
	n := unsafeName.ReplaceAllString(ref, "_")
	if len(n) > 120 {
		n = n[:120]
	}
	return "image-" + n
}
