package bench_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/deps"
	"github.com/tollgate/tollgate/scanners/iac"
	"github.com/tollgate/tollgate/scanners/images"
	"github.com/tollgate/tollgate/scanners/secrets"
	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

// depsTree is the generated 2,000-file tree with 50 lockfiles added: the
// fixture checkout's lockfiles (testdata/deps, seven ecosystems) copied
// into 50 service directories, in turn.
func depsTree(tb testing.TB) string {
	tb.Helper()
	dir, _ := genTree(tb, 2000)
	src := filepath.Join(repoRoot(tb), "testdata", "deps")
	var lockfiles []string
	filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) != "package.json" {
			lockfiles = append(lockfiles, p)
		}
		return err
	})
	for i := range 50 {
		from := lockfiles[i%len(lockfiles)]
		b, err := os.ReadFile(from)
		if err != nil {
			tb.Fatal(err)
		}
		to := filepath.Join(dir, "services", fmt.Sprintf("svc%02d", i), filepath.Base(from))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// BenchmarkDeps measures, side by side on one tree (2,000 files, 50
// lockfiles), a secrets+IaC scan and the deps engine's: the deps engine's
// share is deps / (secrets+iac).
func BenchmarkDeps(b *testing.B) {
	dir := depsTree(b)
	cache := b.TempDir()
	if err := vulndbtest.Write(vulndb.Dir(cache), vulndbtest.Default().With(vulndbtest.Dependencies())); err != nil {
		b.Fatal(err)
	}
	t, err := scanners.Walk(context.Background(), dir, scanners.WalkOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	quiet := slog.New(slog.DiscardHandler)
	b.Run("secrets+iac", func(b *testing.B) {
		for range b.N {
			for _, e := range []scanners.Engine{secrets.New(secrets.Options{}, quiet), iac.New(*iac.DefaultOptions(), quiet)} {
				if _, err := e.Scan(context.Background(), t); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("deps", func(b *testing.B) {
		for range b.N {
			res, err := deps.New(deps.Options{DB: images.Options{CacheDir: cache, Offline: true}}, quiet).Scan(context.Background(), t)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Findings) < 50 {
				b.Fatalf("%d findings on 50 vulnerable lockfiles", len(res.Findings))
			}
		}
	})
}
