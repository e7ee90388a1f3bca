// Package vulndb keeps Trivy's vulnerability database on disk: where it
// lives (Trivy's own layout, so an existing Trivy cache or a DB baked into an
// image is reused), how old it is, downloading it from an OCI registry with
// retries and mirrors, and opening it for a scan.
package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the trivy-db schema this build reads.
const SchemaVersion = trivydb.SchemaVersion

// StaleAfter is the age past which a scan warns that the DB is old.
const StaleAfter = 7 * 24 * time.Hour

// DefaultRepositories are the DB's OCI repositories, in the order Trivy tries them.
var DefaultRepositories = []string{
	fmt.Sprintf("mirror.gcr.io/aquasec/trivy-db:%d", SchemaVersion),
	fmt.Sprintf("ghcr.io/aquasecurity/trivy-db:%d", SchemaVersion),
}

// Metadata is Trivy's metadata.json beside trivy.db.
type Metadata struct {
	Version      int       `json:",omitempty"`
	NextUpdate   time.Time `json:"NextUpdate"`
	UpdatedAt    time.Time `json:"UpdatedAt"`
	DownloadedAt time.Time `json:"DownloadedAt"`
}

// DefaultCacheDir is $XDG_CACHE_HOME/tollgate (or ~/.cache/tollgate).
func DefaultCacheDir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "tollgate")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "tollgate")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "tollgate")
	}
	return filepath.Join(os.TempDir(), "tollgate-cache")
}

// Dir is the DB directory inside a cache directory (Trivy's layout).
func Dir(cacheDir string) string { return filepath.Join(cacheDir, "db") }

// Path is the bolt file of a DB directory.
func Path(dbDir string) string { return filepath.Join(dbDir, "trivy.db") }

// MetadataPath is the metadata file of a DB directory.
func MetadataPath(dbDir string) string { return filepath.Join(dbDir, "metadata.json") }

// ErrMissing means there is no DB (or no metadata) in the directory.
var ErrMissing = errors.New("DB not found")

// ReadMetadata reads and checks a DB directory's metadata.
func ReadMetadata(dbDir string) (Metadata, error) { return readMetadata(vulnKind(), dbDir) }

func readMetadata(k kind, dbDir string) (Metadata, error) {
	db := filepath.Join(dbDir, k.file)
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return Metadata{}, fmt.Errorf("%w: no %s at %s", ErrMissing, k.what, db)
	}
	b, err := os.ReadFile(MetadataPath(dbDir))
	if errors.Is(err, os.ErrNotExist) {
		return Metadata{}, fmt.Errorf("%w: %s is missing", ErrMissing, MetadataPath(dbDir))
	}
	if err != nil {
		return Metadata{}, fmt.Errorf("%s metadata: %w", k.what, err)
	}
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return Metadata{}, fmt.Errorf("%s metadata %s: %w", k.what, MetadataPath(dbDir), err)
	}
	if m.Version != k.schema {
		return m, fmt.Errorf("%s at %s has schema version %d; this build reads version %d", k.what, dbDir, m.Version, k.schema)
	}
	return m, nil
}

// WriteMetadata writes metadata.json.
func WriteMetadata(dbDir string, m Metadata) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return fmt.Errorf("vulnerability DB: %w", err)
	}
	return os.WriteFile(MetadataPath(dbDir), append(b, '\n'), 0o644)
}

// NeedsUpdate tells whether a DB with this metadata should be downloaded
// again: its next update is due and it was not downloaded within the hour
// (Trivy's rule, so that several scans in one job download once).
func (m Metadata) NeedsUpdate(now time.Time) bool {
	if m.DownloadedAt.IsZero() {
		return true
	}
	return now.After(m.NextUpdate) && now.After(m.DownloadedAt.Add(time.Hour))
}

// Age is how old the DB's content is.
func (m Metadata) Age(now time.Time) time.Duration { return now.Sub(m.UpdatedAt) }

// openMu guards trivy-db's process-wide database handle: Trivy's detectors
// read the DB through it, so only one scan at a time may have it open.
var openMu sync.Mutex

// Handle is an open DB; Close it when the scan is done.
type Handle struct {
	once sync.Once
}

// Open opens the DB read-only for Trivy's detectors. It holds the process's
// one DB handle until Close.
func Open(dbDir string) (*Handle, error) {
	openMu.Lock()
	if err := trivydb.Init(dbDir, trivydb.WithBoltOptions(&bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})); err != nil {
		openMu.Unlock()
		return nil, fmt.Errorf("opening the vulnerability DB at %s: %w", dbDir, err)
	}
	return &Handle{}, nil
}

// Close releases the DB.
func (h *Handle) Close() error {
	var err error
	h.once.Do(func() {
		err = trivydb.Close()
		openMu.Unlock()
	})
	return err
}
