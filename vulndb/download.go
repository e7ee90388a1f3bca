package vulndb

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// MediaType is the media type of the DB layer in its OCI artifact.
const MediaType = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"

// maxDBSize bounds what a download may write (the real DB is well under 2 GiB).
const maxDBSize = 4 << 30

// DownloadOptions configure a DB download.
type DownloadOptions struct {
	// Repositories are tried in order (mirrors); empty means DefaultRepositories.
	Repositories []string
	// Username and Password, when set, authenticate to every repository, or
	// only to those SendCredentials allows; otherwise the docker
	// config and credential helpers are used (each for its own host).
	Username, Password string
	// SendCredentials, when set, says whether Username and Password may go
	// to a repository (its full name, host and path).
	SendCredentials func(repository string) bool
	// Backoff between retries of 429 and 5xx answers; zero means 1s, x2, 5 tries.
	Backoff remote.Backoff
	// Transport replaces the HTTP transport (tests, proxies).
	Transport http.RoundTripper
	Log       *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// kind is one of Trivy's DBs: what is downloaded, from where, to where.
type kind struct {
	what      string // in messages: "vulnerability DB", "Java DB"
	mediaType string
	file      string // the database file beside metadata.json
	dir       func(cacheDir string) string
	schema    int
	defaults  []string
}

func vulnKind() kind {
	return kind{what: "vulnerability DB", mediaType: MediaType, file: "trivy.db", dir: Dir, schema: SchemaVersion, defaults: DefaultRepositories}
}

// Download fetches the DB into cacheDir/db, replacing what is there only
// once the new DB is complete.
func Download(ctx context.Context, cacheDir string, opt DownloadOptions) (Metadata, error) {
	return download(ctx, vulnKind(), cacheDir, opt)
}

func download(ctx context.Context, k kind, cacheDir string, opt DownloadOptions) (Metadata, error) {
	repos := opt.Repositories
	if len(repos) == 0 {
		repos = k.defaults
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	var errs []error
	for _, repo := range repos {
		log.Info("downloading the "+k.what, "repository", repo)
		m, err := downloadFrom(ctx, k, cacheDir, repo, opt, now)
		if err == nil {
			log.Info(k.what+" ready", "repository", repo, "updated", m.UpdatedAt.Format(time.RFC3339))
			return m, nil
		}
		if ctx.Err() != nil {
			return Metadata{}, ctx.Err()
		}
		log.Warn(k.what+" download failed; trying the next repository", "repository", repo, "error", err)
		errs = append(errs, fmt.Errorf("%s: %w", repo, err))
	}
	return Metadata{}, fmt.Errorf("downloading the %s: %w", k.what, errors.Join(errs...))
}

func downloadFrom(ctx context.Context, k kind, cacheDir, repo string, opt DownloadOptions, now func() time.Time) (Metadata, error) {
	ref, err := name.ParseReference(repo)
	if err != nil {
		return Metadata{}, fmt.Errorf("invalid repository: %w", err)
	}
	backoff := opt.Backoff
	if backoff.Steps == 0 {
		backoff = remote.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 5}
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithRetryBackoff(backoff),
		remote.WithRetryStatusCodes(http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
	}
	user, pass := opt.Username, opt.Password
	if opt.SendCredentials != nil && !opt.SendCredentials(ref.Context().Name()) {
		user, pass = "", ""
	}
	ropts = append(ropts, remote.WithAuthFromKeychain(keychain(user, pass)))
	if opt.Transport != nil {
		ropts = append(ropts, remote.WithTransport(opt.Transport))
	}
	img, err := remote.Image(ref, ropts...)
	if err != nil {
		return Metadata{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return Metadata{}, err
	}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil || string(mt) != k.mediaType {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return Metadata{}, err
		}
		defer rc.Close()
		return install(k, cacheDir, rc, now())
	}
	return Metadata{}, fmt.Errorf("no layer of media type %s in %s", k.mediaType, repo)
}

// install unpacks a DB layer (tar.gz of the database file and
// metadata.json) next to the DB directory and swaps it in.
func install(k kind, cacheDir string, r io.Reader, now time.Time) (Metadata, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Metadata{}, fmt.Errorf("cache directory: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".db-download-")
	if err != nil {
		return Metadata{}, fmt.Errorf("cache directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	gz, err := gzip.NewReader(r)
	if err != nil {
		return Metadata{}, fmt.Errorf("DB layer: %w", err)
	}
	tr := tar.NewReader(gz)
	var written int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Metadata{}, fmt.Errorf("DB layer: %w", err)
		}
		base := filepath.Base(h.Name)
		if h.Typeflag != tar.TypeReg || (base != k.file && base != "metadata.json") {
			continue
		}
		f, err := os.OpenFile(filepath.Join(tmp, base), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return Metadata{}, err
		}
		n, err := io.Copy(f, io.LimitReader(tr, maxDBSize-written+1))
		written += n
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Metadata{}, fmt.Errorf("DB layer: %w", err)
		}
		if written > maxDBSize {
			return Metadata{}, fmt.Errorf("DB layer: larger than %d bytes", int64(maxDBSize))
		}
	}
	m, err := readMetadata(k, tmp)
	if err != nil {
		return Metadata{}, fmt.Errorf("downloaded %s: %w", k.what, err)
	}
	m.DownloadedAt = now.UTC()
	if err := WriteMetadata(tmp, m); err != nil {
		return Metadata{}, err
	}
	dst := k.dir(cacheDir)
	old := dst + ".old"
	_ = os.RemoveAll(old)
	if _, err := os.Stat(dst); err == nil {
		if err := os.Rename(dst, old); err != nil {
			return Metadata{}, fmt.Errorf("replacing the DB: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Rename(old, dst)
		return Metadata{}, fmt.Errorf("replacing the DB: %w", err)
	}
	_ = os.RemoveAll(old)
	return m, nil
}

// keychain authenticates with the given credentials, or as docker does.
func keychain(user, pass string) authn.Keychain {
	if user == "" && pass == "" {
		return authn.DefaultKeychain
	}
	return staticKeychain{authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})}
}

type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }
