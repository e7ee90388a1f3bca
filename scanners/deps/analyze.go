package deps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/mapfs"
	xio "github.com/aquasecurity/trivy/pkg/x/io"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	// Trivy's language analyzers register themselves.
	_ "github.com/aquasecurity/trivy/pkg/fanal/analyzer/all"

	"github.com/tollgate/tollgate/scanners"
)

// maxManifest bounds one lockfile or manifest (Trivy's parsers hold a file
// in memory; the largest real lockfiles are a few tens of MB).
const maxManifest = 64 << 20

// disabled are the analyzers the deps engine leaves off: what `trivy repo`
// leaves off (OS packages, installed packages and binaries, SBOM files),
// the scanners that are not vulnerability scanning, and the analyzers
// that read the machine by a path the checkout chooses (conda's
// environment.yml names a prefix directory to read licences from).
func disabled() []analyzer.Type {
	out := slices.Concat(analyzer.TypeOSes, analyzer.TypeIndividualPkgs, analyzer.TypeConfigFiles)
	return append(out, analyzer.TypeSBOM, analyzer.TypeSecret, analyzer.TypeLicenseFile, analyzer.TypeApkCommand,
		analyzer.TypeExecutable, analyzer.TypeRpmArchive, analyzer.TypeRedHatContentManifestType, analyzer.TypeRedHatDockerfileType,
		analyzer.TypeCondaEnv)
}

// analysis is one run of Trivy's language analyzers.
type analysis struct {
	group analyzer.AnalyzerGroup
}

func newAnalysis() (*analysis, error) {
	g, err := analyzer.NewAnalyzerGroup(analyzer.AnalyzerOptions{
		Group:             analyzer.GroupBuiltin,
		Parallel:          runtime.GOMAXPROCS(0),
		DisabledAnalyzers: disabled(),
	})
	if err != nil {
		return nil, fmt.Errorf("trivy's analyzers: %w", err)
	}
	return &analysis{group: g}, nil
}

// fileSet is what the analyzers want of a tree.
type fileSet struct {
	// manifests are the files an analyzer parses for packages.
	manifests []string
	// all are those and the files post-analysis pairs them with
	// (package.json beside package-lock.json, go.sum beside go.mod).
	all []string
}

// info is the file information the analyzers see: a regular file's name
// and size.
type info struct {
	name string
	size int64
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) Mode() fs.FileMode  { return 0o644 }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return false }
func (i info) Sys() any           { return nil }

// selectFiles lists the files of the walk that an analyzer takes, without
// reading any: the analyzers decide by name (and size).
func (a *analysis) selectFiles(ctx context.Context, t *scanners.Target) fileSet {
	var set fileSet
	for _, f := range t.Files {
		if t.Shard.Split() && !t.Shard.Owns(path.Dir(f.Path)) {
			continue // another shard's directory
		}
		fi := info{name: path.Base(f.Path), size: f.Size}
		plain := a.wants(ctx, f.Path, fi)
		post := a.group.RequiredPostAnalyzers(f.Path, fi)
		if plain || len(post) > 0 {
			set.all = append(set.all, f.Path)
			if plain || isPostManifest(f.Path) {
				set.manifests = append(set.manifests, f.Path)
			}
		}
	}
	return set
}

// wants reports whether a plain (per-file) analyzer takes the file: the
// group is asked with an opener that only records the question.
func (a *analysis) wants(ctx context.Context, p string, fi info) bool {
	asked := false
	opener := func() (xio.ReadSeekCloserAt, error) {
		asked = true
		return nil, errSelectOnly
	}
	var eg errgroup.Group
	_ = a.group.AnalyzeFile(ctx, &eg, semaphore.NewWeighted(1), analyzer.NewAnalysisResult(), "", p, fi, opener, nil, analyzer.AnalysisOptions{Offline: true})
	_ = eg.Wait()
	return asked
}

var errSelectOnly = errors.New("selection only")

// isPostManifest reports whether a file a post-analyzer takes holds
// packages itself (a lockfile), not only what pairs with one.
func isPostManifest(p string) bool {
	switch path.Base(p) {
	case ftypes.NpmPkgLock, ftypes.YarnLock, ftypes.PnpmLock, ftypes.BunLock, ftypes.PoetryLock, ftypes.UvLock,
		ftypes.PipfileLock, ftypes.CargoLock, ftypes.ComposerLock, ftypes.GoMod, ftypes.NuGetPkgsLock, ftypes.NuGetPkgsConfig,
		ftypes.GemfileLock, ftypes.MixLock, ftypes.PubSpecLock, ftypes.SwiftResolved, ftypes.CocoaPodsLock, ftypes.PyLockFile:
		return true
	}
	return path.Ext(p) == ".lockfile" || strings.HasSuffix(p, ".deps.json")
}

// readFiles reads the files through read (the confined reader of the
// checkout, or the target commit's tree); a file that cannot be read is a
// notification naming it and the cause.
func readFiles(ctx context.Context, paths []string, read func(string, int64) ([]byte, error)) (map[string][]byte, []scanners.Notification) {
	out := make(map[string][]byte, len(paths))
	var notes []scanners.Notification
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		b, err := read(p, maxManifest)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			notes = append(notes, scanners.Notification{Level: scanners.LevelWarning, Code: "file-skipped", Path: p,
				Message: fmt.Sprintf("%s was not checked for vulnerable dependencies: %v", p, err)})
			continue
		}
		out[p] = b
	}
	return out, notes
}

// blobResult is what the analyzers found: the applications (one per
// lockfile) and their packages.
type blobResult struct {
	apps []ftypes.Application
}

// analyze runs the analyzers over an in-memory copy of the files. A file an
// analyzer cannot parse is a notification naming it; the others' packages
// are kept.
func (a *analysis) analyze(ctx context.Context, contents map[string][]byte) (blobResult, []scanners.Notification, error) {
	paths := sortedKeys(contents)
	dir, cleanup, err := privatePOMs(contents)
	if err != nil {
		return blobResult{}, nil, err
	}
	defer cleanup()

	result, err := a.run(ctx, dir, paths, contents)
	var notes []scanners.Notification
	if err != nil {
		if ctx.Err() != nil {
			return blobResult{}, nil, ctx.Err()
		}
		// Post-analysis stops at the first file it cannot parse: analyse
		// each file alone, so that one bad lockfile costs only its own
		// packages, and name it.
		result = analyzer.NewAnalysisResult()
		for _, group := range byDirectory(paths) {
			sub := make(map[string][]byte, len(group))
			for _, p := range group {
				sub[p] = contents[p]
			}
			r, err := a.run(ctx, dir, group, sub)
			if err == nil {
				result.Merge(r)
				continue
			}
			if ctx.Err() != nil {
				return blobResult{}, nil, ctx.Err()
			}
			// Alone, file by file, to find the one that fails.
			for _, p := range group {
				r, err := a.run(ctx, dir, []string{p}, map[string][]byte{p: contents[p]})
				if err != nil {
					notes = append(notes, scanners.Notification{Level: scanners.LevelError, Code: "parse-error", Path: p,
						Message: fmt.Sprintf("%s could not be read as a lockfile: %v", p, err)})
					continue
				}
				result.Merge(r)
			}
		}
	}
	result.Sort()
	// Lockfiles that yield no application: an analyzer took them and
	// logged why it found nothing (an empty lockfile, or one it could not
	// parse).
	have := map[string]bool{}
	for _, app := range result.Applications {
		have[app.FilePath] = true
	}
	for _, p := range paths {
		if !have[p] && isPostManifest(p) && len(bytes.TrimSpace(contents[p])) > 0 && !slices.ContainsFunc(notes, func(n scanners.Notification) bool { return n.Path == p }) {
			a.probe(ctx, p, contents[p], &notes)
		}
	}
	return blobResult{apps: result.Applications}, notes, nil
}

// probe names a lockfile that gave no packages, when a parser says why.
func (a *analysis) probe(ctx context.Context, p string, b []byte, notes *[]scanners.Notification) {
	if err := parseCheck(ctx, p, b); err != nil {
		*notes = append(*notes, scanners.Notification{Level: scanners.LevelError, Code: "parse-error", Path: p,
			Message: fmt.Sprintf("%s could not be read as a lockfile: %v", p, err)})
	}
}

// run is one pass of the analyzers and post-analyzers over paths.
func (a *analysis) run(ctx context.Context, dir string, paths []string, contents map[string][]byte) (*analyzer.AnalysisResult, error) {
	result := analyzer.NewAnalysisResult()
	composite, err := a.group.PostAnalyzerFS()
	if err != nil {
		return nil, fmt.Errorf("post-analysis filesystem: %w", err)
	}
	defer composite.Cleanup()
	eg, egCtx := errgroup.WithContext(ctx)
	limit := semaphore.NewWeighted(int64(runtime.GOMAXPROCS(0)))
	opts := analyzer.AnalysisOptions{Offline: true}
	var mu sync.Mutex
	for _, p := range paths {
		b := contents[p]
		fi := info{name: path.Base(p), size: int64(len(b))}
		opener := func() (xio.ReadSeekCloserAt, error) { return nopCloser{bytes.NewReader(b)}, nil }
		if err := a.group.AnalyzeFile(egCtx, eg, limit, result, dir, p, fi, opener, nil, opts); err != nil {
			break
		}
		types := a.group.RequiredPostAnalyzers(p, fi)
		if len(types) == 0 {
			continue
		}
		mu.Lock()
		for _, t := range types {
			mfs, ok := composite.Get(t)
			if !ok {
				mfs = mapfs.New()
				composite.Set(t, mfs)
			}
			if d := path.Dir(p); d != "." {
				if err := mfs.MkdirAll(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
					mu.Unlock()
					return nil, fmt.Errorf("%s: %w", p, err)
				}
			}
			if err := mfs.WriteVirtualFile(p, b, 0o600); err != nil {
				mu.Unlock()
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		mu.Unlock()
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	if err := a.group.PostAnalyze(ctx, composite, result, opts); err != nil {
		return nil, err
	}
	return result, nil
}

// byDirectory groups paths by their directory, the unit post-analysis
// pairs files in (a lockfile and its manifest).
func byDirectory(paths []string) [][]string {
	idx := map[string]int{}
	var out [][]string
	for _, p := range paths {
		d := path.Dir(p)
		i, ok := idx[d]
		if !ok {
			i = len(out)
			idx[d] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// privatePOMs writes the pom.xml files (guardPOMs kept) to a private
// directory, the only place Trivy's Maven parser reads parent and module
// POMs from by path: a relative path that climbs out of the tree finds
// nothing of the checkout's, and never the checkout itself. "" when there
// is none.
func privatePOMs(contents map[string][]byte) (string, func(), error) {
	var poms []string
	for p := range contents {
		if path.Base(p) == ftypes.MavenPom {
			poms = append(poms, p)
		}
	}
	if len(poms) == 0 {
		return "", func() {}, nil
	}
	top, err := os.MkdirTemp("", "tollgate-pom-")
	if err != nil {
		return "", nil, fmt.Errorf("a private directory for pom.xml files: %w", err)
	}
	root := filepath.Join(top, "root")
	for _, p := range poms {
		dst := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			os.RemoveAll(top)
			return "", nil, fmt.Errorf("a private directory for pom.xml files: %w", err)
		}
		if err := os.WriteFile(dst, contents[p], 0o600); err != nil {
			os.RemoveAll(top)
			return "", nil, fmt.Errorf("a private directory for pom.xml files: %w", err)
		}
	}
	return root, func() { os.RemoveAll(top) }, nil
}
