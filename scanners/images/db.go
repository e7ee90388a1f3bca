package images

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/imageref"
	"github.com/tollgate/tollgate/vulndb"
)

// dbScope digests what an image's report depends on besides the image:
// Trivy's version, the DB (its metadata, and its file's size and time,
// which change with every download), and the package types.
func dbScope(o Options, meta vulndb.Metadata) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "trivy %s pkg-types %q\n", TrivyVersion, o.PkgTypes)
	// The metadata as prepareDB read it, not a second read of the file.
	if b, err := json.Marshal(meta); err == nil {
		h.Write(b)
	}
	if fi, err := os.Stat(vulndb.Path(vulndb.Dir(o.CacheDir))); err == nil {
		fmt.Fprintf(h, "db %d %d\n", fi.Size(), fi.ModTime().UnixNano())
	}
	return h.Sum(nil)
}

// prepareDB makes sure a usable DB is on disk: downloads it when missing or
// due (unless offline), and reports its age.
func (s *Engine) prepareDB(ctx context.Context, res *scanners.Result) (vulndb.Metadata, error) {
	dbDir := vulndb.Dir(s.opts.CacheDir)
	now := s.opts.Now()
	meta, err := vulndb.ReadMetadata(dbDir)
	missing := errors.Is(err, vulndb.ErrMissing)
	switch {
	case err != nil && !missing:
		if s.opts.Offline {
			return meta, fmt.Errorf("%w (and --offline forbids downloading a new one)", err)
		}
	case missing && s.opts.Offline:
		return meta, fmt.Errorf("no vulnerability DB in %s and --offline forbids downloading it: run `tollgate db download --cache-dir %s` first, or use an image with the DB baked in", dbDir, s.opts.CacheDir)
	case err == nil && (s.opts.Offline || s.opts.SkipDBUpdate || !meta.NeedsUpdate(now)):
		s.warnAge(meta, now, res)
		return meta, nil
	}
	dl := s.opts.DBDownload
	if len(s.opts.DBRepositories) > 0 {
		dl.Repositories = s.opts.DBRepositories
	}
	if dl.Username == "" && dl.Password == "" && (s.opts.Username != "" || s.opts.Password != "") {
		// The registry credentials go to a DB repository only when the
		// pipeline named it (--db-repository, or an --image's repository).
		scopes := s.credentialScopes()
		dl.SendCredentials = func(repo string) bool { return slices.Contains(scopes, imageref.RepositoryOf(repo)) }
		dl.Username, dl.Password = s.opts.Username, s.opts.Password
	}
	dl.Log, dl.Now = s.log, s.opts.Now
	fresh, derr := vulndb.Download(ctx, s.opts.CacheDir, dl)
	if derr == nil {
		return fresh, nil
	}
	if err == nil {
		// Keep scanning with the DB we have; say why it is old.
		res.Status.Add(scanners.Notification{Level: scanners.LevelWarning, Code: "db-update-failed",
			Message: fmt.Sprintf("could not update the vulnerability DB, scanning with the one on disk: %v", derr)})
		s.warnAge(meta, now, res)
		return meta, nil
	}
	return meta, derr
}

func (s *Engine) warnAge(meta vulndb.Metadata, now time.Time, res *scanners.Result) {
	age := meta.Age(now)
	s.log.Info("vulnerability DB", "updated", meta.UpdatedAt.Format(time.RFC3339), "age", age.Round(time.Hour).String())
	if age > vulndb.StaleAfter {
		res.Status.Add(scanners.Notification{Level: scanners.LevelWarning, Code: "db-stale",
			Message: fmt.Sprintf("the vulnerability DB is %d days old (updated %s): newer vulnerabilities are missed; run `tollgate db download`",
				int(age.Hours()/24), meta.UpdatedAt.Format("2006-01-02"))})
	}
}

// PrepareDB makes sure a usable vulnerability DB is on disk for another
// engine that matches packages with it (the deps engine), with the image
// engine's DB settings in o: the same download, mirrors, offline rule and
// age notice.
func PrepareDB(ctx context.Context, o Options, log *slog.Logger, res *scanners.Result) (vulndb.Metadata, error) {
	return New(o, log).prepareDB(ctx, res)
}

// DBScope is what a report matched against the DB depends on besides its
// packages (see dbScope).
func DBScope(o Options, meta vulndb.Metadata) []byte { return dbScope(o, meta) }
