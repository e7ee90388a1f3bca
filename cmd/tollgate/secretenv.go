package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// secretEnv are the variables that carry credentials to Tollgate: the job's
// access token (SYSTEM_ACCESSTOKEN, mapped for --pr-comments) and the
// registry password. No child process (git, a helper of a library) may
// inherit them, and no process of the job's user may read them from
// /proc/PID/environ, which keeps the environment a program started with
// whatever it unsets later.
var secretEnv = []string{"SYSTEM_ACCESSTOKEN", "TOLLGATE_REGISTRY_PASSWORD"}

// secretsFDEnv names the descriptor the re-executed Tollgate reads the
// credentials from.
const secretsFDEnv = "TOLLGATE_SECRETS_FD"

// maxSecrets bounds what is handed over: it must fit a pipe's buffer.
const maxSecrets = 48 << 10

// holdSecrets takes the credentials out of the environment, once, before
// anything else runs, and returns the getenv the commands read them with.
// Where the system can (Unix), the process first replaces itself with a
// copy of itself whose environment has none of them (reexec), handing them
// over through an inherited pipe: /proc/PID/environ then shows none.
func holdSecrets() func(string) string {
	held := map[string]string{}
	if fd := os.Getenv(secretsFDEnv); fd != "" {
		_ = os.Unsetenv(secretsFDEnv)
		if n, err := strconv.Atoi(fd); err == nil && n > 2 {
			f := os.NewFile(uintptr(n), "secrets")
			b, err := io.ReadAll(io.LimitReader(f, maxSecrets))
			_ = f.Close()
			if err == nil {
				_ = json.Unmarshal(b, &held)
			}
		}
	}
	for _, name := range secretEnv {
		if v, ok := os.LookupEnv(name); ok {
			held[name] = v
			_ = os.Unsetenv(name)
		}
	}
	return func(k string) string {
		if v, ok := held[k]; ok {
			return v
		}
		if isSecretEnv(k) {
			return ""
		}
		return os.Getenv(k)
	}
}

func isSecretEnv(k string) bool {
	for _, s := range secretEnv {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

// withoutSecrets is environ less the credentials.
func withoutSecrets(environ []string) (kept []string, secrets map[string]string) {
	secrets = map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if isSecretEnv(k) {
			secrets[k] = v
			continue
		}
		if k == secretsFDEnv {
			continue
		}
		kept = append(kept, kv)
	}
	return kept, secrets
}

// reexecError is a re-execution that could not happen; Tollgate then goes
// on with the credentials unset in its own environment only.
type reexecError struct{ err error }

func (e reexecError) Error() string {
	return fmt.Sprintf("could not restart without the credentials in the environment: %v", e.err)
}
