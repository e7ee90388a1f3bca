package scan

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/report"
)

// TestScansShareOneResultCache runs scans side by side in one process on
// one cache folder (under -race in CI): each writes the log a scan without
// the cache writes. The secrets engine only: Trivy's process-wide logger
// is not safe for two IaC scans starting at once in one process (one
// process runs one scan; cmd/tollgate's test shares a cache between
// processes with both engines).
func TestScansShareOneResultCache(t *testing.T) {
	cacheDir := t.TempDir()
	getenv := func(k string) string {
		if k == "HOME" {
			return cacheDir
		}
		return ""
	}
	sarif := func(args ...string) []byte {
		t.Helper()
		opts, err := config.Parse(context.Background(), Builtin().Infos(), append([]string{"--offline", "--scanners", "secrets", "--cache-dir", cacheDir}, append(args, "../testdata/demo")...), getenv)
		if err != nil {
			t.Error(err)
			return nil
		}
		out, err := Run(context.Background(), slog.New(slog.DiscardHandler), Builtin(), opts, "test", getenv, nil)
		if err != nil {
			t.Error(err)
			return nil
		}
		var b bytes.Buffer
		if err := report.WriteSARIF(&b, out.Scan); err != nil {
			t.Error(err)
		}
		return regexp.MustCompile(`"(start|end)TimeUtc": "[^"]*"|\s*"tollgate/resultCache": \{[^}]*\},`).ReplaceAll(b.Bytes(), nil)
	}
	cold := sarif("--no-result-cache")
	logs := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range logs {
		wg.Go(func() { logs[i] = sarif() })
	}
	wg.Wait()
	for i, l := range logs {
		if !bytes.Equal(l, cold) {
			t.Errorf("scan %d sharing the cache wrote another log than a scan without it", i)
		}
	}
	if again := sarif(); !bytes.Equal(again, cold) {
		t.Error("a warm scan wrote another log than a scan without the cache")
	}
}
