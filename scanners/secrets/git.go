package secrets

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gitleaks/go-gitdiff/gitdiff"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/gitrepo"
)

// fetchAll tells the user how to give Tollgate the history it needs.
const fetchAll = "Fetch the full history: `fetchDepth: 0` on the Azure Pipelines checkout step " +
	"(GitHub Actions: `fetch-depth: 0`), or run `git fetch --unshallow` before the scan."

// gitLogOpts are the options Tollgate adds to gitleaks' `git log -p -U0`:
// gitleaks' own defaults (whole history of merges, no deletions) plus a range.
const gitLogOpts = "--full-history --diff-filter=tuxdb"

// scanGit runs gitleaks' git source over the commits the mode selects. A
// shallow clone never crashes or passes silently: what is present is
// scanned, and a notification says what was not and how to fix it.
func (s *Engine) scanGit(ctx context.Context, t *scanners.Target, dets *detectors) ([]report.Finding, []scanners.Notification, *scanners.Provenance, error) {
	repo, err := gitrepo.Open(ctx, t.Root)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--secrets-mode %s reads the checkout's git history: %w", s.opts.Mode, err)
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

	logOpts := ""
	switch s.opts.Mode {
	case ModeHistory:
		if shallow {
			warn("shallow-clone", fmt.Sprintf("the clone is shallow: the history stops at %s, so older commits were not scanned. %s",
				shortList(repo.ShallowBoundary(ctx)), fetchAll))
		}
	case ModeCommits:
		base, baseOK := "", false
		if s.opts.Since != "" {
			base, baseOK = repo.Resolve(ctx, s.opts.Since)
		}
		switch {
		case s.opts.Since == "":
			logOpts = gitLogOpts + " -n 1 HEAD"
			warn("no-base", "--secrets-mode commits has no base (give --since REF; in a pull-request build it is the target branch), so only the last commit (HEAD) was scanned")
		case !baseOK:
			logOpts = gitLogOpts + " HEAD"
			n := repo.CountCommits(ctx, "HEAD")
			if shallow {
				warn("shallow-clone", fmt.Sprintf("the clone is shallow and the pull request's base %s (from %s) is not in it: Tollgate scanned the %d commit(s) present (the oldest as if it added every file it has); commits between %s and HEAD that were not fetched were not scanned. %s",
					s.opts.Since, s.opts.SinceFrom, n, s.opts.Since, fetchAll))
			} else {
				warn("base-missing", fmt.Sprintf("the pull request's base %s (from %s) is not in the clone, so all %d commit(s) reachable from HEAD were scanned. Fetch the target branch (git fetch origin %s) to scan only the pull request's commits",
					s.opts.Since, s.opts.SinceFrom, n, strings.TrimPrefix(s.opts.Since, "refs/heads/")))
			}
		case shallow && repo.MergeBase(ctx, base, head) == "":
			// The base is here but the history that joins it to HEAD is
			// not: what HEAD changes against the base is what the pull
			// request adds, though not commit by commit.
			warn("shallow-clone", fmt.Sprintf("the clone is shallow and its history does not reach the pull request's base %s (from %s): Tollgate scanned what HEAD changes against it, not the pull request's commits one by one, so a secret added and removed again within the pull request was not seen. %s",
				s.opts.Since, s.opts.SinceFrom, fetchAll))
			findings, err := s.scanDiff(ctx, t.Root, base, head, dets)
			if err != nil {
				return nil, nil, nil, err
			}
			return findings, notes, prov, nil
		default:
			logOpts = gitLogOpts + " " + base + "..HEAD"
		}
	}

	gitCmd, err := sources.NewGitLogCmdContext(ctx, t.Root, logOpts)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("git log: %w", err)
	}
	src := &sources.Git{
		Cmd:             gitCmd,
		Config:          &dets.gl.Config,
		Remote:          &sources.RemoteInfo{},
		Sema:            dets.gl.Sema,
		MaxArchiveDepth: s.opts.MaxArchiveDepth,
	}
	var (
		mu       sync.Mutex
		findings []report.Finding
		gitErr   error
	)
	err = src.Fragments(ctx, func(fr sources.Fragment, err error) error {
		if err != nil {
			mu.Lock()
			gitErr = err
			mu.Unlock()
			return nil
		}
		if s.opts.Skip != nil && excludedPath(fr.FilePath, s.opts.Skip) {
			return nil
		}
		found := dets.find(ctx, fr)
		if len(found) > 0 {
			mu.Lock()
			findings = append(findings, found...)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		return nil, nil, nil, fmt.Errorf("reading the git history: %w", err)
	}
	if gitErr != nil {
		notes = append(notes, scanners.Notification{Level: scanners.LevelError, Code: "git-error",
			Message: fmt.Sprintf("git reported errors while the history was read (%v); some commits may not have been scanned", gitErr)})
	}
	return findings, notes, prov, nil
}

// scanDiff scans the lines that head adds against base (git diff base head),
// reported as found in head.
func (s *Engine) scanDiff(ctx context.Context, root, base, head string, dets *detectors) ([]report.Finding, error) {
	var findings []report.Finding
	repo := &gitrepo.Repo{Dir: root}
	err := repo.Diff(ctx, []string{"--diff-filter=tuxdb"}, base, head, func(f *gitdiff.File) {
		if f.IsDelete || f.IsBinary {
			return
		}
		if s.opts.Skip != nil && excludedPath(f.NewName, s.opts.Skip) {
			return
		}
		for _, tf := range f.TextFragments {
			fr := sources.Fragment{CommitSHA: head, FilePath: f.NewName, Raw: tf.Raw(gitdiff.OpAdd), StartLine: int(tf.NewPosition)}
			findings = append(findings, dets.find(ctx, fr)...)
		}
	})
	if err != nil {
		return nil, err
	}
	return findings, nil
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
