package secrets

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gitleaks/go-gitdiff/gitdiff"
	"github.com/mholt/archives"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"
	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate/internal/crash"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/gitrepo"
)

// fetchAll tells the user how to give Tollgate the history it needs.
const fetchAll = "Fetch the full history: `fetchDepth: 0` on the Azure Pipelines checkout step " +
	"(GitHub Actions: `fetch-depth: 0`), or run `git fetch --unshallow` before the scan."

// logFilter is gitleaks' own choice of what `git log -p` shows: every
// change but deletions.
const logFilter = "--diff-filter=tuxdb"

// scanGit scans the commits the mode selects, as gitleaks' git source does
// (every commit's added lines, archives it adds, its author and date), with
// the repository's hardened git (gitrepo): nothing the checkout says (its
// config, attributes, hooks) changes what git shows or runs. A shallow
// clone never crashes or passes silently: what is present is scanned, and a
// notification says what was not and how to fix it.
func (s *Engine) scanGit(ctx context.Context, t *scanners.Target, dets *detectors) ([]report.Finding, []scanners.Notification, *scanners.Provenance, error) {
	repo := s.opts.Repo
	if repo == nil { // an engine made without the scan's (tests, library use)
		var err error
		if repo, err = gitrepo.Open(ctx, t.Root); err != nil {
			return nil, nil, nil, fmt.Errorf("--secrets-mode %s reads the checkout's git history: %w", s.opts.Mode, err)
		}
		repo.SetLogger(s.log)
	}
	head, err := repo.Head(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--secrets-mode %s: %w", s.opts.Mode, err)
	}
	prov := &scanners.Provenance{RepositoryURI: repo.RemoteURL(ctx), Revision: head, Branch: repo.Branch(ctx)}
	shallow := repo.Shallow(ctx)
	var notes []scanners.Notification
	warn := func(code, msg string) {
		notes = append(notes, scanners.Notification{Level: scanners.LevelWarning, Code: code, Message: msg})
	}

	logOpts := []string{"--full-history", logFilter}
	switch s.opts.Mode {
	case ModeHistory:
		logOpts = append(logOpts, "--all")
		if shallow {
			warn("shallow-clone", fmt.Sprintf("the clone is shallow: the history stops at %s, so older commits were not scanned. %s",
				shortList(repo.ShallowBoundary(ctx)), fetchAll))
		}
	case ModeCommits:
		var base gitrepo.Resolved
		baseOK := false
		if s.opts.Since != "" {
			base, baseOK = repo.Resolve(ctx, s.opts.Since)
			if w := base.ShadowWarning(s.opts.Since); w != "" {
				warn("ref-shadowed", w)
			}
		}
		switch {
		case s.opts.Since == "":
			logOpts = append(logOpts, "--max-count=1", head)
			warn("no-base", "--secrets-mode commits has no base (give --since REF; in a pull-request build it is the target branch), so only the last commit (HEAD) was scanned")
		case !baseOK:
			logOpts = append(logOpts, head)
			n := repo.CountCommits(ctx, "", head)
			if shallow {
				warn("shallow-clone", fmt.Sprintf("the clone is shallow and the pull request's base %s (from %s) is not in it: Tollgate scanned the %d commit(s) present (the oldest as if it added every file it has); commits between %s and HEAD that were not fetched were not scanned. %s",
					s.opts.Since, s.opts.SinceFrom, n, s.opts.Since, fetchAll))
			} else {
				warn("base-missing", fmt.Sprintf("the pull request's base %s (from %s) is not in the clone, so all %d commit(s) reachable from HEAD were scanned. Fetch the target branch (git fetch origin %s) to scan only the pull request's commits",
					s.opts.Since, s.opts.SinceFrom, n, strings.TrimPrefix(s.opts.Since, "refs/heads/")))
			}
		case shallow && repo.MergeBase(ctx, base.Commit, head) == "":
			// The base is here but the history that joins it to HEAD is
			// not: what HEAD changes against the base is what the pull
			// request adds, though not commit by commit.
			warn("shallow-clone", fmt.Sprintf("the clone is shallow and its history does not reach the pull request's base %s (from %s): Tollgate scanned what HEAD changes against it, not the pull request's commits one by one, so a secret added and removed again within the pull request was not seen. %s",
				s.opts.Since, s.opts.SinceFrom, fetchAll))
			findings, err := s.scanDiff(ctx, repo, base.Commit, head, dets)
			if err != nil {
				return nil, nil, nil, err
			}
			return findings, notes, prov, nil
		default:
			logOpts = append(logOpts, base.Commit+".."+head)
		}
	}

	var (
		mu       sync.Mutex
		findings []report.Finding
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	scan := func(fr sources.Fragment) {
		g.Go(func() (err error) {
			defer crash.Recover("the secrets engine, on a change of "+fr.FilePath, &err)
			if found := dets.find(gctx, fr); len(found) > 0 {
				mu.Lock()
				findings = append(findings, found...)
				mu.Unlock()
			}
			return nil
		})
	}
	var fileErrs []error
	err = repo.Log(ctx, logOpts, func(f *gitdiff.File) {
		if f.IsDelete || s.opts.Skip != nil && excludedPath(f.NewName, s.opts.Skip) {
			return
		}
		info := commitInfo(f.PatchHeader)
		if err := s.fileFragments(ctx, repo, dets, f, info, scan); err != nil {
			fileErrs = append(fileErrs, fmt.Errorf("%s in %s: %w", f.NewName, shortList([]string{info.SHA}), err))
		}
	})
	waitErr := g.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, nil, nil, ctx.Err()
	case err != nil:
		return nil, nil, nil, fmt.Errorf("reading the git history: %w", err)
	case waitErr != nil:
		return nil, nil, nil, waitErr
	}
	for _, e := range fileErrs {
		notes = append(notes, scanners.Notification{Level: scanners.LevelError, Code: "git-error",
			Message: fmt.Sprintf("a change could not be read from the history (%v); it was not scanned", e)})
	}
	return findings, notes, prov, nil
}

// isArchive reports whether a file's name is an archive's, as gitleaks
// decides it.
func isArchive(ctx context.Context, name string) bool {
	format, _, err := archives.Identify(ctx, name, nil)
	return err == nil && format != nil
}

// commitInfo is gitleaks' record of a commit, from the patch's header.
func commitInfo(h *gitdiff.PatchHeader) *sources.CommitInfo {
	if h == nil {
		return &sources.CommitInfo{}
	}
	info := &sources.CommitInfo{SHA: h.SHA, Date: h.AuthorDate.UTC().Format(time.RFC3339), Message: h.Message(), Remote: &sources.RemoteInfo{}}
	if h.Author != nil {
		info.AuthorName, info.AuthorEmail = h.Author.Name, h.Author.Email
	}
	return info
}

// fileFragments hands scan the fragments of one file of one commit: its
// added lines; for an archive (with --secrets-archive-depth) its files'
// contents, as gitleaks reads archives; for a file git calls binary that
// the engine reads as text (a UTF-16 file, text with a NUL byte), its added
// lines compared as text; nothing for a binary format.
func (s *Engine) fileFragments(ctx context.Context, repo *gitrepo.Repo, dets *detectors, f *gitdiff.File, info *sources.CommitInfo, scan func(sources.Fragment)) error {
	frag := func(raw string, line int) sources.Fragment {
		return sources.Fragment{CommitSHA: info.SHA, CommitInfo: info, FilePath: f.NewName, Raw: raw, StartLine: line}
	}
	if !f.IsBinary {
		for _, tf := range f.TextFragments {
			scan(frag(tf.Raw(gitdiff.OpAdd), int(tf.NewPosition)))
		}
		return nil
	}
	if s.opts.MaxArchiveDepth > 0 && isArchive(ctx, f.NewName) {
		blob, err := repo.BlobReader(ctx, f.NewOIDPrefix)
		if err != nil {
			return err
		}
		file := sources.File{Content: blob, Path: f.NewName, MaxArchiveDepth: s.opts.MaxArchiveDepth, Config: &dets.gl.Config}
		err = file.Fragments(ctx, func(fr sources.Fragment, err error) error {
			if err == nil {
				fr.CommitSHA, fr.CommitInfo = info.SHA, info
				scan(fr)
			}
			return nil
		})
		return errors.Join(err, blob.Close())
	}
	frags, err := repo.TextChange(ctx, f.OldOIDPrefix, f.NewOIDPrefix)
	for _, tf := range frags {
		scan(frag(tf.Raw(gitdiff.OpAdd), int(tf.NewPosition)))
	}
	return err
}

// scanDiff scans the lines that head adds against base (git diff base head),
// reported as found in head.
func (s *Engine) scanDiff(ctx context.Context, repo *gitrepo.Repo, base, head string, dets *detectors) ([]report.Finding, error) {
	var findings []report.Finding
	info := &sources.CommitInfo{SHA: head, Remote: &sources.RemoteInfo{}}
	var fileErrs []error
	err := repo.Diff(ctx, []string{logFilter, "--full-index"}, base, head, nil, func(f *gitdiff.File) {
		if f.IsDelete || s.opts.Skip != nil && excludedPath(f.NewName, s.opts.Skip) {
			return
		}
		if err := s.fileFragments(ctx, repo, dets, f, info, func(fr sources.Fragment) {
			findings = append(findings, dets.find(ctx, fr)...)
		}); err != nil {
			fileErrs = append(fileErrs, fmt.Errorf("%s: %w", f.NewName, err))
		}
	})
	return findings, errors.Join(append([]error{err}, fileErrs...)...)
}

func excludedPath(p string, exclude func(string, bool) bool) bool {
	if exclude(p, false) {
		return true
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && exclude(p[:i], true) {
			return true
		}
	}
	return false
}

func shortList(shas []string) string {
	if len(shas) == 0 {
		return "an unknown commit"
	}
	out := make([]string, 0, len(shas))
	for _, s := range shas {
		if len(s) > 12 {
			s = s[:12]
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}
