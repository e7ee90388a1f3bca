package scanners

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Shard is one of Count parts of a scan, numbered from 1. Every unit (a
// file, a group of files checked together, an image) belongs to exactly
// one shard, chosen from a hash of the unit's key, so that shards running
// on different agents agree without talking to each other. The zero value
// is the whole scan.
type Shard struct {
	Index, Count int
}

// MaxShards bounds --shard's N.
const MaxShards = 256

// ParseShard reads "K/N" (1 <= K <= N <= MaxShards).
func ParseShard(s string) (Shard, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want K/N, e.g. 2/4", s)
	}
	index, err1 := strconv.Atoi(strings.TrimSpace(k))
	count, err2 := strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: K and N must be whole numbers", s)
	}
	if count < 1 || count > MaxShards {
		return Shard{}, fmt.Errorf("shard %q: N must be between 1 and %d", s, MaxShards)
	}
	if index < 1 || index > count {
		return Shard{}, fmt.Errorf("shard %q: K must be between 1 and N (%d)", s, count)
	}
	return Shard{Index: index, Count: count}, nil
}

// Split reports whether the scan is one part of several: the one test of
// "is this a shard" (the baseline, the gate, the pull request's comments
// and the cache's entries wait for the merge only then). 1/1, a
// `parallel: 1` job, is the whole scan; it still names itself 1/1 in its
// log, so that a merge can read it.
func (s Shard) Split() bool { return s.Count > 1 }

// String is "K/N", or "" when no shard was given.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// MarshalText writes String (a verdict's JSON).
func (s Shard) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Owns reports whether the unit named key (a unit's first repository path,
// or an image's reference) belongs to this shard.
func (s Shard) Owns(key string) bool {
	if !s.Split() {
		return true
	}
	sum := sha256.Sum256([]byte("tollgate-shard/1\x00" + key))
	return int(binary.BigEndian.Uint64(sum[:8])%uint64(s.Count))+1 == s.Index
}

// Owned is the target with only the files this shard owns, for engines
// whose unit is a file (SkippedNotifications already keeps to the shard's
// paths). The whole target when not split.
func (t *Target) Owned() *Target {
	if !t.Shard.Split() {
		return t
	}
	sub := *t
	sub.Files = make([]File, 0, len(t.Files)/t.Shard.Count+1)
	for _, f := range t.Files {
		if t.Shard.Owns(f.Path) {
			sub.Files = append(sub.Files, f)
		}
	}
	return &sub
}

// MergeRule is one description of a rule that two parts of a scan each
// described: the more severe description (then the higher score, then the
// first in text order) with the tags and aliases of both. It does not
// depend on the order the parts come in.
func MergeRule(a, b Rule) Rule {
	if ruleLess(a, b) {
		a, b = b, a
	}
	out := a
	out.Tags = unionSorted(a.Tags, b.Tags)
	if !slices.Equal(a.Aliases, b.Aliases) {
		out.Aliases = unionSorted(a.Aliases, b.Aliases)
	}
	return out
}

// AddRule adds r to rules, or joins it (MergeRule) with the rule of its ID
// already there; index maps IDs to their place in rules.
func AddRule(rules []Rule, index map[string]int, r Rule) []Rule {
	if i, ok := index[r.ID]; ok {
		rules[i] = MergeRule(rules[i], r)
		return rules
	}
	index[r.ID] = len(rules)
	return append(rules, r)
}

// ruleLess orders two descriptions of one rule, the one kept last.
func ruleLess(a, b Rule) bool {
	if a.Severity != b.Severity {
		return a.Severity < b.Severity
	}
	if a.CVSSScore != b.CVSSScore {
		return a.CVSSScore < b.CVSSScore
	}
	ka := strings.Join([]string{a.Title, a.Description, a.Resolution, a.HelpURI, a.Name, strings.Join(a.References, "\n")}, "\x00")
	kb := strings.Join([]string{b.Title, b.Description, b.Resolution, b.HelpURI, b.Name, strings.Join(b.References, "\n")}, "\x00")
	return ka > kb
}

func unionSorted(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
