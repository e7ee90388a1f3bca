// Package vulndbtest builds small vulnerability databases in trivy-db's
// schema for tests and benchmarks, and packages them as the OCI artifact a
// registry serves, so that no test downloads the real DB.
package vulndbtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/types"
	javadb "github.com/aquasecurity/trivy-java-db/pkg/db"
	javatypes "github.com/aquasecurity/trivy-java-db/pkg/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	bolt "go.etcd.io/bbolt"

	"github.com/tollgate/tollgate/vulndb"
)

// Advisory says which versions of a package a vulnerability affects, in one
// data source bucket (e.g. "alpine 3.18", "debian 12", "pip::GitHub Security Advisory pip").
type Advisory struct {
	Bucket  string
	Package string
	VulnID  string
	// Fixed is the fixed version of an OS package; empty with Affected true
	// means no fix exists yet.
	Fixed    string
	Affected bool
	// Vulnerable and Patched are version ranges of a language package.
	Vulnerable, Patched []string
}

// Vuln is the detail of a vulnerability.
type Vuln struct {
	ID          string
	Title       string
	Description string
	Severity    string
	CVSSScore   float64
	CVSSVector  string
	References  []string
}

// Content is a fixture DB's content.
type Content struct {
	Advisories []Advisory
	Vulns      []Vuln
	// UpdatedAt is the DB's build time; zero means now.
	UpdatedAt time.Time
}

// Known fixture vulnerabilities (fake IDs in the CVE shape, to be obviously
// fixture data).
const (
	AlpineOpenSSL  = "CVE-2099-0001" // openssl 3.1.2-r0 on alpine 3.18, fixed in 3.1.4-r1, MEDIUM
	AlpineMusl     = "CVE-2099-0002" // musl 1.2.4-r1 on alpine 3.18, fixed in 1.2.4-r3, HIGH
	AlpineBusybox  = "CVE-2099-0003" // busybox 1.36.1-r2 on alpine 3.18, fixed in 1.36.1-r6, CRITICAL
	DebianOpenSSL  = "CVE-2099-0101" // libssl3 (openssl) 3.0.11-1~deb12u1 on debian 12, fixed in 3.0.13-1~deb12u1, HIGH
	DebianZlib     = "CVE-2099-0102" // zlib1g (zlib) on debian 12, no fix, CRITICAL
	PythonRequests = "CVE-2099-0201" // requests 2.19.0 (pip), fixed in 2.20.0, HIGH
)

// Fixture vulnerabilities of language packages, one per ecosystem the deps
// engine's fixture checkout (testdata/deps) pins.
const (
	NpmLodash       = "CVE-2099-0301" // lodash < 4.17.21 (npm), HIGH
	NpmMinimist     = "CVE-2099-0302" // minimist < 1.2.6 (npm), CRITICAL, transitive via mkdirp
	GoText          = "CVE-2099-0303" // golang.org/x/text < 0.3.8 (go), HIGH
	MavenLog4j      = "CVE-2099-0304" // org.apache.logging.log4j:log4j-core < 2.15.0 (maven), CRITICAL
	NuGetNewtonsoft = "CVE-2099-0305" // Newtonsoft.Json < 13.0.1 (nuget), HIGH
	CargoSmallvec   = "CVE-2099-0306" // smallvec >= 1.6.0, < 1.6.1 (cargo), MEDIUM
	GemRack         = "CVE-2099-0307" // rack < 2.2.6.4 (rubygems), LOW
)

// Dependencies is the fixture DB content of language packages: each
// ecosystem's planted vulnerability, and one advisory per ecosystem whose
// fixed version the fixture pins (not vulnerable).
func Dependencies() Content {
	ghsa := func(eco string) string { return eco + "::GitHub Security Advisory " + eco }
	return Content{
		Advisories: []Advisory{
			{Bucket: ghsa("npm"), Package: "lodash", VulnID: NpmLodash, Vulnerable: []string{"<4.17.21"}, Patched: []string{"4.17.21"}},
			{Bucket: ghsa("npm"), Package: "minimist", VulnID: NpmMinimist, Vulnerable: []string{"<1.2.6"}, Patched: []string{"1.2.6"}},
			{Bucket: ghsa("npm"), Package: "express", VulnID: "CVE-2099-0390", Vulnerable: []string{"<4.19.2"}, Patched: []string{"4.19.2"}},
			{Bucket: ghsa("go"), Package: "golang.org/x/text", VulnID: GoText, Vulnerable: []string{"<0.3.8"}, Patched: []string{"0.3.8"}},
			{Bucket: ghsa("go"), Package: "github.com/google/uuid", VulnID: "CVE-2099-0391", Vulnerable: []string{"<1.6.0"}, Patched: []string{"1.6.0"}},
			{Bucket: ghsa("maven"), Package: "org.apache.logging.log4j:log4j-core", VulnID: MavenLog4j, Vulnerable: []string{"<2.15.0"}, Patched: []string{"2.15.0"}},
			{Bucket: ghsa("maven"), Package: "com.google.guava:guava", VulnID: "CVE-2099-0392", Vulnerable: []string{"<32.0.0-android"}, Patched: []string{"32.0.0-android"}},
			{Bucket: ghsa("nuget"), Package: "newtonsoft.json", VulnID: NuGetNewtonsoft, Vulnerable: []string{"<13.0.1"}, Patched: []string{"13.0.1"}},
			{Bucket: ghsa("cargo"), Package: "smallvec", VulnID: CargoSmallvec, Vulnerable: []string{">=1.6.0, <1.6.1"}, Patched: []string{"1.6.1"}},
			{Bucket: ghsa("rubygems"), Package: "rack", VulnID: GemRack, Vulnerable: []string{"<2.2.6.4"}, Patched: []string{"2.2.6.4"}},
			{Bucket: ghsa("pip"), Package: "flask", VulnID: "CVE-2099-0393", Vulnerable: []string{"<2.2.5"}, Patched: []string{"2.2.5"}},
		},
		Vulns: []Vuln{
			{ID: NpmLodash, Title: "lodash: fixture prototype pollution", Severity: "HIGH", CVSSScore: 7.4, CVSSVector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N"},
			{ID: NpmMinimist, Title: "minimist: fixture prototype pollution", Severity: "CRITICAL", CVSSScore: 9.8, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			{ID: "CVE-2099-0390", Title: "express: fixture flaw fixed in the pinned version", Severity: "HIGH", CVSSScore: 7.5},
			{ID: GoText, Title: "golang.org/x/text: fixture denial of service", Severity: "HIGH", CVSSScore: 7.5, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
			{ID: "CVE-2099-0391", Title: "uuid: fixture flaw fixed in the pinned version", Severity: "HIGH", CVSSScore: 7.5},
			{ID: MavenLog4j, Title: "log4j-core: fixture remote code execution", Severity: "CRITICAL", CVSSScore: 10, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"},
			{ID: "CVE-2099-0392", Title: "guava: fixture flaw fixed in the pinned version", Severity: "MEDIUM", CVSSScore: 5.5},
			{ID: NuGetNewtonsoft, Title: "Newtonsoft.Json: fixture stack exhaustion", Severity: "HIGH", CVSSScore: 7.5, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
			{ID: CargoSmallvec, Title: "smallvec: fixture buffer overflow", Severity: "MEDIUM", CVSSScore: 5.5},
			{ID: GemRack, Title: "rack: fixture header parsing flaw", Severity: "LOW", CVSSScore: 3.7},
			{ID: "CVE-2099-0393", Title: "flask: fixture flaw fixed in the pinned version", Severity: "HIGH", CVSSScore: 7.5},
		},
	}
}

// With is c with the advisories and vulnerabilities of more added.
func (c Content) With(more Content) Content {
	c.Advisories = append(append([]Advisory{}, c.Advisories...), more.Advisories...)
	c.Vulns = append(append([]Vuln{}, c.Vulns...), more.Vulns...)
	return c
}

// Default is the fixture DB that matches imagetest's images.
func Default() Content {
	ghsa := "pip::GitHub Security Advisory pip"
	return Content{
		Advisories: []Advisory{
			{Bucket: "alpine 3.18", Package: "openssl", VulnID: AlpineOpenSSL, Fixed: "3.1.4-r1"},
			{Bucket: "alpine 3.18", Package: "musl", VulnID: AlpineMusl, Fixed: "1.2.4-r3"},
			{Bucket: "alpine 3.18", Package: "busybox", VulnID: AlpineBusybox, Fixed: "1.36.1-r6"},
			{Bucket: "alpine 3.18", Package: "zlib", VulnID: "CVE-2099-0004", Fixed: "1.2.12-r0"}, // installed version is newer: not vulnerable
			{Bucket: "debian 12", Package: "openssl", VulnID: DebianOpenSSL, Fixed: "3.0.13-1~deb12u1"},
			{Bucket: "debian 12", Package: "zlib", VulnID: DebianZlib, Affected: true},
			{Bucket: ghsa, Package: "requests", VulnID: PythonRequests, Vulnerable: []string{"<2.20.0"}, Patched: []string{"2.20.0"}},
		},
		Vulns: []Vuln{
			{ID: AlpineOpenSSL, Title: "openssl: fixture flaw in X.509 parsing", Severity: "MEDIUM", CVSSScore: 5.3, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"},
			{ID: AlpineMusl, Title: "musl: fixture flaw in iconv", Severity: "HIGH", CVSSScore: 8.1, CVSSVector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			{ID: AlpineBusybox, Title: "busybox: fixture flaw in awk", Severity: "CRITICAL", CVSSScore: 9.8, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			{ID: "CVE-2099-0004", Title: "zlib: fixture flaw fixed long ago", Severity: "HIGH", CVSSScore: 7.5},
			{ID: DebianOpenSSL, Title: "openssl: fixture flaw in PKCS12", Severity: "HIGH", CVSSScore: 7.5, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
			{ID: DebianZlib, Title: "zlib: fixture flaw in minizip", Severity: "CRITICAL", CVSSScore: 9.8, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			{ID: PythonRequests, Title: "requests: fixture credential leak on redirect", Severity: "HIGH", CVSSScore: 7.5, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"},
		},
	}
}

// Write creates trivy.db and metadata.json in dbDir.
func Write(dbDir string, c Content) error {
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return err
	}
	path := vulndb.Path(dbDir)
	_ = os.Remove(path)
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("fixture DB: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, a := range c.Advisories {
			adv := &types.Advisory{FixedVersion: a.Fixed, VulnerableVersions: a.Vulnerable, PatchedVersions: a.Patched}
			if a.Affected {
				adv.Status = types.StatusAffected
			}
			if err := put(tx, []string{a.Bucket, a.Package}, a.VulnID, adv); err != nil {
				return err
			}
			if err := put(tx, []string{"data-source"}, a.Bucket, types.DataSource{ID: "fixture", Name: "Tollgate fixture " + a.Bucket, URL: "https://example.test/advisories"}); err != nil {
				return err
			}
		}
		for _, v := range c.Vulns {
			sev, _ := types.NewSeverity(v.Severity)
			vuln := types.Vulnerability{
				Title:          v.Title,
				Description:    v.Description,
				Severity:       v.Severity,
				VendorSeverity: types.VendorSeverity{"nvd": sev},
				References:     v.References,
			}
			if vuln.Description == "" {
				vuln.Description = v.Title + " (Tollgate test fixture)."
			}
			if v.CVSSScore > 0 {
				vuln.CVSS = types.VendorCVSS{"nvd": types.CVSS{V3Vector: v.CVSSVector, V3Score: v.CVSSScore}}
			}
			if err := put(tx, []string{"vulnerability"}, v.ID, vuln); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fixture DB: %w", err)
	}
	updated := c.UpdatedAt
	if updated.IsZero() {
		updated = time.Now().UTC()
	}
	return vulndb.WriteMetadata(dbDir, vulndb.Metadata{
		Version:      vulndb.SchemaVersion,
		UpdatedAt:    updated,
		NextUpdate:   updated.Add(24 * time.Hour),
		DownloadedAt: updated,
	})
}

func put(tx *bolt.Tx, buckets []string, key string, value any) error {
	b, err := tx.CreateBucketIfNotExists([]byte(buckets[0]))
	if err != nil {
		return err
	}
	for _, name := range buckets[1:] {
		if b, err = b.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	v, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), v)
}

// Artifact packages a DB directory as the OCI artifact Trivy's DB
// repositories serve: one tar.gz layer of trivy.db and metadata.json.
func Artifact(dbDir string) (v1.Image, error) { return artifact(dbDir, "trivy.db", vulndb.MediaType) }

// WriteArtifact writes c to dbDir (Write) and packages it (Artifact): the
// DB a test registry serves.
func WriteArtifact(dbDir string, c Content) (v1.Image, error) {
	if err := Write(dbDir, c); err != nil {
		return nil, err
	}
	return Artifact(dbDir)
}

// JavaArtifact packages a Java DB directory (WriteJava) as the OCI artifact
// Trivy's Java DB repositories serve.
func JavaArtifact(dir string) (v1.Image, error) {
	return artifact(dir, "trivy-java.db", vulndb.JavaMediaType)
}

// JavaIndex is one JAR the fixture Java DB knows by its SHA-1.
type JavaIndex struct {
	GroupID, ArtifactID, Version string
	SHA1                         []byte
}

// WriteJava creates a Java DB (trivy-java.db, metadata.json) in Trivy's
// layout under cacheDir (vulndb.JavaDir), with the schema trivy-java-db
// writes.
func WriteJava(cacheDir string, indexes []JavaIndex) error {
	dir := vulndb.JavaDir(cacheDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, "trivy-java.db"))
	d, err := javadb.New(dir)
	if err != nil {
		return fmt.Errorf("fixture Java DB: %w", err)
	}
	err = d.Init()
	if err == nil {
		var idx []javatypes.Index
		for _, i := range indexes {
			idx = append(idx, javatypes.Index{GroupID: i.GroupID, ArtifactID: i.ArtifactID, Version: i.Version, SHA1: i.SHA1, ArchiveType: javatypes.JarType})
		}
		err = d.InsertIndexes(idx)
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fixture Java DB: %w", err)
	}
	now := time.Now().UTC()
	return vulndb.WriteMetadata(dir, vulndb.Metadata{Version: vulndb.JavaSchemaVersion, UpdatedAt: now, NextUpdate: now.Add(72 * time.Hour), DownloadedAt: now})
}

func artifact(dbDir, file, mediaType string) (v1.Image, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range []string{file, "metadata.json"} {
		f, err := os.Open(filepath.Join(dbDir, name))
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
			f.Close()
			return nil, err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	layer := static.NewLayer(buf.Bytes(), ggcrtypes.MediaType(mediaType))
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, MediaType: ggcrtypes.MediaType(mediaType)})
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, ggcrtypes.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, "application/vnd.aquasec.trivy.config.v1+json")
	return img, nil
}
