package secrets_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate/tollgate/cache"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/secrets"
)

// TestWorktreeResultCache: the parity fixtures scanned from a warm cache
// (workers compiling the rules lazily, under -race in CI) give the cold
// scan's findings; a changed rule severity is another scope; a changed
// config is too.
func TestWorktreeResultCache(t *testing.T) {
	store, err := cache.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := &scanners.ResultCache{Store: store, Build: "test"}
	tgt, err := scanners.Walk(context.Background(), "testdata/parity", scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	scan := func(opts secrets.Options) (string, *scanners.CacheStats) {
		t.Helper()
		res, err := secrets.New(opts, slog.New(slog.DiscardHandler)).Scan(context.Background(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		res.Normalize()
		stats := res.Cache
		res.Cache = nil
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), stats
	}
	cold, _ := scan(secrets.Options{})
	first, st := scan(secrets.Options{Cache: rc, Workers: 4})
	if st == nil || st.FromCache != 0 || st.Units == 0 {
		t.Fatalf("first scan: stats %+v, want none of some units from the cache", st)
	}
	warm, st := scan(secrets.Options{Cache: rc, Workers: 4})
	if st.FromCache != st.Units {
		t.Errorf("warm scan: %d of %d units from the cache, want all", st.FromCache, st.Units)
	}
	if first != cold || warm != cold {
		t.Error("a scan with the result cache found other findings than one without")
	}
	if _, st := scan(secrets.Options{Cache: rc, Severity: scanners.SeverityCritical}); st.FromCache != 0 {
		t.Errorf("another severity: %d units from the cache, want none", st.FromCache)
	}
	cfg := filepath.Join(t.TempDir(), "gitleaks.toml")
	if err := os.WriteFile(cfg, []byte("[extend]\nuseDefault = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, st := scan(secrets.Options{Cache: rc, ConfigPath: cfg}); st.FromCache != 0 {
		t.Errorf("another config: %d units from the cache, want none", st.FromCache)
	}
}
