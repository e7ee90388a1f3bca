package secrets

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	_ "unsafe" // for go:linkname, see extendDepth

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// gitleaks loads configuration through the process-wide viper instance and
// counts "[extend]" loads in a package variable that is never reset, so that
// `useDefault = true` only works for the first two loads of a process. We
// serialise loads and reset the counter before each one, so every load
// behaves like the first one in a fresh gitleaks process.
//
//go:linkname extendDepth github.com/zricethezav/gitleaks/v8/config.extendDepth
var extendDepth int

// loadMu guards viper's global instance and extendDepth during a load. It is
// the one piece of package state here, forced on us by gitleaks' globals.
var loadMu sync.Mutex

// LoadConfig reads a gitleaks TOML configuration. content nil means
// gitleaks' default rules. name is used in error messages.
func LoadConfig(name string, content []byte) (cfg config.Config, err error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	// gitleaks compiles rule regexes with MustCompile: a bad pattern in a
	// user's .gitleaks.toml panics. Turn that into an error naming the file.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("gitleaks config %s: %v", name, p)
		}
	}()
	if content == nil {
		content = []byte(config.DefaultConfig)
	}
	viper.Reset()
	defer viper.Reset()
	extendDepth = 0
	viper.SetConfigType("toml")
	if err := viper.ReadConfig(bytes.NewReader(content)); err != nil {
		return config.Config{}, fmt.Errorf("gitleaks config %s: %w", name, err)
	}
	var vc config.ViperConfig
	if err := viper.Unmarshal(&vc); err != nil {
		return config.Config{}, fmt.Errorf("gitleaks config %s: %w", name, err)
	}
	cfg, err = vc.Translate()
	if err != nil {
		return config.Config{}, fmt.Errorf("gitleaks config %s: %w", name, err)
	}
	return cfg, nil
}

// readConfigFile returns the file's content, or nil when it does not exist.
func readConfigFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gitleaks config: %w", err)
	}
	return b, nil
}
