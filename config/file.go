package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
)

// DefaultFile is read from the scan root when --config is not given.
const DefaultFile = ".tollgate.yaml"

// maxConfigSize bounds .tollgate.yaml: it comes from the scanned repository.
const maxConfigSize = 1 << 20

// fileValue is one setting read from the file, in flag syntax (a mapping
// key's entries as "key=value" each).
type fileValue struct {
	setting scanners.Setting
	value   string
	entries []string
	line    int
}

// fileConfig is a parsed .tollgate.yaml.
type fileConfig struct {
	path    string
	values  map[string]fileValue // by key path, e.g. "secrets.config"
	ignores []policy.IgnoreRule
}

// parseConfig parses a .tollgate.yaml read from name. Unknown keys are
// errors that name the key and its line: a typo must not silently disable a
// setting.
func parseConfig(b []byte, name string, all []scanners.Setting) (*fileConfig, error) {
	fc, err := parseFile(b, all)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	fc.path = name
	return fc, nil
}

// parseFile parses a .tollgate.yaml whose keys are those of the settings.
func parseFile(b []byte, all []scanners.Setting) (*fileConfig, error) {
	fc := &fileConfig{values: map[string]fileValue{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fc, nil // an empty file is a valid, empty configuration
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if !strings.HasPrefix(msg, "line ") {
			// The parser's errors without a line (an unexpected end of the
			// stream) are about where it stopped: the end of the file.
			msg = fmt.Sprintf("line %d: %s", bytes.Count(b, []byte("\n"))+1, msg)
		}
		return nil, errors.New(msg)
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
	keys := fileKeys{known: map[string]scanners.Setting{}, sections: map[string]bool{}, all: all}
	for _, s := range all {
		k := s.FileKey()
		keys.known[k] = s
		if section, _, nested := strings.Cut(k, "."); nested {
			keys.sections[section] = true
		}
	}
	if err := fc.walk(root, "", keys); err != nil {
		return nil, err
	}
	return fc, nil
}

// fileKeys are the keys a .tollgate.yaml may hold: each setting's, and the
// sections their dotted keys name (secrets, iac, image, pr).
type fileKeys struct {
	known    map[string]scanners.Setting
	sections map[string]bool
	all      []scanners.Setting
}

func (fc *fileConfig) walk(m *yaml.Node, prefix string, keys fileKeys) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := prefix + k.Value
		switch {
		case prefix == "" && keys.sections[key]:
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: %s must be a mapping", v.Line, key)
			}
			if err := fc.walk(v, key+".", keys); err != nil {
				return err
			}
		case key == "ignore":
			if err := fc.ignoreEntries(v); err != nil {
				return err
			}
		case keys.known[key].Map:
			entries, err := mapping(key, v)
			if err != nil {
				return err
			}
			fc.values[key] = fileValue{setting: keys.known[key], entries: entries, line: v.Line}
		case key == "fail-on" && v.Kind == yaml.MappingNode:
			val, err := failOnMap(v)
			if err != nil {
				return err
			}
			fc.values[key] = fileValue{setting: keys.known[key], value: val, line: v.Line}
		case keys.known[key].Set != nil:
			val, err := scalarOrList(key, v)
			if err != nil {
				return err
			}
			fc.values[key] = fileValue{setting: keys.known[key], value: val, line: v.Line}
		default:
			if hint := suggestKey(key, keys.all); hint != "" {
				return fmt.Errorf("line %d: unknown key %q (did you mean %s?)", k.Line, key, hint)
			}
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

// mapping turns a mapping of plain values into "key=value" entries.
func mapping(key string, v *yaml.Node) ([]string, error) {
	if v.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: %s must be a mapping", v.Line, key)
	}
	var entries []string
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if val.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: %s.%s must be a plain value", val.Line, key, k.Value)
		}
		entries = append(entries, k.Value+"="+val.Value)
	}
	return entries, nil
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

// source says who wrote a configuration file and so what it may set.
type source struct {
	// trusted is the pipeline author's file (--config, TOLLGATE_CONFIG, the
	// configFile input): every key applies, paths resolve against its folder.
	trusted bool
	// root confines the checkout's own file: its paths resolve against dir
	// (root-relative) and must stay in the root.
	root *checkout.Root
	dir  string
	// name is how messages name the file, e.g. ".tollgate.yaml" or
	// ".tollgate.yaml in the target branch main (1a2b3c4d5e6f)".
	name string
}

// apply sets every value of the file that no flag or environment variable
// already set. From the checkout's own file (untrusted) only repository
// policy applies: a machine setting, a path out of the root or an image
// archive is ignored, each with a warning naming the key and its line.
func (fc *fileConfig) apply(o *Options, skip func(s scanners.Setting) bool, src source) ([]scanners.Notification, error) {
	keys := make([]string, 0, len(fc.values))
	for k := range fc.values {
		keys = append(keys, k)
	}
	// In the file's line order, so that warnings read as the file does.
	sort.Slice(keys, func(i, j int) bool {
		li, lj := fc.values[keys[i]].line, fc.values[keys[j]].line
		return li < lj || li == lj && keys[i] < keys[j]
	})
	var warnings []scanners.Notification
	warn := func(line int, msg string) {
		warnings = append(warnings, scanners.Notification{Level: scanners.LevelWarning, Code: "config-key-ignored",
			Path: DefaultFile, Line: line, Message: fmt.Sprintf("%s line %d: %s", src.name, line, msg)})
	}
	for _, k := range keys {
		fv := fc.values[k]
		s, val := fv.setting, fv.value
		if !src.trusted && !s.Repo {
			// Warned even when a flag sets it too: the checkout tried.
			warn(fv.line, fmt.Sprintf("%s is a pipeline setting that the checkout's own .tollgate.yaml may not set (it reaches the network, the machine, the report files or loads code); ignored. Set it with --%s, %s or a task input", k, s.Flag, s.Env()))
			continue
		}
		if skip(s) {
			continue
		}
		if s.Map {
			for _, entry := range fv.entries {
				if err := s.Set(entry); err != nil {
					id, _, _ := strings.Cut(entry, "=")
					return warnings, fmt.Errorf("config %s: line %d: %s.%s: %w", src.name, fv.line, k, id, err)
				}
			}
			continue
		}
		var err error
		switch {
		case !src.trusted:
			err = confine(s, val, src, func(msg string) { warn(fv.line, k+": "+msg) })
		case s.Path:
			err = s.Set(resolvePaths(val, filepath.Dir(fc.path)))
		default:
			err = s.Set(val)
		}
		if err != nil {
			return warnings, fmt.Errorf("config %s: line %d: %s: %w", src.name, fv.line, k, err)
		}
	}
	base := filepath.Base(fc.path)
	for _, r := range fc.ignores {
		r.Source = strings.Replace(r.Source, DefaultFile, base, 1)
		o.Ignore = append(o.Ignore, r)
	}
	return warnings, nil
}

// confine applies the checkout's own value of a repository setting: paths
// must stay in the root; a setting that keeps repository values apart
// (SetRepo: policy files read from the policy source, images pulled as the
// images a checkout references are) gets them root-relative, the others
// as paths in the root.
func confine(s scanners.Setting, val string, src source, warn func(string)) error {
	if s.Path {
		var kept []string
		for _, p := range scanners.SplitList(val) {
			rel, err := src.root.Rel(p, src.dir)
			if err != nil {
				warn(fmt.Sprintf("%q is outside the scan root; ignored (the checkout's configuration names files in the checkout only)", p))
				continue
			}
			kept = append(kept, rel)
		}
		if len(kept) == 0 {
			return nil
		}
		if s.SetRepo != nil {
			return s.SetRepo(strings.Join(kept, ","), warn)
		}
		for i, rel := range kept {
			kept[i] = filepath.Join(src.root.Dir(), filepath.FromSlash(rel))
		}
		return s.Set(strings.Join(kept, ","))
	}
	if s.SetRepo != nil {
		return s.SetRepo(val, warn)
	}
	return s.Set(val)
}

// suggestKey names the key a user most likely meant: the key of the flag
// written as a key (secrets-archive-depth is secrets.max-archive-depth), a
// known key with the same last part, or one a typo away.
func suggestKey(key string, all []scanners.Setting) string {
	last := key[strings.LastIndexByte(key, '.')+1:]
	for _, s := range all {
		if s.Flag != "" && (s.Flag == key || s.Flag == last) {
			return s.FileKey()
		}
	}
	for _, s := range all {
		k := s.FileKey()
		if k[strings.LastIndexByte(k, '.')+1:] == last {
			return k
		}
	}
	best, dist := "", 3
	for _, s := range all {
		if d := levenshtein.Distance(key, s.FileKey(), nil); d < dist {
			best, dist = s.FileKey(), d
		}
	}
	return best
}
