package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
)

// DefaultFile is read from the scan root when --config is not given.
const DefaultFile = ".tollgate.yaml"

// maxConfigSize bounds .tollgate.yaml: it comes from the scanned repository.
const maxConfigSize = 1 << 20

// fileValue is one setting read from the file, in flag syntax.
type fileValue struct {
	value string
	line  int
}

// fileConfig is a parsed .tollgate.yaml.
type fileConfig struct {
	path         string
	values       map[string]fileValue // by key path, e.g. "secrets.config"
	ruleSeverity map[string]scanners.Severity
	ignores      []policy.IgnoreRule
}

// loadFile parses a .tollgate.yaml. Unknown keys are errors that name the
// key and its line: a typo must not silently disable a setting.
func loadFile(path string) (*fileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, maxConfigSize)
	}
	fc, err := parseFile(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	fc.path = path
	return fc, nil
}

func parseFile(b []byte) (*fileConfig, error) {
	fc := &fileConfig{values: map[string]fileValue{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fc, nil // an empty file is a valid, empty configuration
		}
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return fc, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must be a mapping of settings", root.Line)
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.fileKey()] = true
	}
	if err := fc.walk(root, "", known); err != nil {
		return nil, err
	}
	return fc, nil
}

// sections are the keys that hold nested settings.
var sections = map[string]bool{"secrets": true, "iac": true, "image": true}

func (fc *fileConfig) walk(m *yaml.Node, prefix string, known map[string]bool) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := prefix + k.Value
		switch {
		case prefix == "" && sections[key]:
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: %s must be a mapping", v.Line, key)
			}
			if err := fc.walk(v, key+".", known); err != nil {
				return err
			}
		case key == "ignore":
			if err := fc.ignoreEntries(v); err != nil {
				return err
			}
		case key == "secrets.rule-severity":
			if err := fc.ruleSeverities(v); err != nil {
				return err
			}
		case key == "fail-on" && v.Kind == yaml.MappingNode:
			val, err := failOnMap(v)
			if err != nil {
				return err
			}
			fc.values[key] = fileValue{value: val, line: v.Line}
		case known[key]:
			val, err := scalarOrList(key, v)
			if err != nil {
				return err
			}
			fc.values[key] = fileValue{value: val, line: v.Line}
		default:
			return fmt.Errorf("line %d: unknown key %q", k.Line, key)
		}
	}
	return nil
}

func scalarOrList(key string, v *yaml.Node) (string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		return v.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("line %d: %s: list items must be plain values", item.Line, key)
			}
			if strings.Contains(item.Value, ",") {
				return "", fmt.Errorf("line %d: %s: %q must not contain a comma", item.Line, key, item.Value)
			}
			parts = append(parts, item.Value)
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("line %d: %s must be a value or a list", v.Line, key)
	}
}

// failOnMap turns {default: high, secrets: low} into "high,secrets=low".
func failOnMap(v *yaml.Node) (string, error) {
	var parts []string
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if val.Kind != yaml.ScalarNode {
			return "", fmt.Errorf("line %d: fail-on.%s must be a severity", val.Line, k.Value)
		}
		if k.Value == "default" {
			parts = append([]string{val.Value}, parts...)
		} else {
			parts = append(parts, k.Value+"="+val.Value)
		}
	}
	return strings.Join(parts, ","), nil
}

func (fc *fileConfig) ruleSeverities(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: secrets.rule-severity must map rule IDs to severities", v.Line)
	}
	fc.ruleSeverity = map[string]scanners.Severity{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		sev, err := scanners.ParseSeverity(val.Value)
		if err != nil {
			return fmt.Errorf("line %d: secrets.rule-severity.%s: %w", val.Line, k.Value, err)
		}
		fc.ruleSeverity[k.Value] = sev
	}
	return nil
}

// ignoreKeys are the keys of an ignore entry.
var ignoreKeys = map[string]bool{"id": true, "path": true, "fingerprint": true, "image": true, "package": true, "reason": true, "expires": true}

func (fc *fileConfig) ignoreEntries(v *yaml.Node) error {
	if v.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: ignore must be a list of entries", v.Line)
	}
	for _, e := range v.Content {
		if e.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: an ignore entry must be a mapping (id, path, fingerprint, image, package, reason, expires)", e.Line)
		}
		r := policy.IgnoreRule{Source: fmt.Sprintf("%s:%d", DefaultFile, e.Line)}
		for i := 0; i+1 < len(e.Content); i += 2 {
			k, val := e.Content[i], e.Content[i+1]
			if !ignoreKeys[k.Value] {
				return fmt.Errorf("line %d: unknown key %q in ignore entry (want id, path, fingerprint, image, package, reason, expires)", k.Line, k.Value)
			}
			if val.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: ignore.%s must be a plain value", val.Line, k.Value)
			}
			switch k.Value {
			case "id":
				r.ID = val.Value
			case "path":
				r.Path = val.Value
			case "fingerprint":
				r.Fingerprint = val.Value
			case "image":
				r.Image = val.Value
			case "package":
				r.Package = val.Value
			case "reason":
				r.Reason = val.Value
			case "expires":
				t, err := policy.ParseExpires(val.Value)
				if err != nil {
					return fmt.Errorf("line %d: ignore.expires: %w", val.Line, err)
				}
				r.Expires = t
			}
		}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("line %d: %w", e.Line, err)
		}
		fc.ignores = append(fc.ignores, r)
	}
	return nil
}

// apply sets every value of the file that no flag or environment variable
// already set.
func (fc *fileConfig) apply(o *Options, skip func(s setting) bool) error {
	dir := filepath.Dir(fc.path)
	keys := make([]string, 0, len(fc.values))
	for k := range fc.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	byKey := map[string]setting{}
	for _, s := range settings {
		byKey[s.fileKey()] = s
	}
	for _, k := range keys {
		s := byKey[k]
		if skip(s) {
			continue
		}
		fv := fc.values[k]
		val := fv.value
		if s.path {
			val = resolvePaths(val, dir)
		}
		if err := s.set(o, val); err != nil {
			return fmt.Errorf("config %s: line %d: %s: %w", fc.path, fv.line, k, err)
		}
	}
	if fc.ruleSeverity != nil && o.Secrets.RuleSeverity == nil {
		o.Secrets.RuleSeverity = fc.ruleSeverity
	}
	base := filepath.Base(fc.path)
	for _, r := range fc.ignores {
		r.Source = strings.Replace(r.Source, DefaultFile, base, 1)
		o.Ignore = append(o.Ignore, r)
	}
	return nil
}
