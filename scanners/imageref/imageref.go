// Package imageref parses the image references Tollgate scans (--image
// values and discovered references), without pulling in Trivy.
package imageref

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tollgate/tollgate/scanners"
)

// Source is where an image is read from.
type Source string

// Image sources, as prefixes of --image.
const (
	// Auto tries the local docker daemon, then the registry, like Trivy.
	Auto          Source = ""
	Daemon        Source = "docker"
	Registry      Source = "registry"
	DockerArchive Source = "docker-archive"
	OCILayout     Source = "oci-layout"
)

// Origin says who asked for an image, and so what it may be given.
type Origin int

// Origins, least trusted first.
const (
	// Discovered images are referenced by the checkout's files (Dockerfile
	// FROM, manifests): pulled only from allowed registries, never with the
	// pipeline's registry credentials unless their host is a pipeline
	// image's; one that cannot be scanned is a warning.
	Discovered Origin = iota
	// Repository images are named by the checkout's .tollgate.yaml: pulled as
	// discovered ones are, but one that cannot be scanned fails the engine.
	Repository
	// Pipeline images are given with --image or the task's images input:
	// their registry hosts receive the registry credentials and are allowed
	// for discovery; one that cannot be scanned fails the engine.
	Pipeline
)

// Ref is one image to scan.
type Ref struct {
	Source Source
	// Name is the image reference (daemon, registry, auto) or the path
	// (docker-archive, oci-layout).
	Name string
	// Places are the checkout lines that reference the image (discovery).
	Places []scanners.Location
	// Origin is who asked for the image.
	Origin Origin
	// DaemonOnly is set on a discovered image whose registry is not allowed:
	// it is looked up in the local docker daemon only, never pulled.
	DaemonOnly bool
}

// ShardKey names the image for --shard: its reference, or for an archive
// or layout its source and file name (agents of one pipeline may keep the
// file in different folders).
func (r Ref) ShardKey() string {
	if r.Source == DockerArchive || r.Source == OCILayout {
		return string(r.Source) + ":" + filepath.Base(r.Name)
	}
	return r.Name
}

// Registry is the registry host of a named image ("docker.io" for Docker
// Hub in every spelling), lower-case; "" for archives and bad names.
func (r Ref) Registry() string {
	if r.Source == DockerArchive || r.Source == OCILayout {
		return ""
	}
	ref, err := name.ParseReference(r.Name)
	if err != nil {
		return ""
	}
	return NormalizeHost(ref.Context().RegistryStr())
}

// Repository is the registry host and repository path of a named image
// ("docker.io/library/alpine"), the scope registry credentials are given
// for; "" for archives and bad names.
func (r Ref) Repository() string {
	if r.Source == DockerArchive || r.Source == OCILayout {
		return ""
	}
	return RepositoryOf(r.Name)
}

// RepositoryOf is the normalized host and repository path of an image
// reference or repository name ("" when it does not parse): Docker Hub's
// host spelled docker.io, the host lower-case, tag and digest dropped.
func RepositoryOf(s string) string {
	ref, err := name.ParseReference(s)
	if err != nil {
		repo, rerr := name.NewRepository(s)
		if rerr != nil {
			return ""
		}
		return NormalizeHost(repo.RegistryStr()) + "/" + repo.RepositoryStr()
	}
	return NormalizeHost(ref.Context().RegistryStr()) + "/" + ref.Context().RepositoryStr()
}

// NormalizeHost lower-cases a registry host and names Docker Hub docker.io.
func NormalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	switch h {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return h
}

// String is the reference as the user writes it.
func (r Ref) String() string {
	if r.Source == Auto {
		return r.Name
	}
	return string(r.Source) + ":" + r.Name
}

// ParseRef reads an --image value: docker:NAME, registry:REF,
// docker-archive:PATH, oci-layout:PATH, or a plain NAME.
func ParseRef(s string) (Ref, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Ref{}, fmt.Errorf("empty image reference")
	}
	for _, src := range []Source{DockerArchive, OCILayout, Registry, Daemon} {
		if rest, ok := strings.CutPrefix(s, string(src)+":"); ok {
			if rest == "" {
				return Ref{}, fmt.Errorf("image %q: nothing after %q", s, src+":")
			}
			r := Ref{Source: src, Name: rest}
			if src == Daemon || src == Registry {
				if _, err := name.ParseReference(rest); err != nil {
					return Ref{}, fmt.Errorf("image %q: %w", s, err)
				}
			}
			return r, nil
		}
	}
	if looksLikePath(s) {
		return Ref{}, fmt.Errorf("image %q looks like a path: prefix it with docker-archive: (a `docker save` tarball) or oci-layout: (an OCI layout directory)", s)
	}
	if _, err := name.ParseReference(s); err != nil {
		return Ref{}, fmt.Errorf("image %q: %w", s, err)
	}
	return Ref{Source: Auto, Name: s}, nil
}

// Identity returns the name findings show and the repository their
// fingerprints use: the name without tag or digest, the part of an image's
// identity that survives a rebuild. An archive is named by the tag it was
// saved with, else by its file name, never by its absolute path.
func (r Ref) Identity(repoTags []string) (display, repository string) {
	display = r.Name
	if r.Source == DockerArchive || r.Source == OCILayout {
		display = filepath.Base(r.Name)
		if len(repoTags) > 0 {
			display = repoTags[0]
		}
	}
	ref, err := name.ParseReference(display)
	if err != nil {
		return display, display
	}
	return display, ref.Context().Name()
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasSuffix(s, ".tar") || strings.HasSuffix(s, ".tar.gz") || strings.HasSuffix(s, ".tgz")
}

// Package types, as for --pkg-types.
const (
	PkgTypeOS      = "os"
	PkgTypeLibrary = "library"
)

// ValidatePkgTypes reports unknown --pkg-types values.
func ValidatePkgTypes(v []string) error {
	for _, t := range v {
		if t != PkgTypeOS && t != PkgTypeLibrary {
			return fmt.Errorf("unknown package type %q (want os, library)", t)
		}
	}
	return nil
}
