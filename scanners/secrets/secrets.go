// Package secrets finds credentials in the working tree with gitleaks' detector
// and rules, and reports them without ever carrying the secret's value.
package secrets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/tollgate/tollgate/internal/versions"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
)

// GitleaksVersion is the gitleaks module version Tollgate is built with.
const GitleaksVersion = versions.Gitleaks

// RegexEngine is the regular-expression engine gitleaks' rules run on: RE2
// (go-re2, as gitleaks' release binaries) when built with -tags gore2regex,
// which every Tollgate build script uses, else Go's regexp ("stdlib"),
// several times slower on large files.
const RegexEngine = glregexp.Version

const (
	// Redacted replaces a secret's value in every output.
	Redacted = "REDACTED"
	// allowSignature is gitleaks' inline allow comment.
	allowSignature = "gitleaks:allow"
	// configFile is read from the policy source (the scan root, or the
	// target branch of a pull request), as gitleaks reads it from the root.
	configFile = ".gitleaks.toml"
	// defaultMaxDecodeDepth matches the gitleaks CLI's --max-decode-depth default.
	defaultMaxDecodeDepth = 5
)

// Options configure the secrets engine.
type Options struct {
	// ConfigPath is a gitleaks TOML file the pipeline author named; empty
	// means RepoConfig, else .gitleaks.toml from Policy when present, else
	// gitleaks' default rules.
	ConfigPath string
	// RepoConfig is a root-relative gitleaks TOML that the repository's own
	// .tollgate.yaml names, read from Policy.
	RepoConfig string
	// Policy reads repository policy files: the checkout (nil: the target's
	// confined reader) or, in a pull-request build, the target branch.
	Policy checkout.Files
	// ReviewCheckoutConfig is set when Policy is not the checkout and the
	// pull request changes its gitleaks config: findings the checkout's
	// config would hide (allowlists, changed or removed rules) are marked
	// under review.
	ReviewCheckoutConfig bool
	// Severity of every secret (gitleaks has none); zero means HIGH.
	Severity scanners.Severity
	// RuleSeverity overrides Severity by rule ID; keys may be globs.
	RuleSeverity map[string]scanners.Severity
	// MaxArchiveDepth lets gitleaks look inside archives (0: not at all).
	MaxArchiveDepth int
	// Workers bounds how many files are read at once; 0 means 2 x CPUs.
	Workers int
	// Mode is worktree (the files as they are), commits (the commits a pull
	// request adds) or history (every commit); empty means worktree.
	Mode string
	// Since is the base of commits mode: a ref, or a pull request's target
	// branch. SinceFrom names where it came from, for messages.
	Since, SinceFrom string
	// NoExtraRules turns off Tollgate's extra rules (rules/tollgate.toml).
	NoExtraRules bool
	// NoEmulatorAllowlist reports the emulators' published keys too
	// (rules/emulators.toml, otherwise allowed for every rule).
	NoEmulatorAllowlist bool
	// NoHardcoded turns off the hardcoded-credential class (passwords
	// under credential-named keys, credential stores, connection strings).
	NoHardcoded bool
	// Exclude drops findings in excluded paths in git modes (in worktree mode
	// the walk already left those files out).
	Exclude func(path string, dir bool) bool
	// Cache keeps worktree results by file (nil: off).
	Cache *scanners.ResultCache
}

// Scan modes.
const (
	ModeWorktree = "worktree"
	ModeCommits  = "commits"
	ModeHistory  = "history"
)

// ValidateMode reports an unknown --secrets-mode.
func ValidateMode(m string) error {
	switch m {
	case "", ModeWorktree, ModeCommits, ModeHistory:
		return nil
	}
	return fmt.Errorf("unknown secrets mode %q (want worktree, commits or history)", m)
}

// Scanner is the secrets engine.
type Scanner struct {
	opts Options
	log  *slog.Logger
}

// New returns the secrets engine.
func New(opts Options, log *slog.Logger) *Scanner {
	if opts.Severity == scanners.SeverityUnknown {
		opts.Severity = scanners.SeverityHigh
	}
	if opts.Workers <= 0 {
		opts.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	return &Scanner{opts: opts, log: log}
}

// Name implements scanners.Scanner.
func (s *Scanner) Name() string { return scanners.EngineSecrets }

// Tool implements scanners.Scanner.
func (s *Scanner) Tool() scanners.Tool { return Tool() }

// Tool describes gitleaks for reports.
func Tool() scanners.Tool {
	return scanners.Tool{
		Name:           "gitleaks",
		FullName:       "Gitleaks secret detection (Tollgate secrets engine)",
		Version:        GitleaksVersion,
		InformationURI: "https://github.com/gitleaks/gitleaks",
	}
}

// Scan implements scanners.Scanner.
func (s *Scanner) Scan(ctx context.Context, t *scanners.Target) (res scanners.Result, err error) {
	res = scanners.Result{Scanner: scanners.EngineSecrets, Tool: Tool()}
	defer func() {
		if err == nil {
			res.Status.Finish()
		}
	}()
	if err := ValidateMode(s.opts.Mode); err != nil {
		return res, err
	}
	if s.opts.Mode == "" || s.opts.Mode == ModeWorktree {
		for _, n := range t.SkippedNotifications(false, nil) {
			res.Status.Add(n)
		}
		t = t.Owned() // a file is a unit: a shard reads the files it owns
		if len(t.Files) == 0 {
			return res, nil // nothing to read: the rules need not be compiled
		}
		return s.scanWorktree(ctx, t, res)
	}
	src, err := s.readConfig(t)
	if err != nil {
		return res, err
	}
	e, err := s.compile(ctx, t, src)
	if err != nil {
		return res, err
	}
	findings, notes, prov, err := s.scanGit(ctx, t, e.dets)
	if err != nil {
		return res, err
	}
	for _, n := range notes {
		if n.Path == "" || t.Shard.Owns(n.Path) {
			res.Status.Add(n)
		}
	}
	res.Provenance = prov
	e.proposalNote(&res)
	rules := map[string]scanners.Rule{}
	for _, gf := range dedupe(findings, e.class) {
		f := e.convert(gf)
		if !t.Shard.Owns(f.Location.Path) {
			continue // the commits are read by every shard; a file's findings are its owner's
		}
		res.Findings = append(res.Findings, f)
		if _, ok := rules[f.RuleID]; !ok {
			rules[f.RuleID] = s.ruleOf(e.cfg, f.RuleID)
		}
	}
	for _, r := range rules {
		res.Rules = append(res.Rules, r)
	}
	return res, nil
}

// engine is the compiled configuration of one scan: the detectors, the
// rules' classes for dedupe and, in a pull-request build that changes the
// gitleaks config, the pull request's own rules to review findings by.
type engine struct {
	s       *Scanner
	cfg     config.Config
	dets    *detectors
	class   func(id string) ruleClass
	prop    *proposal
	propErr error
}

// compile loads and compiles the configuration read by readConfig.
func (s *Scanner) compile(ctx context.Context, t *scanners.Target, src configSource) (*engine, error) {
	cfg, added, err := s.loadConfig(src)
	if err != nil {
		return nil, err
	}
	det := detect.NewDetectorContext(ctx, cfg)
	det.MaxDecodeDepth = defaultMaxDecodeDepth
	det.MaxArchiveDepth = s.opts.MaxArchiveDepth
	// We check gitleaks:allow ourselves so that allowed findings are kept as
	// suppressed instead of vanishing.
	det.IgnoreGitleaksAllow = true
	det.Config.Path = src.rel
	e := &engine{s: s, cfg: det.Config, dets: newDetectors(det, !s.opts.NoHardcoded), class: classes(det.Config, added)}
	e.prop, e.propErr = s.loadProposal(t)
	return e, nil
}

// convert turns a gitleaks finding into a Tollgate finding, reviewed
// against the pull request's own config when there is one.
func (e *engine) convert(gf report.Finding) scanners.Finding {
	f := e.s.convert(gf)
	if e.prop != nil {
		e.prop.review(&f, gf, e.cfg)
	}
	return f
}

// proposalNote says when the pull request's config could not be compared.
func (e *engine) proposalNote(res *scanners.Result) {
	if e.propErr != nil {
		res.Status.Config = append(res.Status.Config, scanners.Notification{Level: scanners.LevelWarning, Code: "proposed-config",
			Message: fmt.Sprintf("the pull request's gitleaks config could not be compared with the target's: %v", e.propErr)})
	}
}

// loadConfig compiles the configuration with Tollgate's additions; added
// are the rules the extra rules brought.
func (s *Scanner) loadConfig(src configSource) (config.Config, map[string]bool, error) {
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
func (s *Scanner) readConfig(t *scanners.Target) (configSource, error) {
	root := t.Checkout()
	if p := s.opts.ConfigPath; p != "" {
		if r, rerr := root.Rel(p, ""); rerr == nil {
			content, err := root.ReadFile(r, maxConfigSize)
			return configSource{content, p, r, filesExtendReader(root)}, configErr(p, err)
		}
		content, err := checkout.ReadTrusted(p, maxConfigSize)
		return configSource{content, p, "", fileExtendReader}, configErr(p, err)
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

func (s *Scanner) policy(t *scanners.Target) checkout.Files {
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

// scanFile runs the detector over one file. Read problems come back as a
// notification; the file's findings found so far are kept.
func scanFile(ctx context.Context, dets *detectors, t *scanners.Target, f scanners.File, buf []byte, maxArchiveDepth int) ([]report.Finding, *scanners.Notification) {
	if f.Size == 0 {
		return nil, nil
	}
	fh, err := t.Open(f.Path)
	if err != nil {
		return nil, &scanners.Notification{Level: scanners.LevelWarning, Code: "unreadable", Path: f.Path,
			Message: fmt.Sprintf("cannot read %s: %v", f.Path, scanners.Cause(err))}
	}
	defer fh.Close()
	src := sources.File{
		Content:         utf16Aware(fh),
		Path:            f.Path,
		Buffer:          buf,
		Config:          &dets.gl.Config,
		MaxArchiveDepth: maxArchiveDepth,
	}
	var (
		out  []report.Finding
		note *scanners.Notification
	)
	err = src.Fragments(ctx, func(fr sources.Fragment, err error) error {
		if err != nil {
			note = &scanners.Notification{Level: scanners.LevelWarning, Code: "read-error", Path: f.Path,
				Message: fmt.Sprintf("cannot read %s: %v", f.Path, scanners.Cause(err))}
			return nil
		}
		out = append(out, dets.find(ctx, fr)...)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		note = &scanners.Notification{Level: scanners.LevelWarning, Code: "read-error", Path: f.Path,
			Message: fmt.Sprintf("cannot read %s: %v", f.Path, scanners.Cause(err))}
	}
	return out, note
}

func (s *Scanner) convert(gf report.Finding) scanners.Finding {
	secretHash := sha256.Sum256([]byte(gf.RuleID + "\x00" + gf.Secret))
	hashHex := hex.EncodeToString(secretHash[:])
	// The line, with this secret masked, identifies the finding across edits
	// elsewhere in the file. It is hashed, so no other secret on it leaks.
	line := strings.ReplaceAll(gf.Line, gf.Secret, hashHex)
	if gf.Secret == "" {
		line = gf.Line
	}
	allowed := strings.Contains(gf.Line, allowSignature)

	f := scanners.Finding{
		Scanner:  scanners.EngineSecrets,
		RuleID:   gf.RuleID,
		Title:    gf.Description,
		Severity: s.severity(gf.RuleID),
		Message: fmt.Sprintf("%s: a secret matched rule %s%s. The value is redacted; rotate it, then remove it from the code and its history.",
			strings.TrimSuffix(gf.Description, "."), gf.RuleID, inCommit(gf.Commit)),
		Location: scanners.Location{
			Path:        gf.File,
			StartLine:   gf.StartLine,
			EndLine:     gf.EndLine,
			StartColumn: gf.StartColumn,
			EndColumn:   gf.EndColumn + 1,
			Commit:      gf.Commit,
		},
		Fingerprint: scanners.Fingerprint(scanners.EngineSecrets, gf.RuleID, gf.File, hashHex, scanners.NormalizeLine(line), gf.Commit),
		// What the secret is: its hashed value. Where it sits (the line and
		// its text) only tells apart two equal secrets in one file.
		Identity: hashHex,
		TieBreak: scanners.NormalizeLine(line),
		HelpURI:  "https://github.com/gitleaks/gitleaks/blob/v" + GitleaksVersion + "/config/gitleaks.toml",
		Tags:     append([]string{"security", "secret"}, gf.Tags...),
		Secret: &scanners.SecretDetail{
			Redacted:            Redacted,
			Entropy:             gf.Entropy,
			Commit:              gf.Commit,
			InlineAllowed:       allowed,
			GitleaksFingerprint: gitleaksFingerprint(gf),
		},
	}
	if slices.Contains(gf.Tags, hardcodedTag) {
		f.HelpURI = cweHardcoded
	}
	if strings.HasPrefix(gf.Match, "file detected: ") {
		// A path-only rule: the file itself is the finding.
		f.Location.StartLine, f.Location.EndLine, f.Location.StartColumn, f.Location.EndColumn = 1, 1, 0, 0
	}
	return f
}

func (s *Scanner) severity(ruleID string) scanners.Severity {
	if sev, ok := s.opts.RuleSeverity[ruleID]; ok {
		return sev
	}
	for pattern, sev := range s.opts.RuleSeverity {
		if ok, _ := path.Match(pattern, ruleID); ok {
			return sev
		}
	}
	if IsHardcodedRule(ruleID) {
		return hardcodedSeverity
	}
	return s.opts.Severity
}

// ruleOf describes a rule of the effective configuration, or of the
// hardcoded class.
func (s *Scanner) ruleOf(cfg config.Config, id string) scanners.Rule {
	if r, ok := cfg.Rules[id]; ok || !IsHardcodedRule(id) {
		return s.rule(r, id)
	}
	r, _ := s.hardcodedRule(id)
	return r
}

func (s *Scanner) rule(r config.Rule, id string) scanners.Rule {
	title := r.Description
	if title == "" {
		title = "Secret matching rule " + id
	}
	return scanners.Rule{
		ID:    id,
		Title: title,
		Description: fmt.Sprintf("%s. A credential committed to a repository can be read by anyone with access to the code, "+
			"its forks and its history.", strings.TrimSuffix(title, ".")),
		Resolution: "Revoke and rotate the credential at its issuer first: removing it from the code does not make it secret again. " +
			"Then remove it from the file (and from git history if it was pushed), and load it at run time from a secret store " +
			"such as Azure Key Vault or a pipeline secret variable. If this is a false positive, add `gitleaks:allow` in a comment " +
			"on the line, or an entry to .tollgate.yaml or .gitleaksignore.",
		HelpURI:  "https://github.com/gitleaks/gitleaks/blob/v" + GitleaksVersion + "/config/gitleaks.toml",
		Severity: s.severity(id),
		Tags:     append([]string{"security", "secret"}, r.Tags...),
	}
}

func inCommit(sha string) string {
	if sha == "" {
		return ""
	}
	if len(sha) > 12 {
		sha = sha[:12]
	}
	return " in commit " + sha
}

func gitleaksFingerprint(gf report.Finding) string {
	if gf.Commit != "" {
		return fmt.Sprintf("%s:%s:%s:%d", gf.Commit, gf.File, gf.RuleID, gf.StartLine)
	}
	return fmt.Sprintf("%s:%s:%d", gf.File, gf.RuleID, gf.StartLine)
}

// pathAllowed applies gitleaks' global path allowlists before a file is opened.
func pathAllowed(cfg *config.Config, p string) bool {
	for _, a := range cfg.Allowlists {
		if a.PathAllowed(p) {
			return true
		}
	}
	return false
}

// Explain returns a secret rule's metadata: from the given configuration
// (nil: gitleaks' default rules), else from Tollgate's extra rules.
func Explain(id string, configTOML []byte) (scanners.Rule, bool, error) {
	cfg, err := LoadConfig("explain", configTOML)
	if err != nil {
		return scanners.Rule{}, false, err
	}
	r, ok := cfg.Rules[id]
	if !ok {
		extra, err := ExtraRules()
		if err != nil {
			return scanners.Rule{}, false, err
		}
		if r, ok = extra.Rules[id]; !ok {
			r, ok := explainHardcoded(id)
			return r, ok, nil
		}
	}
	rule := New(Options{}, nil).rule(r, id)
	if r.Regex != nil {
		rule.Description += "\n\nPattern: " + r.Regex.String()
	}
	if len(r.Keywords) > 0 {
		rule.Description += "\nKeywords: " + strings.Join(r.Keywords, ", ")
	}
	return rule, true, nil
}

// utf16Aware decodes a file that starts with a UTF-16 byte-order mark
// (Windows tools write PowerShell scripts, .reg and .config files so) into
// UTF-8 for the detector, which otherwise sees NUL bytes and skips the file
// as binary. Line breaks survive decoding, so lines are the file's own. Any
// other file, archives included, is passed on as it is.
//
// Only the file's contents decide, never its name.
func utf16Aware(f *os.File) io.Reader {
	head := make([]byte, 8<<10)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	// A byte-order mark, and the NUL bytes every UTF-16 file with a line
	// break or an ASCII character has (a Latin-1 file may start with the
	// same two bytes, and has none).
	if n >= 4 && (head[0] == 0xff && head[1] == 0xfe || head[0] == 0xfe && head[1] == 0xff) && bytes.IndexByte(head[2:], 0) >= 0 {
		return transform.NewReader(f, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
	}
	return f
}
