package config

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/vulndb"
)

// DBOptions configure `tollgate db download` and `tollgate db info`.
type DBOptions struct {
	CacheDir     string
	Repositories []string
	// JavaRepositories are the Java DB's (default Trivy's); SkipJava
	// downloads the vulnerability DB alone.
	JavaRepositories []string
	SkipJava         bool
	Username         string
	Password         string
	Quiet, Debug     bool
}

func dbFlagSet() (*pflag.FlagSet, *DBOptions) {
	o := &DBOptions{}
	fs := pflag.NewFlagSet("tollgate db", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringVar(&o.CacheDir, "cache-dir", "", "`DIR` of the vulnerability DB (default $XDG_CACHE_HOME/tollgate); env TOLLGATE_CACHE_DIR")
	fs.StringArrayVar(&o.Repositories, "db-repository", nil, "OCI `REF` of the DB, tried in order (repeatable; default mirror.gcr.io, then ghcr.io); env TOLLGATE_DB_REPOSITORY")
	fs.StringArrayVar(&o.JavaRepositories, "java-db-repository", nil, "OCI `REF` of the Java DB, which names the JAR files of images, tried in order (repeatable; default mirror.gcr.io, then ghcr.io); env TOLLGATE_JAVA_DB_REPOSITORY")
	fs.BoolVar(&o.SkipJava, "skip-java-db", false, "download the vulnerability DB only, not the Java DB (JARs in images are then not matched); env TOLLGATE_SKIP_JAVA_DB")
	fs.StringVar(&o.Username, "registry-username", "", "registry `USER` (password from TOLLGATE_REGISTRY_PASSWORD; else the docker config); env TOLLGATE_REGISTRY_USERNAME")
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "print errors only")
	fs.BoolVar(&o.Debug, "debug", false, "log every request")
	return fs, o
}

// DBUsage writes the flags of `tollgate db`.
func DBUsage(w io.Writer) {
	fs, _ := dbFlagSet()
	fmt.Fprint(w, fs.FlagUsages())
}

// ParseDB reads the flags of `tollgate db download|info`.
func ParseDB(args []string, getenv func(string) string) (DBOptions, error) {
	fs, o := dbFlagSet()
	if err := fs.Parse(args); err != nil {
		return DBOptions{}, usageErr(err)
	}
	if len(fs.Args()) > 0 {
		return DBOptions{}, usageErr(fmt.Errorf("unexpected argument %q", fs.Args()[0]))
	}
	if !fs.Changed("cache-dir") {
		o.CacheDir = getenv("TOLLGATE_CACHE_DIR")
	}
	if o.CacheDir == "" {
		o.CacheDir = vulndb.DefaultCacheDir(getenv)
	}
	if !fs.Changed("db-repository") {
		o.Repositories = scanners.SplitList(getenv("TOLLGATE_DB_REPOSITORY"))
	}
	if !fs.Changed("java-db-repository") {
		o.JavaRepositories = scanners.SplitList(getenv("TOLLGATE_JAVA_DB_REPOSITORY"))
	}
	if !fs.Changed("skip-java-db") {
		if err := scanners.SetBool(&o.SkipJava, getenv("TOLLGATE_SKIP_JAVA_DB")); err != nil && getenv("TOLLGATE_SKIP_JAVA_DB") != "" {
			return DBOptions{}, usageErr(fmt.Errorf("TOLLGATE_SKIP_JAVA_DB: %w", err))
		}
	}
	if !fs.Changed("registry-username") {
		o.Username = getenv("TOLLGATE_REGISTRY_USERNAME")
	}
	o.Password = getenv("TOLLGATE_REGISTRY_PASSWORD")
	return *o, nil
}
