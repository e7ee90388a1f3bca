// Package imagetest crafts small container images for tests and benchmarks:
// real OS release files and package databases (apk, dpkg) and a Python
// package, at versions the vulndbtest fixture DB knows to be vulnerable.
// Images are built in memory with go-containerregistry; nothing is pulled.
package imagetest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Package is an installed OS package.
type Package struct {
	Name, Version string
	// Source is the source package (dpkg "Source:", apk origin); empty means Name.
	Source string
}

// AlpinePackages are installed in Alpine(): openssl, musl and busybox are
// vulnerable in the fixture DB, zlib is not.
var AlpinePackages = []Package{
	{Name: "musl", Version: "1.2.4-r1"},
	{Name: "busybox", Version: "1.36.1-r2"},
	{Name: "openssl", Version: "3.1.2-r0"},
	{Name: "libssl3", Version: "3.1.2-r0", Source: "openssl"},
	{Name: "zlib", Version: "1.3-r2"},
	{Name: "ca-certificates-bundle", Version: "20230506-r0", Source: "ca-certificates"},
}

// DebianPackages are installed in Debian(): libssl3 (openssl) and zlib1g
// (zlib) are vulnerable in the fixture DB.
var DebianPackages = []Package{
	{Name: "libc6", Version: "2.36-9+deb12u3", Source: "glibc"},
	{Name: "libssl3", Version: "3.0.11-1~deb12u1", Source: "openssl"},
	{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Source: "zlib"},
	{Name: "base-files", Version: "12.4+deb12u2"},
}

// Alpine is an Alpine 3.18 image with AlpinePackages and the Python package
// requests 2.19.0.
func Alpine() (v1.Image, error) { return AlpineWith(AlpinePackages) }

// AlpineWith is an Alpine 3.18 image with the given packages.
func AlpineWith(pkgs []Package) (v1.Image, error) {
	files := map[string]string{
		"etc/alpine-release":   "3.18.4\n",
		"etc/os-release":       "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME=\"Alpine Linux v3.18\"\n",
		"lib/apk/db/installed": apkDB(pkgs),
		"usr/lib/python3.11/site-packages/requests-2.19.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\nSummary: Python HTTP for Humans.\nLicense: Apache 2.0\n",
		"usr/lib/python3.11/site-packages/requests/__init__.py":               "__version__ = '2.19.0'\n",
	}
	return build(files)
}

// JAR is a Java archive with a manifest only (no pom.properties, no
// version in the file name's stead), so that only its SHA-1 can name it:
// the Java DB's job.
func JAR() ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "META-INF/MANIFEST.MF", Method: zip.Store, Modified: time.Date(2021, 12, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(w, "Manifest-Version: 1.0\r\nCreated-By: fixture\r\n\r\n"); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AlpineWithJAR is Alpine() with JAR() at opt/app/lib/core.jar.
func AlpineWithJAR() (v1.Image, error) {
	jar, err := JAR()
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"etc/alpine-release":   "3.18.4\n",
		"etc/os-release":       "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME=\"Alpine Linux v3.18\"\n",
		"lib/apk/db/installed": apkDB(AlpinePackages),
		"opt/app/lib/core.jar": string(jar),
	}
	return build(files)
}

// ManyAlpinePackages returns n distinct packages (for benchmarks), with the
// fixture's vulnerable ones first.
func ManyAlpinePackages(n int) []Package {
	pkgs := append([]Package(nil), AlpinePackages...)
	for i := len(pkgs); i < n; i++ {
		pkgs = append(pkgs, Package{Name: fmt.Sprintf("fixture-lib%03d", i), Version: fmt.Sprintf("1.%d.0-r0", i%17)})
	}
	return pkgs[:max(n, 0)]
}

// Debian is a Debian 12 image with DebianPackages.
func Debian() (v1.Image, error) {
	return build(map[string]string{
		"etc/debian_version":   "12.4\n",
		"etc/os-release":       "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
		"var/lib/dpkg/status":  dpkgStatus(DebianPackages),
		"usr/share/doc/README": "fixture image\n",
	})
}

func apkDB(pkgs []Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		origin := p.Source
		if origin == "" {
			origin = p.Name
		}
		fmt.Fprintf(&b, "P:%s\nV:%s\nA:x86_64\nS:1024\nI:4096\nT:%s (fixture)\nU:https://example.test/\nL:MIT\no:%s\nF:usr/share/%s\nR:README\n\n",
			p.Name, p.Version, p.Name, origin, p.Name)
	}
	return b.String()
}

func dpkgStatus(pkgs []Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 100\nMaintainer: Fixture <fixture@example.test>\nArchitecture: amd64\n", p.Name)
		if p.Source != "" {
			fmt.Fprintf(&b, "Source: %s\n", p.Source)
		}
		fmt.Fprintf(&b, "Version: %s\nDescription: %s (fixture)\n\n", p.Version, p.Name)
	}
	return b.String()
}

// build makes a one-layer linux/amd64 image of the files.
func build(files map[string]string) (v1.Image, error) {
	data, err := tarOf(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Cmd = []string{"/bin/sh"}
	return mutate.ConfigFile(img, cfg)
}

func tarOf(files map[string]string) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, n := range names {
		parts := strings.Split(n, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
					return nil, err
				}
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteDockerArchive writes img as `docker save` does, tagged ref.
func WriteDockerArchive(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(path, tag, img)
}

// WriteOCILayout writes img as an OCI image layout directory.
func WriteOCILayout(dir string, img v1.Image) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img)
}
