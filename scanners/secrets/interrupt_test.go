package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/secrets"
)

// TestInterruptedScanKeepsWhatItRead: a scan interrupted half-way (the
// pipeline cancels, --timeout) returns the findings of every file it read
// whole, with the interrupt as its error (scanners.Run fails the result as
// incomplete and keeps them); before, it returned none of them.
func TestInterruptedScanKeepsWhatItRead(t *testing.T) {
	const files = 4000
	root := t.TempDir()
	for i := range files {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%50))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// One hardcoded token a file, each another.
		body := fmt.Sprintf("token = \"ghp_%036d\"\n", i*7919+1)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.py", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tgt, err := scanners.Walk(context.Background(), root, scanners.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	tgt.Meter = &scanners.Meter{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const cancelAt = files / 4
	go func() {
		for ctx.Err() == nil {
			for _, r := range tgt.Meter.Read() {
				if r.Engine == scanners.EngineSecrets && r.Done >= cancelAt {
					cancel()
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := secrets.New(secrets.Options{Workers: 1}, slog.New(slog.DiscardHandler)).Scan(ctx, tgt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted scan returned %v, want context.Canceled", err)
	}
	n := 0
	seen := map[string]bool{}
	for _, f := range res.Findings {
		n++
		if seen[f.Location.Path] {
			t.Errorf("%s reported twice", f.Location.Path)
		}
		seen[f.Location.Path] = true
	}
	// One worker: when the gauge counts cancelAt files handed out, at least
	// cancelAt-1 were read whole.
	if n < cancelAt-1 || n >= files {
		t.Errorf("the interrupted scan kept %d of %d secrets, want at least %d and not all", n, files, cancelAt-1)
	}
	if len(res.Rules) == 0 {
		t.Error("the kept findings lost their rules")
	}
	t.Logf("kept %d findings of %d files", n, files)
}
