package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
	"github.com/tollgate/tollgate/scanners/gitrepo"
)

// Policy files: what a repository says about its own gate. In a pull-request
// build they are read from the target branch, because the pull request is
// what the gate judges (see PolicySource).
const (
	GitleaksConfigFile  = ".gitleaks.toml"
	GitleaksIgnoreFile  = ".gitleaksignore"
	TrivyIgnoreFile     = ".trivyignore"
	TrivyIgnoreYAMLFile = ".trivyignore.yaml"
)

// PolicyFileNames are the policy files every scan reads from the policy
// source, beside the ones the repository's .tollgate.yaml names.
func PolicyFileNames() []string {
	return []string{DefaultFile, GitleaksConfigFile, GitleaksIgnoreFile, TrivyIgnoreFile, TrivyIgnoreYAMLFile}
}

// PolicyFrom values.
const (
	// PolicyAuto reads policy from the target branch in a pull-request build
	// and from the checkout otherwise.
	PolicyAuto = "auto"
	// PolicyCheckout always reads policy from the checkout (the pull
	// request's own policy applies to it).
	PolicyCheckout = "checkout"
)

// PolicySource says where a scan reads repository policy files from.
type PolicySource struct {
	// PullRequest is true in a pull-request build whose policy does not come
	// from the checkout.
	PullRequest bool
	// Commit and Name are the target branch's commit and how messages name
	// it ("main (1a2b3c4d5e6f)"); empty outside pull-request builds.
	Commit, Name string
	// Defaults is true when the target could not be read: the built-in
	// defaults apply, never the pull request's own files. Why says why.
	Defaults bool
	Why      string
	// From names what asked for it: --policy-from, SYSTEM_PULLREQUEST_TARGETBRANCH, GITHUB_BASE_REF.
	From string
	// Changed are the policy files the pull request changes, with what
	// they would change.
	Changed []PolicyChange
	// repo reads the target's files.
	repo *gitrepo.Repo
}

// PolicyChange is a policy file that differs between the target branch and
// the checkout: shown in the reports, not applied.
type PolicyChange struct {
	// Path is the root-relative file.
	Path string
	// Change is "added", "modified" or "deleted".
	Change string
}

// Files returns the reader of policy files: the checkout's root, the target
// branch's tree, or nothing (the built-in defaults).
func (p PolicySource) Files(ctx context.Context, root checkout.Files) checkout.Files {
	switch {
	case p.Defaults:
		return checkout.None{Why: p.Why}
	case p.Commit != "" && p.repo != nil:
		return p.repo.Tree(ctx, p.Commit, p.Name)
	default:
		return root
	}
}

// resolvePolicy decides where policy comes from: --policy-from, else the
// pull request's target branch named by the CI system, else the checkout.
func resolvePolicy(ctx context.Context, repo *gitrepo.Repo, policyFrom string, getenv func(string) string) (PolicySource, []scanners.Notification) {
	ref, from := "", ""
	switch policyFrom {
	case PolicyCheckout:
		return PolicySource{}, nil
	case "", PolicyAuto:
		if ref, from = scanners.PullRequestTarget(getenv); ref == "" {
			return PolicySource{}, nil
		}
	default:
		ref, from = policyFrom, "--policy-from"
	}
	src := PolicySource{PullRequest: true, From: from}
	short := strings.TrimPrefix(ref, "refs/heads/")
	fallback := func(why string) (PolicySource, []scanners.Notification) {
		src.Defaults, src.Why = true, why
		return src, []scanners.Notification{{Level: scanners.LevelWarning, Code: "policy-target-unreadable",
			Message: fmt.Sprintf("this is a pull-request build (%s=%s), so repository policy (.tollgate.yaml, .gitleaksignore, .gitleaks.toml, .trivyignore, inline gitleaks:allow and trivy:ignore) comes from the target branch, but %s: the built-in defaults apply, not the pull request's own policy files. Fetch the target branch: `fetchDepth: 0` on the Azure Pipelines checkout step (GitHub Actions: `fetch-depth: 0`), or `git fetch origin %s`",
				from, short, why, short)}}
	}
	if repo == nil {
		return fallback("the scan root is not a git checkout")
	}
	res, ok := repo.Resolve(ctx, ref)
	var notes []scanners.Notification
	if w := res.ShadowWarning(ref); w != "" {
		notes = append(notes, scanners.Notification{Level: scanners.LevelWarning, Code: "ref-shadowed", Message: w})
	}
	if !ok {
		src, more := fallback(fmt.Sprintf("the target branch %s is not in the clone (as refs/remotes/origin/%s or refs/heads/%s)", short, short, short))
		return src, append(notes, more...)
	}
	src.Commit, src.repo = res.Commit, repo
	src.Name = fmt.Sprintf("%s (%s)", short, res.Commit[:min(12, len(res.Commit))])
	return src, notes
}

// policyChanges compares each policy file of the target with the checkout's.
func policyChanges(target, checkoutFiles checkout.Files, paths []string) []PolicyChange {
	var out []PolicyChange
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		a, errA := target.ReadFile(p, MaxPolicyFileSize)
		b, errB := checkoutFiles.ReadFile(p, MaxPolicyFileSize)
		missingA, missingB := errors.Is(errA, fs.ErrNotExist), errors.Is(errB, fs.ErrNotExist)
		switch {
		case missingA && missingB:
		case missingA:
			out = append(out, PolicyChange{Path: p, Change: "added"})
		case missingB:
			out = append(out, PolicyChange{Path: p, Change: "deleted"})
		case errA != nil || errB != nil || !bytes.Equal(a, b):
			out = append(out, PolicyChange{Path: p, Change: "modified"})
		}
	}
	return out
}

// MaxPolicyFileSize bounds every policy file read from a policy source.
const MaxPolicyFileSize = 4 << 20
