package gitrepo

import (
	"context"
	"fmt"
	"strings"
)

// Resolved is the commit a ref named.
type Resolved struct {
	// Commit is the full commit ID.
	Commit string
	// Ref is the fully qualified ref that named it ("" when a commit ID
	// was given).
	Ref string
	// Shadows are other refs that git's short-name rules would have taken
	// for the same name (a tag "origin/main", a local branch
	// "origin/main"): anyone who can push a tag can make them, so they are
	// never used, and each deserves a warning.
	Shadows []string
}

// Resolve returns the commit a ref names, with fully qualified refs only:
// a branch name (main, refs/heads/main, origin/main) is the clone's copy of
// the remote branch (refs/remotes/origin/main) when it has one, else the
// local branch (refs/heads/main); another full ref (refs/...) is itself; a
// full commit ID is itself. Never a tag or a name git would guess at. ok is
// false when nothing of that name is in the clone.
func (r *Repo) Resolve(ctx context.Context, ref string) (Resolved, bool) {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\n\x00~^:?*[\\") || strings.Contains(ref, "..") || strings.Contains(ref, "@{") {
		return Resolved{}, false // never an option, a pattern or a revision expression
	}
	if (len(ref) == 40 || len(ref) == 64) && isObjectName(ref) {
		if c, err := r.output(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}"); err == nil && c != "" {
			return Resolved{Commit: c}, true
		}
		return Resolved{}, false
	}
	var want, shadows []string
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		name := strings.TrimPrefix(ref, "refs/heads/")
		want = []string{"refs/remotes/origin/" + name, ref}
		shadows = shadowsOf(name)
	case strings.HasPrefix(ref, "refs/"):
		want = []string{ref}
	default:
		name := strings.TrimPrefix(ref, "origin/")
		want = []string{"refs/remotes/origin/" + name, "refs/heads/" + name}
		shadows = shadowsOf(name)
	}
	args := []string{"for-each-ref", "--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)", "--end-of-options"}
	out, err := r.output(ctx, append(append(args, want...), shadows...)...)
	if err != nil {
		return Resolved{}, false
	}
	found := map[string]string{} // ref: commit
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\x00")
		if len(f) != 5 {
			continue
		}
		switch {
		case f[1] == "commit":
			found[f[0]] = f[2]
		case f[1] == "tag" && f[3] == "commit":
			found[f[0]] = f[4]
		default:
			found[f[0]] = ""
		}
	}
	var res Resolved
	for _, s := range shadows {
		if _, ok := found[s]; ok {
			res.Shadows = append(res.Shadows, s)
		}
	}
	for _, w := range want {
		if c := found[w]; c != "" {
			res.Commit, res.Ref = c, w
			return res, true
		}
	}
	return res, false
}

// shadowsOf are the refs that git's short-name lookup of NAME or
// origin/NAME tries before (or instead of) the remote branch: the order of
// `git rev-parse` is refs/NAME, refs/tags/NAME, refs/heads/NAME,
// refs/remotes/NAME.
func shadowsOf(name string) []string {
	return []string{
		"refs/tags/" + name, "refs/tags/origin/" + name,
		"refs/heads/origin/" + name, "refs/origin/" + name, "refs/" + name,
	}
}

// ShadowWarning says, for a warning, that refs named like the branch were
// not used.
func (r Resolved) ShadowWarning(ref string) string {
	if len(r.Shadows) == 0 {
		return ""
	}
	used := r.Ref
	if used == "" {
		used = "nothing"
	}
	return fmt.Sprintf("the clone has %s named like %s (a tag or branch anyone who can push may create): Tollgate used %s, never those",
		strings.Join(r.Shadows, ", "), ref, used)
}
