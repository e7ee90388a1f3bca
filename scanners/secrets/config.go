package secrets

import (
	"bytes"
	_ "embed" // the extra rules
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	_ "unsafe" // for go:linkname, see extendDepth

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
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
// gitleaks' default rules. name is used in error messages. A configuration
// that extends a file ([extend] path) is refused: see LoadConfigWith.
func LoadConfig(name string, content []byte) (config.Config, error) {
	return LoadConfigWith(name, content, nil)
}

// ExtendReader reads the file an [extend] path names.
type ExtendReader func(path string) ([]byte, error)

// LoadConfigWith is LoadConfig with the files that [extend] path names read
// by readExtend (nil: not allowed). gitleaks would open the path itself,
// anywhere on the machine: a repository's .gitleaks.toml must not make the
// scanner read /etc/shadow, or hang on /dev/zero or a FIFO.
func LoadConfigWith(name string, content []byte, readExtend ExtendReader) (cfg config.Config, err error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	// gitleaks compiles rule regexes with MustCompile: a bad pattern in a
	// user's .gitleaks.toml panics. Turn that into an error naming the file.
	defer func() {
		if p := recover(); p != nil {
			err = &ConfigPanicError{Name: name, Value: p}
		}
	}()
	if content == nil {
		content = []byte(config.DefaultConfig)
	}
	tmp := ""
	defer func() {
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
	}()
	content, err = resolveExtends(content, readExtend, 0, &tmp)
	if err != nil {
		return config.Config{}, fmt.Errorf("gitleaks config %s: %w", name, err)
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

// ConfigPanicError is a gitleaks configuration that made gitleaks panic
// while loading it: gitleaks compiles a rule's patterns with MustCompile,
// so an invalid pattern in a repository's .gitleaks.toml panics.
type ConfigPanicError struct {
	Name  string
	Value any
}

func (e *ConfigPanicError) Error() string {
	return fmt.Sprintf("gitleaks config %s: %v", e.Name, e.Value)
}

// MaxConfigRules bounds the rules of a gitleaks configuration (each file of
// an [extend] chain): gitleaks' own has about 220, and a configuration of
// 40,000 rules compiles for minutes before the first file is read.
const MaxConfigRules = 2000

// RuleBudgetError is a configuration with more rules than MaxConfigRules.
type RuleBudgetError struct{ Rules int }

func (e *RuleBudgetError) Error() string {
	return fmt.Sprintf("it has %d rules, more than the %d a configuration may have (compiling them would take minutes)", e.Rules, MaxConfigRules)
}

// maxExtendDepth is gitleaks' own limit on chained [extend] paths.
const maxExtendDepth = 2

// resolveExtends rewrites a configuration's [extend] path to a private copy
// of the file, read with readExtend and itself resolved, so that gitleaks
// only ever opens files Tollgate wrote. *tmp is the directory of the copies.
func resolveExtends(content []byte, readExtend ExtendReader, depth int, tmp *string) ([]byte, error) {
	doc, ext, pathKey, extPath, err := extendOf(content)
	if err != nil {
		return nil, err
	}
	if rules, ok := doc["rules"].([]any); ok && len(rules) > MaxConfigRules {
		return nil, &RuleBudgetError{Rules: len(rules)}
	}
	if dup := caseDuplicates(doc, ""); dup != "" {
		return nil, fmt.Errorf("%s: gitleaks reads its configuration case-insensitively (viper), so it would keep one of them at random; the configuration is refused", dup)
	}
	if extPath == "" {
		return content, nil
	}
	if depth >= maxExtendDepth {
		ext[pathKey] = "" // gitleaks stops here too
		return toml.Marshal(doc)
	}
	if readExtend == nil {
		return nil, fmt.Errorf("[extend] path %q: extending a file is not allowed for this configuration", extPath)
	}
	b, err := readExtend(extPath)
	if err != nil {
		return nil, fmt.Errorf("[extend] path %q: %w", extPath, err)
	}
	if b, err = resolveExtends(b, readExtend, depth+1, tmp); err != nil {
		return nil, err
	}
	if *tmp == "" {
		if *tmp, err = os.MkdirTemp("", "tollgate-gitleaks-"); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(*tmp, "extend-*.toml")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	ext[pathKey] = f.Name()
	return toml.Marshal(doc)
}

// extendOf finds a configuration's [extend] path: the parsed document, its
// [extend] table, the key of path in it (as written) and the path; an
// empty path when there is none or the TOML does not parse (gitleaks
// reports the syntax error). A configuration nested too deep for any TOML
// parser is the error: it is never parsed.
func extendOf(content []byte) (doc, ext map[string]any, pathKey, extPath string, err error) {
	if err := scanners.TooDeep(content, scanners.SyntaxTOML, scanners.MaxNesting); err != nil {
		return nil, nil, "", "", err
	}
	if err := toml.Unmarshal(content, &doc); err != nil {
		return nil, nil, "", "", nil
	}
	for k, v := range doc {
		if strings.EqualFold(k, "extend") {
			ext, _ = v.(map[string]any)
		}
	}
	for k, v := range ext {
		if strings.EqualFold(k, "path") {
			pathKey = k
			extPath, _ = v.(string)
		}
	}
	return doc, ext, pathKey, extPath, nil
}

// caseDuplicates names the first keys of a table (or a table below it)
// that differ only in case, as "keys path and PATH in [extend]"; "" when
// there are none. Arrays of tables are searched too.
func caseDuplicates(v any, where string) string {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		seen := map[string]string{}
		for _, k := range keys {
			if other, dup := seen[strings.ToLower(k)]; dup {
				in := "the top level"
				if where != "" {
					in = "[" + where + "]"
				}
				return fmt.Sprintf("keys %q and %q in %s differ only in case", other, k, in)
			}
			seen[strings.ToLower(k)] = k
		}
		for _, k := range keys {
			sub := k
			if where != "" {
				sub = where + "." + k
			}
			if d := caseDuplicates(t[k], sub); d != "" {
				return d
			}
		}
	case []any:
		for _, e := range t {
			if d := caseDuplicates(e, where); d != "" {
				return d
			}
		}
	case []map[string]any:
		for _, e := range t {
			if d := caseDuplicates(e, where); d != "" {
				return d
			}
		}
	}
	return ""
}

// extendsDigest digests the files a configuration extends, as
// resolveExtends reads them, without compiling anything: with the
// configuration's own bytes it names the rules a scan runs. A file that
// cannot be read adds its error, so the digest never stands for rules
// that failed to load.
func extendsDigest(content []byte, readExtend ExtendReader, depth int, h io.Writer) {
	_, _, _, extPath, _ := extendOf(content) // a refused config resolves no extend
	if extPath == "" || depth >= maxExtendDepth || readExtend == nil {
		return
	}
	b, err := readExtend(extPath)
	if err != nil {
		fmt.Fprintf(h, "extend %q: error %v\n", extPath, err)
		return
	}
	fmt.Fprintf(h, "extend %q: %d:", extPath, len(b))
	_, _ = h.Write(b)
	extendsDigest(b, readExtend, depth+1, h)
}

//go:embed rules/tollgate.toml
var extraRulesTOML []byte

//go:embed rules/emulators.toml
var emulatorsTOML []byte

// EmulatorAllowlists are the allowlists of the emulators' published keys
// (rules/emulators.toml), applied to every rule.
func EmulatorAllowlists() ([]*config.Allowlist, error) {
	cfg, err := LoadConfig("tollgate emulator keys", emulatorsTOML)
	if err != nil {
		return nil, err
	}
	return cfg.Allowlists, nil
}

// ExtraRules are Tollgate's rules that gitleaks' defaults lack: credential
// files and Azure credentials.
func ExtraRules() (config.Config, error) {
	return LoadConfig("tollgate extra rules", extraRulesTOML)
}

// mergeRules adds the rules of extra that dst does not have (by ID), with
// their keywords, so that the repository's own rules always win, and extra's
// global allowlists. It returns the IDs it added.
func mergeRules(dst *config.Config, extra config.Config) map[string]bool {
	added := map[string]bool{}
	if dst.Rules == nil {
		dst.Rules = map[string]config.Rule{}
	}
	if dst.Keywords == nil {
		dst.Keywords = map[string]struct{}{}
	}
	for _, id := range extra.OrderedRules {
		r, ok := extra.Rules[id]
		if _, exists := dst.Rules[id]; !ok || exists {
			continue
		}
		dst.Rules[id] = r
		dst.OrderedRules = append(dst.OrderedRules, id)
		for _, k := range r.Keywords {
			dst.Keywords[k] = struct{}{}
		}
		added[id] = true
	}
	dst.Allowlists = append(dst.Allowlists, extra.Allowlists...)
	return added
}

// ruleClass orders the classes of rules that may report one secret: the
// base configuration's rules (gitleaks' or the repository's) first, then
// Tollgate's extra rules, then the hardcoded-credential class.
type ruleClass int

const (
	classBase ruleClass = iota
	classExtra
	classHardcoded
)

// classes returns the class of a rule ID: added are the extra rules merged
// into cfg; a hardcoded-class ID the configuration defines itself is the
// configuration's.
func classes(cfg config.Config, added map[string]bool) func(id string) ruleClass {
	return func(id string) ruleClass {
		if added[id] {
			return classExtra
		}
		if _, ok := cfg.Rules[id]; !ok && IsHardcodedRule(id) {
			return classHardcoded
		}
		return classBase
	}
}

// dedupe reports each secret once. A rule may match a secret twice (once as
// written, once decoded); a rule of a later class never reports a secret a
// rule of an earlier class found (an extra rule gives way to the base
// config's, a hardcoded rule to both); and of two rules of one later class
// on one secret, the one with the longer match (more context, the more
// specific rule) is kept.
//
// The findings of a line are swept in order of their start column, each
// compared only with those still open at its start (an earlier finding
// ending before it cannot overlap it): a long line of many secrets costs
// their number, not its square.
func dedupe(findings []report.Finding, class func(id string) ruleClass) []report.Finding {
	type place struct {
		file, commit string
		line         int
	}
	byPlace := map[place][]int{}
	for i, f := range findings {
		p := place{f.File, f.Commit, f.StartLine}
		byPlace[p] = append(byPlace[p], i)
	}
	// drops reports whether f (the i-th) gives way to g (the j-th), two
	// findings that overlap: the first of two identical findings is kept.
	drops := func(i, j int) bool {
		f, g := &findings[i], &findings[j]
		if g.RuleID == f.RuleID && g.StartColumn == f.StartColumn && g.EndColumn == f.EndColumn {
			return j < i
		}
		cg, cf := class(g.RuleID), class(f.RuleID)
		if cg != cf {
			return cg < cf
		}
		if cf == classBase {
			return false // two base rules: both kept, as gitleaks reports them
		}
		lg, lf := g.EndColumn-g.StartColumn, f.EndColumn-f.StartColumn
		return lg > lf || (lg == lf && g.RuleID < f.RuleID)
	}
	dropped := make([]bool, len(findings))
	kept := len(findings)
	var open []int
	for _, idx := range byPlace {
		slices.SortStableFunc(idx, func(a, b int) int { return findings[a].StartColumn - findings[b].StartColumn })
		open = open[:0]
		for _, i := range idx {
			start, end := findings[i].StartColumn, findings[i].EndColumn
			open = slices.DeleteFunc(open, func(j int) bool { return findings[j].EndColumn < start })
			for _, j := range open {
				if findings[j].StartColumn > end {
					continue
				}
				for _, d := range [][2]int{{i, j}, {j, i}} {
					if !dropped[d[0]] && drops(d[0], d[1]) {
						dropped[d[0]] = true
						kept--
					}
				}
			}
			open = append(open, i)
		}
	}
	out := make([]report.Finding, 0, kept)
	for i := range findings {
		if !dropped[i] {
			out = append(out, findings[i])
		}
	}
	return out
}

// maxConfigSize bounds a gitleaks configuration file.
const maxConfigSize = 4 << 20

// filesExtendReader reads [extend] paths of a repository's configuration
// through its policy source: relative to the scan root (as gitleaks, run
// from the checkout, reads them), never outside it, never through a
// symbolic link, never a FIFO or device.
func filesExtendReader(files checkout.Files) ExtendReader {
	return func(p string) ([]byte, error) {
		rel := filepath.ToSlash(p)
		if root, ok := files.(*checkout.Root); ok && filepath.IsAbs(p) {
			r, err := root.Rel(p, "")
			if err != nil {
				return nil, err
			}
			rel = r
		}
		rel = path.Clean(rel)
		if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
			return nil, fmt.Errorf("%s: %w", p, checkout.ErrOutside)
		}
		return files.ReadFile(rel, maxConfigSize)
	}
}

// fileExtendReader reads [extend] paths of a configuration given on the
// command line (trusted): relative to the working directory, as gitleaks
// does, regular files only.
func fileExtendReader(p string) ([]byte, error) {
	return checkout.ReadTrusted(p, maxConfigSize)
}
