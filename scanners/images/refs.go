package images

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/imageref"
)

// refs merges the --image values with the discovered references.
func (s *Engine) refs(ctx context.Context, t *scanners.Target, res *scanners.Result) ([]Ref, error) {
	var refs []Ref
	seen := map[string]int{}
	add := func(r Ref) {
		key := r.String()
		if i, ok := seen[key]; ok {
			refs[i].Places = append(refs[i].Places, r.Places...)
			return
		}
		seen[key] = len(refs)
		refs = append(refs, r)
	}
	for _, v := range s.opts.Images {
		r, err := ParseRef(v)
		if err != nil {
			return nil, err
		}
		if (r.Source == DockerArchive || r.Source == OCILayout) && !filepath.IsAbs(r.Name) {
			if abs, err := filepath.Abs(r.Name); err == nil {
				r.Name = abs
			}
		}
		r.Origin = imageref.Pipeline
		add(r)
	}
	allowed := s.allowedRegistries()
	untrusted := func(r Ref) (Ref, bool) {
		if r.Source == DockerArchive || r.Source == OCILayout {
			return r, false // never from the checkout's files
		}
		if host := r.Registry(); !slices.Contains(allowed, host) {
			r.Source, r.DaemonOnly = Daemon, true
		}
		return r, true
	}
	for _, v := range s.opts.RepoImages {
		r, err := ParseRef(v)
		if err != nil {
			return nil, err
		}
		r.Origin = imageref.Repository
		if r, ok := untrusted(r); ok {
			add(r)
		}
	}
	if s.opts.Discover && t != nil {
		found, notes := Discover(ctx, t)
		for _, n := range notes {
			res.Status.Add(n)
		}
		for _, f := range found {
			if r, ok := untrusted(Ref{Source: Auto, Name: f.Image, Places: []scanners.Location{f.Location}}); ok {
				add(r)
			}
		}
	}
	return refs, nil
}

// allowedRegistries are the hosts discovered and repository images may be
// pulled from: DiscoverRegistries and the pipeline images' hosts.
func (s *Engine) allowedRegistries() []string {
	var out []string
	for _, h := range s.opts.DiscoverRegistries {
		out = append(out, imageref.NormalizeHost(h))
	}
	return append(out, s.credentialHosts()...)
}

// credentialHosts are the registry hosts of the pipeline's images, where
// repository images may be pulled from.
func (s *Engine) credentialHosts() []string {
	var out []string
	for _, v := range s.opts.Images {
		if r, err := ParseRef(v); err == nil {
			if h := r.Registry(); h != "" && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// credentialScopes are the repositories (host and path) the registry
// credentials are sent to: the pipeline's images, never another repository
// on their hosts (an image a pull request names in a FROM line, another
// team's), and the DB repositories the pipeline names (--db-repository).
func (s *Engine) credentialScopes() []string {
	var out []string
	add := func(repo string) {
		if repo != "" && !slices.Contains(out, repo) {
			out = append(out, repo)
		}
	}
	for _, v := range s.opts.Images {
		if r, err := ParseRef(v); err == nil {
			add(r.Repository())
		}
	}
	for _, v := range s.opts.DBRepositories {
		add(imageref.RepositoryOf(v))
	}
	return out
}
