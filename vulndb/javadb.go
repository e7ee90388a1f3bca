package vulndb

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/javadb"

	// The SQLite driver the Java DB is read with (trivy-java-db opens
	// "sqlite"); pure Go, as the rest of the build.
	_ "modernc.org/sqlite"
)

// JavaSchemaVersion is the trivy-java-db schema this build reads.
const JavaSchemaVersion = javadb.SchemaVersion

// JavaMediaType is the media type of the Java DB layer in its OCI artifact.
const JavaMediaType = "application/vnd.aquasec.trivy.javadb.layer.v1.tar+gzip"

// DefaultJavaRepositories are the Java DB's OCI repositories, in the order
// Trivy tries them.
var DefaultJavaRepositories = []string{
	fmt.Sprintf("mirror.gcr.io/aquasec/trivy-java-db:%d", JavaSchemaVersion),
	fmt.Sprintf("ghcr.io/aquasecurity/trivy-java-db:%d", JavaSchemaVersion),
}

// JavaDir is the Java DB directory inside a cache directory (Trivy's
// layout: java-db/trivy-java.db and its metadata.json).
func JavaDir(cacheDir string) string { return filepath.Join(cacheDir, "java-db") }

func javaKind() kind {
	return kind{what: "Java DB", mediaType: JavaMediaType, file: "trivy-java.db", dir: JavaDir, schema: JavaSchemaVersion, defaults: DefaultJavaRepositories}
}

// ReadJavaMetadata reads and checks the metadata of the Java DB in a cache
// directory; errors.Is(err, ErrMissing) when there is none.
func ReadJavaMetadata(cacheDir string) (Metadata, error) {
	return readMetadata(javaKind(), JavaDir(cacheDir))
}

// DownloadJava fetches Trivy's Java DB (the SHA-1 index of Maven Central
// that names the JAR files of an image) into cacheDir/java-db, from
// opt.Repositories (default DefaultJavaRepositories), with the same
// retries and mirrors as the vulnerability DB.
func DownloadJava(ctx context.Context, cacheDir string, opt DownloadOptions) (Metadata, error) {
	return download(ctx, javaKind(), cacheDir, opt)
}

// javaMu guards Trivy's process-wide Java DB settings (javadb.Init), which
// its JAR analyzer reads: one image scan at a time uses them.
var javaMu sync.Mutex

// UseJavaDB points Trivy's JAR analyzer at the Java DB of cacheDir, never
// downloading (the DB must be on disk: ReadJavaMetadata), until release is
// called.
func UseJavaDB(cacheDir string) (release func()) {
	javaMu.Lock()
	javadb.Init(cacheDir, nil, true, true, ftypes.RegistryOptions{})
	return javaMu.Unlock
}
