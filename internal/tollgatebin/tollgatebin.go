// Package tollgatebin gives end-to-end tests the tollgate binary they run.
//
// CI (.ci/run) sets TOLLGATE_BINARY to the binary GoReleaser built for this
// machine, the one the release archive holds: the tests then run what ships
// (static, trimmed, stripped, version stamped) and no test links a binary of
// its own. Without it, the binary is built once per test process from the
// module's source with the flags the release uses.
package tollgatebin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Env names the variable that points at a prebuilt binary.
const Env = "TOLLGATE_BINARY"

// Path returns the binary to run: $TOLLGATE_BINARY when it is set (it must
// exist), else a build of repoRoot's cmd/tollgate into dir. The caller owns
// dir (a TestMain's temporary folder, removed when the tests end).
func Path(ctx context.Context, repoRoot, dir string) (string, error) {
	if p := os.Getenv(Env); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", Env, p, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", Env, p, err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("%s=%s: not an executable file", Env, p)
		}
		return abs, nil
	}
	bin := filepath.Join(dir, "tollgate")
	// What .goreleaser.yaml and the Dockerfile set; GOFLAGS from the
	// environment (CI's -trimpath, -tags gore2regex) add to it.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "gore2regex", "-o", bin, "./cmd/tollgate")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=jsonv2", "CGO_ENABLED=0")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("building tollgate: %w\n%s", err, out.String())
		}
		return "", fmt.Errorf("building tollgate: %w", err)
	}
	return bin, nil
}

// TargetsEnv narrows the release archives GoReleaser builds: unset or "all"
// builds one per agent platform (.goreleaser.yaml), "linux_amd64" that one
// alone (what .ci/run builds, installs and runs on its machines).
const TargetsEnv = "TOLLGATE_RELEASE_TARGETS"

// Released reports whether the release archives (dist/) hold the one for
// goos/goarch, by TOLLGATE_RELEASE_TARGETS; another value is an error.
func Released(goos, goarch string) (bool, error) {
	switch v := os.Getenv(TargetsEnv); v {
	case "", "all":
		return true, nil
	case "linux_amd64":
		return goos+"_"+goarch == v, nil
	default:
		return false, fmt.Errorf("%s=%q: want all or linux_amd64", TargetsEnv, v)
	}
}
