package scanners

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "50MB": 50e6, "50MiB": 50 << 20, "1.5g": 3 << 29, "512k": 512 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize("-1MB"); err == nil {
		t.Error("negative size accepted")
	}
}
