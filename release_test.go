package tollgate_test

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/tollgatebin"
)

// The archives a release has, as .goreleaser.yaml builds them and
// task/shim/src/install.js installs them.
var releaseTargets = []struct{ goos, goarch, ext, exe string }{
	{"linux", "amd64", ".tar.gz", "tollgate"},
	{"linux", "arm64", ".tar.gz", "tollgate"},
	{"darwin", "amd64", ".tar.gz", "tollgate"},
	{"darwin", "arm64", ".tar.gz", "tollgate"},
	{"windows", "amd64", ".zip", "tollgate.exe"},
}

// TestReleaseArchives checks GoReleaser's output (dist/: the linux/amd64
// snapshot .ci/run makes, or a release's five archives, which the release
// pipeline checks with this test): the archives and checksums.txt, each binary built as the Dockerfile builds it (static,
// trimmed, RE2 rules, stripped, version stamped) for its OS and
// architecture; the one this machine can run prints its version.
func TestReleaseArchives(t *testing.T) {
	meta, err := os.ReadFile("dist/metadata.json")
	if err != nil {
		t.Fatalf("%v: run goreleaser release --snapshot --clean (bash .ci/run does)", err)
	}
	var m struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(meta, &m); err != nil || m.Version == "" {
		t.Fatalf("dist/metadata.json: no version (%v)", err)
	}
	sums := map[string]string{}
	f, err := os.Open("dist/checksums.txt")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 {
			sums[fields[1]] = fields[0]
		}
	}
	f.Close()
	var targets []struct{ goos, goarch, ext, exe string }
	for _, tg := range releaseTargets {
		ok, err := tollgatebin.Released(tg.goos, tg.goarch)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			targets = append(targets, tg)
		}
	}
	if len(sums) != 2*len(targets) {
		t.Errorf("checksums.txt lists %d files, want %d (an archive and its SBOM per target, %s=%q): %v",
			len(sums), 2*len(targets), tollgatebin.TargetsEnv, os.Getenv(tollgatebin.TargetsEnv), sums)
	}
	for _, tg := range targets {
		name := fmt.Sprintf("tollgate_%s_%s_%s%s", m.Version, tg.goos, tg.goarch, tg.ext)
		t.Run(tg.goos+"/"+tg.goarch, func(t *testing.T) {
			archive := filepath.Join("dist", name)
			raw, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(raw)
			if got := hex.EncodeToString(sum[:]); sums[name] != got {
				t.Errorf("checksums.txt has %q for %s, the archive is %s", sums[name], name, got)
			}
			checkSBOM(t, filepath.Join("dist", fmt.Sprintf("tollgate_%s_%s_%s.cdx.json", m.Version, tg.goos, tg.goarch)), sums)
			bin := filepath.Join(t.TempDir(), tg.exe)
			files := extract(t, archive, tg.ext, tg.exe, bin)
			for _, want := range []string{tg.exe, "LICENSE", "README.md"} {
				if !files[want] {
					t.Errorf("%s lacks %s: %v", name, want, files)
				}
			}
			out, err := exec.Command("go", "version", "-m", bin).Output()
			if err != nil {
				t.Fatalf("go version -m %s: %v", name, err)
			}
			info := string(out)
			for _, want := range []string{
				"\tbuild\tGOOS=" + tg.goos + "\n",
				"\tbuild\tGOARCH=" + tg.goarch + "\n",
				"\tbuild\tCGO_ENABLED=0\n",
				"\tbuild\t-tags=gore2regex\n",
				"\tbuild\t-trimpath=true\n",
				"\tbuild\tGOEXPERIMENT=jsonv2\n",
				"\tpath\tgithub.com/tollgate/tollgate/cmd/tollgate\n",
			} {
				if !strings.Contains(info, want) {
					t.Errorf("%s: build info lacks %q:\n%s", name, want, info)
				}
			}
			// -trimpath keeps -ldflags out of the build info: read their effect.
			checkStripped(t, bin, tg.goos)
			if raw, err := os.ReadFile(bin); err != nil || !bytes.Contains(raw, []byte(m.Version)) {
				t.Errorf("%s: the version %s is not stamped in the binary (%v)", name, m.Version, err)
			}
			if tg.goos == runtime.GOOS && tg.goarch == runtime.GOARCH {
				if err := os.Chmod(bin, 0o755); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(bin, "version").Output()
				if err != nil {
					t.Fatalf("%s version: %v", name, err)
				}
				if first, _, _ := strings.Cut(string(out), "\n"); first != "tollgate "+m.Version {
					t.Errorf("%s version: %q, want %q", name, first, "tollgate "+m.Version)
				}
			}
		})
	}
}

// extract writes the archive's binary to dst and returns the names of the
// files the archive holds.
func extract(t *testing.T, archive, ext, exe, dst string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	write := func(r io.Reader) {
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if _, err := io.Copy(out, r); err != nil {
			t.Fatal(err)
		}
	}
	if ext == ".zip" {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			files[f.Name] = true
			if f.Name == exe {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				write(rc)
				rc.Close()
			}
		}
		return files
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = true
		if h.Name == exe {
			write(tr)
		}
	}
	return files
}

// checkSBOM reads a target's CycloneDX SBOM: listed in checksums.txt, about
// the tollgate binary of the right version, naming the engines' modules.
func checkSBOM(t *testing.T, path string, sums map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); sums[filepath.Base(path)] != got {
		t.Errorf("checksums.txt has %q for %s, the file is %s", sums[filepath.Base(path)], filepath.Base(path), got)
	}
	var bom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct {
				Name string `json:"name"`
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	names := map[string]string{}
	for _, c := range bom.Components {
		names[c.Name] = c.Version
	}
	if bom.BOMFormat != "CycloneDX" || !strings.HasSuffix(bom.Metadata.Component.Name, "tollgate/tollgate") ||
		names["github.com/aquasecurity/trivy"] == "" || names["github.com/zricethezav/gitleaks/v8"] == "" {
		t.Errorf("%s: format %q, component %q, %d components (trivy %q, gitleaks %q)", path, bom.BOMFormat,
			bom.Metadata.Component.Name, len(bom.Components), names["github.com/aquasecurity/trivy"], names["github.com/zricethezav/gitleaks/v8"])
	}
}

// checkStripped asserts -s -w: no symbol table and no DWARF, in the
// binary's own format.
func checkStripped(t *testing.T, bin, goos string) {
	t.Helper()
	var symbols int
	var dwarfErr error
	switch goos {
	case "linux":
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		syms, _ := f.Symbols()
		symbols = len(syms)
		_, dwarfErr = f.DWARF()
	case "darwin":
		f, err := macho.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Symtab != nil {
			for _, s := range f.Symtab.Syms {
				if s.Sect != 0 { // defined here; -s keeps only the imports from libSystem
					symbols++
				}
			}
		}
		_, dwarfErr = f.DWARF()
	case "windows":
		f, err := pe.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		symbols = len(f.Symbols)
		_, dwarfErr = f.DWARF()
	}
	if symbols != 0 || dwarfErr == nil {
		t.Errorf("%s (%s) is not stripped: %d symbols, DWARF readable: %v", bin, goos, symbols, dwarfErr == nil)
	}
}
