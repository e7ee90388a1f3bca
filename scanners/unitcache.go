package scanners

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/tollgate/tollgate/cache"
)

// CacheStats says how much of an engine's work came from the result cache:
// how many scan units (a file, a group of files that are checked together,
// an image) it had and how many of them it did not scan again.
type CacheStats struct {
	Units     int `json:"units"`
	FromCache int `json:"fromCache"`
}

// ResultCache is the result cache as engines see it: the store, and the
// identity of the Tollgate build whose results it may hand back. A nil
// *ResultCache is a cache that is off.
type ResultCache struct {
	Store *cache.Cache
	// Build identifies the Tollgate build: its version, and for a
	// development build the executable itself, so that a rebuilt binary
	// never reads what another build found.
	Build string
	Log   *slog.Logger
}

// Unit is what an engine found in one scan unit.
type Unit struct {
	Findings      []Finding
	Rules         []Rule
	Notifications []Notification
}

// UnitCache holds one engine run's units: those of the previous run with
// the same scope (engine, version, rules, options), looked up by each
// unit's key (a digest of its content), and those of this run, written
// back by Close as one entry. A unit's key covers everything its results
// depend on, so a unit found is a unit whose results are known; one entry
// per run (not per unit) keeps a 50,000-file tree one file in the cache
// and one write, where an entry per file would cost a cold scan tens of
// thousands of synced writes.
//
// A nil *UnitCache is off: Get misses and Put does nothing. Its methods
// are safe for concurrent use.
type UnitCache struct {
	rc    *ResultCache
	scope cache.Key
	old   map[cache.Key][]byte
	found bool

	mu    sync.Mutex
	now   map[cache.Key][]byte
	units int
	hits  int
}

// packMagic starts a pack's payload (inside the store's own framing); the
// records follow, gzip-compressed (findings of one rule repeat its text).
const packMagic = "tollgate-units/2\n"

// maxPack bounds a pack's records once decompressed.
const maxPack = 1 << 30

// Units opens the units of an engine under its scope: the engine's name,
// version and every digest of what its results depend on besides the
// units' content. Nil when the cache is off.
func (rc *ResultCache) Units(engine string, scope ...[]byte) *UnitCache {
	if rc == nil || rc.Store == nil {
		return nil
	}
	parts := append([][]byte{[]byte("tollgate-result-scope/1"), []byte(rc.Build), []byte(engine)}, scope...)
	u := &UnitCache{rc: rc, scope: cache.NewKey(parts...), now: map[cache.Key][]byte{}}
	if b, ok := rc.Store.Get(u.scope); ok {
		old, err := decodePack(b)
		if err != nil {
			rc.log().Debug("result cache: entry ignored", "engine", engine, "why", err)
		} else {
			u.old, u.found = old, true
		}
	}
	return u
}

func (rc *ResultCache) log() *slog.Logger {
	if rc.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rc.Log
}

// Warm reports whether an earlier run's units were found: an engine may
// then wait to learn whether anything is left to scan before it pays for
// its start-up.
func (u *UnitCache) Warm() bool { return u != nil && u.found }

// Key is a unit's key: the scope and the parts (paths, content digests).
func (u *UnitCache) Key(parts ...[]byte) cache.Key {
	if u == nil {
		return cache.Key{}
	}
	return cache.NewKey(append([][]byte{u.scope[:]}, parts...)...)
}

// AddUnits counts units of this run, for Stats.
func (u *UnitCache) AddUnits(n int) {
	if u == nil {
		return
	}
	u.mu.Lock()
	u.units += n
	u.mu.Unlock()
}

// GetBytes returns what PutBytes stored for a unit in the previous run
// (and keeps it for the next). A hit counts as a unit from the cache in
// Stats.
func (u *UnitCache) GetBytes(k cache.Key) ([]byte, bool) {
	if u == nil {
		return nil, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	b, ok := u.old[k]
	if ok {
		u.hits++
		u.now[k] = b
	}
	return b, ok
}

// PutBytes records an engine's own encoding of a unit's results (which
// must not hold a secret's value) for the next run.
func (u *UnitCache) PutBytes(k cache.Key, b []byte) {
	if u == nil {
		return
	}
	u.mu.Lock()
	u.now[k] = b
	u.mu.Unlock()
}

// Get returns a unit's results from the previous run (and keeps them for
// the next). A hit counts as a unit from the cache in Stats.
func (u *UnitCache) Get(k cache.Key) (Unit, bool) {
	b, ok := u.GetBytes(k)
	if !ok {
		return Unit{}, false
	}
	unit, err := decodeUnit(b)
	if err != nil {
		// Cannot happen for what Put wrote; a miss all the same.
		u.rc.log().Debug("result cache: unit ignored", "why", err)
		u.mu.Lock()
		u.hits--
		delete(u.now, k)
		u.mu.Unlock()
		return Unit{}, false
	}
	return unit, true
}

// Put records a unit's results for the next run. A unit that is not
// purely the engine's verdict on its content (a finding with a policy
// decision on it) is refused, and so is one whose results say the engine
// could not finish it (an error-level notification): those are scanned
// again next time.
func (u *UnitCache) Put(k cache.Key, unit Unit) {
	if u == nil {
		return
	}
	for _, n := range unit.Notifications {
		if n.Level == LevelError {
			return
		}
	}
	b, err := encodeUnit(unit)
	if err != nil {
		u.rc.log().Debug("result cache: unit not stored", "why", err)
		return
	}
	u.PutBytes(k, b)
}

// Stats are the counts of this run; nil when the cache is off.
func (u *UnitCache) Stats() *CacheStats {
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return &CacheStats{Units: u.units, FromCache: u.hits}
}

// Close writes this run's units as the scope's entry, unless they are
// exactly the ones found. Units of the previous run that this one did not
// have are dropped: the entry follows the tree. Failing to write is
// logged, never an error of the scan.
func (u *UnitCache) Close() {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.found && len(u.now) == len(u.old) && u.hits == len(u.now) {
		return
	}
	if err := u.rc.Store.Put(u.scope, encodePack(u.now)); err != nil {
		u.rc.log().Warn("result cache: this run's results were not stored", "error", err)
	}
}

// encodePack lays the units out sorted by key: key, length, payload.
func encodePack(units map[cache.Key][]byte) []byte {
	keys := make([]cache.Key, 0, len(units))
	size := len(packMagic)
	for k, b := range units {
		keys = append(keys, k)
		size += len(k) + binary.MaxVarintLen64 + len(b)
	}
	slices.SortFunc(keys, func(a, b cache.Key) int { return bytes.Compare(a[:], b[:]) })
	raw := make([]byte, 0, size)
	for _, k := range keys {
		raw = append(raw, k[:]...)
		raw = binary.AppendUvarint(raw, uint64(len(units[k])))
		raw = append(raw, units[k]...)
	}
	var out bytes.Buffer
	out.WriteString(packMagic)
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed) // the level is valid
	_, _ = zw.Write(raw)                               // a bytes.Buffer does not fail
	_ = zw.Close()
	return out.Bytes()
}

func decodePack(b []byte) (map[cache.Key][]byte, error) {
	if !bytes.HasPrefix(b, []byte(packMagic)) {
		return nil, errors.New("not a pack of units of this format")
	}
	zr, err := gzip.NewReader(bytes.NewReader(b[len(packMagic):]))
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	b, err = io.ReadAll(io.LimitReader(zr, maxPack+1))
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	if len(b) > maxPack {
		return nil, errors.New("pack: over its size bound")
	}
	out := map[cache.Key][]byte{}
	for len(b) > 0 {
		var k cache.Key
		if len(b) < len(k) {
			return nil, errors.New("truncated pack")
		}
		copy(k[:], b)
		b = b[len(k):]
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, errors.New("truncated pack")
		}
		b = b[w:]
		out[k] = b[:n:n]
		b = b[n:]
	}
	return out, nil
}

// cachedFinding is a finding as the cache keeps it. Identity and TieBreak
// are not kept (a secret's line is in its TieBreak): their digests, which
// are all FingerprintV2 needs, are. The inline comment facts, which
// reports do not carry, are.
type cachedFinding struct {
	Finding
	V2Base           string `json:"v2base,omitempty"`
	TieFP            string `json:"tiefp,omitempty"`
	InlineAllowed    bool   `json:"inlineAllowed,omitempty"`
	InlineIgnored    bool   `json:"inlineIgnored,omitempty"`
	InlineIgnoreLine int    `json:"inlineIgnoreLine,omitempty"`
}

type cachedUnit struct {
	Findings      []cachedFinding `json:"f,omitempty"`
	Rules         []Rule          `json:"r,omitempty"`
	Notifications []Notification  `json:"n,omitempty"`
}

// EncodeUnit encodes a unit as the result cache keeps it; DecodeUnit reads
// it back. A unit that crosses a process boundary (a worker's reply) travels
// this way, so that it reads back exactly as a unit from the cache does.
func EncodeUnit(u Unit) ([]byte, error) { return encodeUnit(u) }

// DecodeUnit reads a unit EncodeUnit wrote.
func DecodeUnit(b []byte) (Unit, error) { return decodeUnit(b) }

func encodeUnit(u Unit) ([]byte, error) {
	if len(u.Findings) == 0 && len(u.Rules) == 0 && len(u.Notifications) == 0 {
		return []byte{}, nil
	}
	cu := cachedUnit{Rules: u.Rules, Notifications: u.Notifications}
	for _, f := range u.Findings {
		if len(f.Suppressions) > 0 || f.BaselineState != BaselineNone || f.BaselineProperties != nil || f.FingerprintV2 != "" {
			return nil, fmt.Errorf("finding %s in %s carries a decision, not only the engine's result", f.RuleID, f.Location.Path)
		}
		cf := cachedFinding{Finding: f}
		cf.V2Base, cf.TieFP = f.v2Parts()
		cf.Identity, cf.TieBreak = "", ""
		if f.Secret != nil {
			cf.InlineAllowed = f.Secret.InlineAllowed
		}
		if f.Misconfig != nil {
			cf.InlineIgnored, cf.InlineIgnoreLine = f.Misconfig.InlineIgnored, f.Misconfig.InlineIgnoreLine
		}
		cu.Findings = append(cu.Findings, cf)
	}
	return json.Marshal(cu)
}

func decodeUnit(b []byte) (Unit, error) {
	if len(b) == 0 {
		return Unit{}, nil
	}
	var cu cachedUnit
	if err := json.Unmarshal(b, &cu); err != nil {
		return Unit{}, fmt.Errorf("unit: %w", err)
	}
	u := Unit{Rules: cu.Rules, Notifications: cu.Notifications}
	for _, cf := range cu.Findings {
		f := cf.Finding
		f.v2base, f.tiefp = cf.V2Base, cf.TieFP
		if f.Secret != nil {
			f.Secret.InlineAllowed = cf.InlineAllowed
		}
		if f.Misconfig != nil {
			f.Misconfig.InlineIgnored, f.Misconfig.InlineIgnoreLine = cf.InlineIgnored, cf.InlineIgnoreLine
		}
		u.Findings = append(u.Findings, f)
	}
	return u, nil
}
