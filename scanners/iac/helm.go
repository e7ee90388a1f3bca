package iac

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"

	helmparser "github.com/aquasecurity/trivy/pkg/iac/scanners/helm/parser"
	"github.com/aquasecurity/trivy/pkg/mapfs"

	tg "github.com/tollgate/tollgate/scanners"
)

// renderableCharts renders each chart the way Trivy's Helm scanner will
// and leaves out the ones that fail, with a notification naming the chart
// and the cause: Trivy itself only logs "Skipping chart". Only a cancelled
// context is an error.
func (s *Engine) renderableCharts(ctx context.Context, in *inputs, fsys fs.FS, paths []string, res *tg.Result) ([]string, error) {
	charts := helmCharts(paths)
	failed := map[string]bool{}
	for _, dir := range slices.Sorted(maps.Keys(charts)) {
		if tg.UnderDir(dir, charts) {
			continue // a subchart renders with its parent
		}
		p, err := helmparser.New(helmparser.OptionWithValuesFile(in.helmValues...))
		if err == nil {
			_, err = p.ParseFS(ctx, fsys, dir)
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		failed[dir] = true
		res.Status.Add(tg.Notification{Level: tg.LevelWarning, Code: "helm-render", Path: path.Join(dir, "Chart.yaml"),
			Message: fmt.Sprintf("Helm chart %s could not be rendered, so its checks did not run: %v", dir, err)})
	}
	if len(failed) == 0 {
		return paths, nil
	}
	kept := paths[:0:0]
	for _, p := range paths {
		if !tg.UnderDir(p, failed) {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// valueFilesFS serves the value files Tollgate read (readInputs) under
// the names they were given, the way Trivy's misconf package serves files
// it reads itself; it returns the names in the order given (later files
// override earlier ones).
func valueFilesFS(files valueFiles) (fs.FS, []string, error) {
	mfs := mapfs.New()
	names := files.names
	for _, p := range names {
		if err := mfs.MkdirAll(filepath.Dir(p), 0o700); err != nil && !isExist(err) {
			return nil, nil, fmt.Errorf("value file %s: %w", p, err)
		}
		if err := mfs.WriteVirtualFile(p, files.content[p], 0o600); err != nil {
			return nil, nil, fmt.Errorf("value file %s: %w", p, err)
		}
	}
	return mfs, names, nil
}

func isExist(err error) bool { return errors.Is(err, fs.ErrExist) }
