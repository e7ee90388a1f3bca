package deps

import (
	"context"

	"github.com/tollgate/tollgate/scanners"
)

// Packages lists, per lockfile, the packages the analyzers read, as
// name@version, development dependencies left out as the vulnerability
// matching leaves them out (for the parity test with the Trivy CLI).
func Packages(ctx context.Context, t *scanners.Target) (map[string][]string, error) {
	a, err := newAnalysis()
	if err != nil {
		return nil, err
	}
	files := a.selectFiles(ctx, t)
	contents, _ := readFiles(ctx, files.all, func(p string, limit int64) ([]byte, error) { return t.Checkout().ReadFile(p, limit) })
	guardPOMs(contents)
	blob, _, err := a.analyze(ctx, contents)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, app := range blob.apps {
		for _, p := range app.Packages {
			if p.Dev {
				continue // Trivy's default: development dependencies are not matched
			}
			out[app.FilePath] = append(out[app.FilePath], p.Name+"@"+p.Version)
		}
	}
	return out, nil
}
