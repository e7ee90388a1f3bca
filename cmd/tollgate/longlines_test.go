//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLongLinesInBoundedMemory: single-line files of 24 MiB (as minified
// bundles and data blobs are), a token every 16 KiB, are read as a stream
// of overlapping fragments: the scan's peak memory stays that of a few
// fragments, not of the files, and every token is reported once, at its
// column. Before, gitleaks' reader cut each line every 100-125 kB: tokens
// across a cut were missed, a column was counted from the fragment's start,
// and findings at the same column of two fragments were taken for one
// (3,056 of 3,070 tokens not reported at their column). The engine's
// memory did not grow with the file before either; this keeps it so.
func TestLongLinesInBoundedMemory(t *testing.T) {
	const (
		files = 2
		size  = 24 << 20
		every = 16 << 10
		limit = 384 << 20 // generous: 230-240 MiB measured; each file held whole (its bytes, gitleaks' copy, the lower-cased copy) would pass it
	)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 39))
	want := map[string]bool{}
	for i := range files {
		name := fmt.Sprintf("b%d.min.js", i)
		body := []byte(strings.Repeat("var a=b+c; ", size/11+1)[:size])
		for off := every - 20; off+40 < size; off += every {
			copy(body[off:], fakeToken(r))
			want[fmt.Sprintf("%s:1:%d", name, off+1)] = true
		}
		must(t, os.WriteFile(filepath.Join(dir, name), body, 0o644))
	}
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "scan", "-q", "--offline", "--no-result-cache", "--scanners", "secrets", "--sarif", sarifPath, dir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	start := time.Now()
	res := runCommand(t, cmd)
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	t.Logf("%d files of %d MiB: exit %d in %s, peak RSS %d MiB", files, size>>20, res.code, time.Since(start).Round(time.Millisecond), peak>>20)
	if res.code != 1 {
		t.Fatalf("exit %d, want 1 (the tokens)\n%s", res.code, tailOf(res.stderr))
	}
	if peak > limit {
		t.Errorf("peak RSS %d MiB, over %d MiB", peak>>20, limit>>20)
	}
	var log sarifLog // read, not validated: 3,000 results take the Multitool half a minute
	must(t, json.Unmarshal(mustRead(t, sarifPath), &log))
	got := map[string]int{}
	for _, run := range log.Runs {
		for _, r := range run.Results {
			loc := r.Locations[0].PhysicalLocation
			got[fmt.Sprintf("%s:%d:%d", loc.ArtifactLocation.URI, loc.Region.StartLine, loc.Region.StartColumn)]++
		}
	}
	missed, twice, extra := 0, 0, 0
	for k := range want {
		switch got[k] {
		case 0:
			missed++
		case 1:
		default:
			twice++
		}
	}
	for k := range got {
		if !want[k] {
			extra++
		}
	}
	if missed+twice+extra > 0 {
		t.Errorf("of %d tokens, %d not reported, %d reported more than once; %d results elsewhere", len(want), missed, twice, extra)
	}
}
