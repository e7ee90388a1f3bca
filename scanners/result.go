package scanners

import (
	"fmt"
	"sort"
	"time"
)

// State is how far an engine got. Partial is a first-class outcome: some
// files could not be read or parsed, and everything else was still scanned.
// The zero value is StateUnspecified, so that an engine that forgets to say
// how it ended cannot pass as one that succeeded: Run turns it into a
// failure.
type State int

// Engine states, in increasing order of trouble after StateUnspecified.
const (
	StateUnspecified State = iota
	Succeeded
	Partial
	Failed
)

func (s State) String() string {
	switch s {
	case Succeeded:
		return "succeeded"
	case Partial:
		return "partial"
	case Failed:
		return "failed"
	default:
		return "unspecified"
	}
}

// Ran reports whether the engine ran to its end: succeeded or partial.
func (s State) Ran() bool { return s == Succeeded || s == Partial }

// MarshalText writes the state name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Level grades a notification the way SARIF does.
type Level string

// Notification levels.
const (
	LevelError   Level = "error"
	LevelWarning Level = "warning"
	LevelNote    Level = "note"
)

// Notification is something an engine could not do: a file it skipped or
// could not parse, a database it could not load. Every one ends up in the
// SARIF log's toolExecutionNotifications and in the console log.
type Notification struct {
	Level   Level  `json:"level"`
	Message string `json:"message"`
	// Path is the repository-relative file the notification is about, if any.
	Path string `json:"path,omitempty"`
	Line int    `json:"line,omitempty"`
	// Code is a short stable identifier (e.g. "parse-error", "file-too-large").
	Code string `json:"code,omitempty"`
}

// Status is an engine's outcome with everything it could not do.
type Status struct {
	State         State          `json:"state"`
	Notifications []Notification `json:"notifications,omitempty"`
	// Config are problems with the configuration that applied to the engine's
	// findings (an expired ignore entry, an unreadable ignore file); they do
	// not change the state.
	Config []Notification `json:"configNotifications,omitempty"`
}

// Add records a notification; an error-level one makes an engine that has
// not failed partial.
func (s *Status) Add(n Notification) {
	s.Notifications = append(s.Notifications, n)
	if n.Level == LevelError && s.State < Partial {
		s.State = Partial
	}
}

// Finish marks an engine that ran to its end: succeeded, unless a
// notification already made it partial or failed. Every engine calls it on
// the way out of Scan when it returns no error.
func (s *Status) Finish() {
	if s.State == StateUnspecified {
		s.State = Succeeded
	}
}

// Fail marks the engine failed with the cause.
func (s *Status) Fail(code string, err error) {
	s.Notifications = append(s.Notifications, Notification{Level: LevelError, Code: code, Message: err.Error()})
	s.State = Failed
}

// Tool names the engine behind a result, for SARIF's tool.driver.
type Tool struct {
	Name           string `json:"name"`
	FullName       string `json:"fullName"`
	Version        string `json:"version"`
	InformationURI string `json:"informationUri"`
	// Extra facts about the engine, e.g. the vulnerability DB's age.
	Properties map[string]string `json:"properties,omitempty"`
}

// Rule is the metadata of one check, rule or advisory.
type Rule struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Resolution  string   `json:"resolution,omitempty"`
	HelpURI     string   `json:"helpUri,omitempty"`
	References  []string `json:"references,omitempty"`
	Severity    Severity `json:"severity"`
	// CVSSScore, when known, ranks the rule (SARIF security-severity).
	CVSSScore float64  `json:"cvssScore,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	Aliases   []string `json:"aliases,omitempty"`
}

// Provenance is the repository and revision an engine's results are about.
type Provenance struct {
	RepositoryURI string `json:"repositoryUri,omitempty"`
	Revision      string `json:"revision,omitempty"`
	Branch        string `json:"branch,omitempty"`
}

// Result is what one engine produced.
type Result struct {
	Engine   string    `json:"scanner"`
	Tool     Tool      `json:"tool"`
	Rules    []Rule    `json:"rules"`
	Findings []Finding `json:"findings"`
	Status   Status    `json:"status"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Provenance, when set, overrides the scan's version control details.
	Provenance *Provenance `json:"provenance,omitempty"`
	// Cache says how many of the engine's units came from the result cache
	// (nil: the cache was off).
	Cache *CacheStats `json:"cache,omitempty"`
}

// Normalize sorts the result (see Sort) and makes fingerprints unique within
// it: the n-th identical finding in a file gets ":n" appended, so two equal
// lines in one file are two results. Engines' results are normalised once.
//
// It also sets FingerprintV2: a hash of the engine, the rule, the path, the
// Identity and the commit. Findings that share all of those are told apart
// by their TieBreak, then by their order in the file (":n").
func (r *Result) Normalize() {
	r.Sort()
	seen := map[string]int{}
	groups := map[string][]int{}
	var order []string
	for i := range r.Findings {
		f := &r.Findings[i]
		n := seen[f.Fingerprint]
		seen[f.Fingerprint] = n + 1
		if n > 0 {
			f.Fingerprint = fmt.Sprintf("%s:%d", f.Fingerprint, n+1)
		}
		if f.FingerprintV2 != "" {
			continue
		}
		base, _ := f.v2Parts()
		if _, ok := groups[base]; !ok {
			order = append(order, base)
		}
		groups[base] = append(groups[base], i)
	}
	for _, base := range order {
		idx := groups[base]
		if len(idx) == 1 {
			r.Findings[idx[0]].FingerprintV2 = base
			continue
		}
		ties := map[string]int{}
		for _, i := range idx {
			f := &r.Findings[i]
			_, fp := f.v2Parts()
			n := ties[fp]
			ties[fp] = n + 1
			if n > 0 {
				fp = fmt.Sprintf("%s:%d", fp, n+1)
			}
			f.FingerprintV2 = fp
		}
	}
}

// Sort puts findings, rules and notifications in their stable order.
func (r *Result) Sort() {
	sort.SliceStable(r.Findings, func(i, j int) bool { return lessFinding(&r.Findings[i], &r.Findings[j]) })
	sort.Slice(r.Rules, func(i, j int) bool { return r.Rules[i].ID < r.Rules[j].ID })
	sort.SliceStable(r.Status.Notifications, func(i, j int) bool {
		a, b := r.Status.Notifications[i], r.Status.Notifications[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Message < b.Message
	})
}

func lessFinding(a, b *Finding) bool {
	switch {
	case a.Location.Path != b.Location.Path:
		return a.Location.Path < b.Location.Path
	case a.Location.Image != b.Location.Image:
		return a.Location.Image < b.Location.Image
	case a.Location.StartLine != b.Location.StartLine:
		return a.Location.StartLine < b.Location.StartLine
	case a.Location.StartColumn != b.Location.StartColumn:
		return a.Location.StartColumn < b.Location.StartColumn
	case a.RuleID != b.RuleID:
		return a.RuleID < b.RuleID
	case a.Location.Commit != b.Location.Commit:
		return a.Location.Commit < b.Location.Commit
	case a.Vuln != nil && b.Vuln != nil && a.Vuln.Package != b.Vuln.Package:
		return a.Vuln.Package < b.Vuln.Package
	default:
		return a.Fingerprint < b.Fingerprint
	}
}

// RedactNotifications removes credentials from every URL in the result's
// notifications (module sources, registry errors, remote URLs): userinfo,
// query strings and fragments. Scan runs it once on every result, so no
// report shows them.
func (r *Result) RedactNotifications() {
	for _, list := range [][]Notification{r.Status.Notifications, r.Status.Config} {
		for i := range list {
			list[i].Message = RedactURLs(list[i].Message)
		}
	}
}
