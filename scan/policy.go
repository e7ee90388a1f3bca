package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
	"github.com/tollgate/tollgate/scanners/gitrepo"
)

// policyFiles is where the engines read repository policy files: nil for
// the checkout (each engine's confined reader of the walked root), else the
// target branch's tree or nothing.
func policyFiles(ctx context.Context, opts config.Options) checkout.Files {
	if f := opts.Policy.Files(ctx, nil); f != nil {
		return f
	}
	return nil
}

// changed reports whether the pull request changes one of the files (the
// first non-empty name counts).
func changed(p config.PolicySource, names ...string) bool {
	for _, n := range names {
		if n == "" {
			continue
		}
		for _, c := range p.Changed {
			if c.Path == n {
				return true
			}
		}
		return p.Defaults
	}
	return false
}

// policySteps are the policy processors of a scan, in order: inline
// comments, ignore entries and ignore files from the policy source, and in
// a pull-request build what the pull request's own policy would add (under
// review, never applied).
func policySteps(ctx context.Context, log *slog.Logger, opts config.Options, target *scanners.Target, now time.Time) ([]policy.Step, error) {
	files := policyFiles(ctx, opts)
	if files == nil {
		files = target.Checkout()
	}
	p := opts.Policy
	inline := policy.Inline{Review: p.PullRequest, Target: files.Origin()}
	var (
		errs      []error
		unchecked []policy.Step
	)
	if p.PullRequest && p.Commit != "" {
		added, err := addedLines(ctx, opts.Repo, p.Commit)
		if err != nil {
			errs = append(errs, fmt.Errorf("the lines this pull request adds could not be listed, so every inline suppression is under review: %w", err))
		} else {
			inline.Added = added.Has
			if opts.UncheckedFiles != "warn" {
				unchecked = append(unchecked, policy.Unchecked{Changed: added.Touches})
			}
		}
	}
	rules, err := policy.LoadIgnoreFiles(files)
	errs = append(errs, err)
	ignores := policy.Ignores{Rules: append(slices.Clone(opts.Ignore), rules...), Now: now, Log: log}
	if p.PullRequest {
		ignores.Lines = &inline
	}
	// The unchecked files' findings first, so that an ignore entry (of the
	// target branch) can accept one like any other finding.
	steps := append(unchecked, inline, ignores)
	if p.PullRequest {
		proposed := slices.Clone(opts.ProposedIgnores)
		if own, err := policy.LoadIgnoreFiles(target.Checkout()); err == nil {
			for _, r := range own {
				r.Source = "the pull request's " + r.Source
				proposed = append(proposed, r)
			}
		}
		steps = append(steps, policy.Proposed{Rules: proposed, Target: files.Origin(), Now: now, Log: log})
	}
	return steps, errors.Join(errs...)
}

// addedLines lists the lines the checkout's commit (HEAD) adds against the
// target commit: from their merge base when the clone has it (exactly the
// pull request's changes), else from the target itself.
func addedLines(ctx context.Context, repo *gitrepo.Repo, target string) (gitrepo.Added, error) {
	if repo == nil {
		return nil, gitrepo.ErrNoGit
	}
	base := target
	if mb := repo.MergeBase(ctx, target, "HEAD"); mb != "" {
		base = mb
	}
	return repo.AddedLines(ctx, base, "HEAD")
}

// loadBaseline reads the baseline: the pipeline author's file (through the
// checkout's confined reader when it lies in the checkout), or the one the
// repository's .tollgate.yaml names, from the policy source.
func loadBaseline(ctx context.Context, opts config.Options) (*policy.BaselineSet, error) {
	var (
		b    []byte
		err  error
		name string
	)
	switch {
	case opts.Baseline != "":
		name = opts.Baseline
		root, rerr := checkout.Open(opts.Path)
		if rerr != nil {
			return nil, rerr
		}
		defer root.Close()
		abs, _ := filepath.Abs(opts.Baseline)
		if rel, rerr := root.Rel(abs, ""); rerr == nil {
			b, err = root.ReadFile(rel, policy.MaxBaselineSize)
		} else {
			b, err = checkout.ReadTrusted(opts.Baseline, policy.MaxBaselineSize)
		}
	case opts.RepoBaseline != "":
		name = opts.RepoBaseline
		files := policyFiles(ctx, opts)
		if files == nil {
			root, rerr := checkout.Open(opts.Path)
			if rerr != nil {
				return nil, rerr
			}
			defer root.Close()
			files = root
		}
		b, err = files.ReadFile(opts.RepoBaseline, policy.MaxBaselineSize)
		name += " (from " + files.Origin() + ")"
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	set, err := report.ReadBaseline(b)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	set.Source = name
	return set, nil
}
func policyReport(ctx context.Context, opts config.Options) report.PolicyReport {
	pr := report.PolicyReport{Origin: "the checkout", PullRequest: opts.Policy.PullRequest}
	if files := policyFiles(ctx, opts); files != nil {
		pr.Origin = files.Origin()
	}
	for _, c := range opts.Policy.Changed {
		pr.Changes = append(pr.Changes, report.PolicyChange{Path: c.Path, Change: c.Change})
	}
	return pr
}
