package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/zricethezav/gitleaks/v8/config"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
)

// loadConfig compiles the configuration with Tollgate's additions; added
// are the rules the extra rules brought.
func (s *Engine) loadConfig(src configSource) (config.Config, map[string]bool, error) {
	cfg, err := LoadConfigWith(src.name, src.content, src.readExtend)
	if err != nil {
		return cfg, nil, err
	}
	if !s.opts.NoEmulatorAllowlist {
		lists, err := EmulatorAllowlists()
		if err != nil {
			return cfg, nil, err
		}
		cfg.Allowlists = append(cfg.Allowlists, lists...)
	}
	if s.opts.NoExtraRules {
		return cfg, nil, nil
	}
	extra, err := ExtraRules()
	if err != nil {
		return cfg, nil, err
	}
	return cfg, mergeRules(&cfg, extra), nil
}

// configSource is the gitleaks configuration as read, not yet compiled:
// content nil means gitleaks' default rules.
type configSource struct {
	content    []byte
	name, rel  string
	readExtend ExtendReader
}

// readConfig finds the gitleaks configuration: the pipeline author's file
// (confined to the checkout when it lies in it, since the checkout's copy
// is the pull request's), else the repository's from the policy source.
// content nil means gitleaks' default rules.
func (s *Engine) readConfig(t *scanners.Target) (configSource, error) {
	root := t.Checkout()
	if p := s.opts.ConfigPath; p != "" {
		if r, rerr := root.Rel(p, ""); rerr == nil {
			content, err := root.ReadFile(r, maxConfigSize)
			return configSource{content, p, r, filesExtendReader(root)}, configErr(p, err)
		}
		content, err := checkout.ReadTrusted(p, maxConfigSize)
		return configSource{content, p, "", s.trustedExtendReader(t)}, configErr(p, err)
	}
	files := s.policy(t)
	rel := s.opts.RepoConfig
	if rel == "" {
		rel = configFile
	}
	content, err := files.ReadFile(rel, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) && s.opts.RepoConfig == "" {
		return configSource{name: "default"}, nil
	}
	name := rel
	if _, inCheckout := files.(*checkout.Root); !inCheckout {
		name = rel + " (" + files.Origin() + ")"
	}
	return configSource{content, name, rel, filesExtendReader(files)}, configErr(name, err)
}

// trustedExtendReader reads the [extend] paths of the pipeline's own
// configuration (outside the checkout) as gitleaks does, relative to the
// working directory, except that a file of the scan root is read from the
// policy source: in a pull-request build the target branch's copy, never
// the pull request's.
func (s *Engine) trustedExtendReader(t *scanners.Target) ExtendReader {
	root := t.Checkout()
	return func(p string) ([]byte, error) {
		if abs, err := filepath.Abs(p); err == nil {
			if rel, err := root.Rel(abs, ""); err == nil {
				return s.policy(t).ReadFile(rel, maxConfigSize)
			}
		}
		return fileExtendReader(p)
	}
}

func (s *Engine) policy(t *scanners.Target) checkout.Files {
	if s.opts.Policy != nil {
		return s.opts.Policy
	}
	return t.Checkout()
}

func configErr(name string, err error) error {
	if err == nil {
		return nil
	}
	var re *checkout.RefusedError
	if errors.As(err, &re) {
		return fmt.Errorf("gitleaks config %s: %s", name, re.Reason)
	}
	return fmt.Errorf("gitleaks config %s: %w", name, err)
}
