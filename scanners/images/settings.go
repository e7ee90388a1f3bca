package images

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/imageref"
)

// DefaultDiscoverRegistries are the public registries a Dockerfile or a
// manifest usually names: discovered images are pulled only from these, the
// hosts of --image, and --discover-registry.
func DefaultDiscoverRegistries() []string {
	return []string{"docker.io", "mcr.microsoft.com", "ghcr.io", "gcr.io", "quay.io", "registry.k8s.io", "public.ecr.aws"}
}

// DefaultOptions are the image engine's options before any setting.
func DefaultOptions() *Options { return &Options{Discover: true} }

// Bind implements scanners.EngineOptions: the image engine's flags,
// .tollgate.yaml keys (the image section) and task inputs. The registry
// password is read from TOLLGATE_REGISTRY_PASSWORD only (FromEnv).
func (o *Options) Bind() []scanners.Setting {
	on := func(dst *bool) func(string) error { return func(v string) error { return scanners.SetBool(dst, v) } }
	return []scanners.Setting{
		{Flag: "image", Repo: true, Arg: "REF", Key: "image.images", TaskInput: "images", TaskLines: true,
			Usage: "image to scan (repeatable): NAME (daemon, then registry), docker:NAME, registry:REF, docker-archive:PATH, oci-layout:PATH",
			Set: func(v string) error {
				for _, ref := range scanners.SplitList(v) {
					if _, err := imageref.ParseRef(ref); err != nil {
						return err
					}
					o.Images = append(o.Images, ref)
				}
				return nil
			},
			// The checkout's images are pulled as the images it references
			// are (never with the pipeline's credentials), and by reference
			// only.
			SetRepo: func(v string, warn func(string)) error {
				for _, ref := range scanners.SplitList(v) {
					r, err := imageref.ParseRef(ref)
					if err != nil {
						return err
					}
					if r.Source == imageref.DockerArchive || r.Source == imageref.OCILayout {
						warn(fmt.Sprintf("%q is an image archive; the checkout's configuration may name images by reference only (give archives with --image); ignored", ref))
						continue
					}
					o.RepoImages = append(o.RepoImages, ref)
				}
				return nil
			}},
		{Flag: "discover-images", Repo: true, Key: "image.discover", Bool: true, Default: "true", TaskInput: "discoverImages",
			Usage: "also scan the images the checkout references (Dockerfile FROM, Kubernetes and Compose image:)", Set: on(&o.Discover)},
		{Flag: "ignore-unfixed", Repo: true, Key: "image.ignore-unfixed", Bool: true, TaskInput: "ignoreUnfixed",
			Usage: "report only vulnerabilities that have a fixed version", Set: on(&o.IgnoreUnfixed)},
		{Flag: "pkg-types", Repo: true, Arg: "TYPES", Key: "image.pkg-types", Usage: "package types to check: os, library (default both)",
			Set: func(v string) error {
				o.PkgTypes = scanners.SplitList(v)
				return imageref.ValidatePkgTypes(o.PkgTypes)
			}},
		{Flag: "offline", Bool: true, TaskInput: "offline",
			Usage: "never download the vulnerability DB; a missing DB fails the image engine (exit 3)", Set: on(&o.Offline)},
		{Flag: "skip-db-update", Key: "image.skip-db-update", Bool: true,
			Usage: "use the DB on disk even when an update is due", Set: on(&o.SkipDBUpdate)},
		{Flag: "db-repository", Key: "image.db-repositories", TaskInput: "dbRepository", TaskLines: true,
			Usage: "OCI `REF` of the vulnerability DB, tried in order (repeatable; default Trivy's mirror.gcr.io, then ghcr.io)",
			Set: func(v string) error {
				o.DBRepositories = append(o.DBRepositories, scanners.SplitList(v)...)
				return nil
			}},
		{Flag: "registry-username", Arg: "USER", Key: "image.registry-username",
			Usage: "registry user (the password comes from TOLLGATE_REGISTRY_PASSWORD; else the docker config is used)",
			Set:   func(v string) error { o.Username = v; return nil }},
		{Flag: "insecure-registry", Key: "image.insecure-registry", Bool: true,
			Usage: "allow registries over plain HTTP or with untrusted certificates", Set: on(&o.Insecure)},
		{Flag: "docker-host", Arg: "ADDRESS", Key: "image.docker-host", Usage: "docker daemon address (default DOCKER_HOST or the local socket)",
			Set: func(v string) error { o.DockerHost = v; return nil }},
		{Flag: "discover-registry", Key: "image.discover-registries", TaskInput: "discoverRegistries", TaskLines: true,
			Usage: "registry `HOST` that discovered images may be pulled from (repeatable; default: " + strings.Join(DefaultDiscoverRegistries(), ", ") + ", and the hosts of --image)",
			Set: func(v string) error {
				for _, h := range scanners.SplitList(v) {
					o.DiscoverRegistries = append(o.DiscoverRegistries, strings.ToLower(h))
				}
				return nil
			}},
	}
}

// FromEnv implements scanners.EnvDefaults: secrets never come from flags
// or files.
func (o *Options) FromEnv(getenv func(string) string) {
	o.Password = getenv("TOLLGATE_REGISTRY_PASSWORD")
}

// Requested implements scanners.Requester: the images the user named.
func (o *Options) Requested() (string, []string) {
	return "image", append(slices.Clone(o.Images), o.RepoImages...)
}
