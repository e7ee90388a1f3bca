package scanners

import (
	"reflect"
	"testing"

	"github.com/tollgate/tollgate/cache"
)

// TestUnitCacheRoundTrip: a unit read back from the cache normalises to the
// very findings the engine produced (both fingerprints, inline comment
// facts), though the cache keeps neither Identity nor TieBreak; a unit
// carrying a policy decision or an error is not kept; a damaged pack is
// a miss.
func TestUnitCacheRoundTrip(t *testing.T) {
	store, err := cache.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := &ResultCache{Store: store, Build: "test"}
	findings := func() []Finding {
		return []Finding{
			{Engine: EngineSecrets, RuleID: "r", Location: Location{Path: "a.env", StartLine: 1}, Fingerprint: "fp",
				Identity: "secret-hash", TieBreak: "line with the other secret s3cr3t", Tags: []string{"secret"},
				Secret: &SecretDetail{Redacted: "REDACTED", Entropy: 3.25, InlineAllowed: true}},
			{Engine: EngineSecrets, RuleID: "r", Location: Location{Path: "a.env", StartLine: 2}, Fingerprint: "fp",
				Identity: "secret-hash", TieBreak: "another line", Secret: &SecretDetail{Redacted: "REDACTED"}},
			{Engine: EngineIaC, RuleID: "AVD-1", Location: Location{Path: "main.tf", StartLine: 3, EndLine: 9}, Fingerprint: "fp2",
				Identity: "aws_s3_bucket.b", Misconfig: &MisconfigDetail{FileType: "terraform", InlineIgnored: true, InlineIgnoreLine: 2}},
		}
	}
	u := rc.Units("secrets", []byte("scope"))
	if u.Warm() {
		t.Fatal("an empty cache is warm")
	}
	u.AddUnits(3)
	k1, k2, k3 := u.Key([]byte("one")), u.Key([]byte("two")), u.Key([]byte("three"))
	u.Put(k1, Unit{Findings: findings(), Rules: []Rule{{ID: "r", Severity: SeverityHigh}}})
	decided := findings()
	decided[0].Suppressions = []Suppression{{Kind: "inSource"}}
	u.Put(k2, Unit{Findings: decided})
	u.Put(k3, Unit{Notifications: []Notification{{Level: LevelError, Message: "could not parse"}}})
	u.Close()

	again := rc.Units("secrets", []byte("scope"))
	if !again.Warm() {
		t.Fatal("the run's units were not written")
	}
	got, ok := again.Get(k1)
	if !ok {
		t.Fatal("a unit that was put is a miss")
	}
	if _, ok := again.Get(k2); ok {
		t.Error("a unit with a policy decision was kept")
	}
	if _, ok := again.Get(k3); ok {
		t.Error("a unit with an error was kept")
	}
	for _, f := range got.Findings {
		if f.Identity != "" || f.TieBreak != "" {
			t.Errorf("the cache kept Identity %q / TieBreak %q", f.Identity, f.TieBreak)
		}
	}
	want := Result{Findings: findings()}
	want.Normalize()
	have := Result{Findings: got.Findings}
	have.Normalize()
	for i := range want.Findings {
		w, h := want.Findings[i], have.Findings[i]
		if w.Fingerprint != h.Fingerprint || w.FingerprintV2 != h.FingerprintV2 {
			t.Errorf("finding %d: fingerprints %s %s, want %s %s", i, h.Fingerprint, h.FingerprintV2, w.Fingerprint, w.FingerprintV2)
		}
		w.Identity, w.TieBreak, h.v2base, h.tiefp = "", "", "", ""
		if !reflect.DeepEqual(w, h) {
			t.Errorf("finding %d:\n got %+v\nwant %+v", i, h, w)
		}
	}
	if s := again.Stats(); s.FromCache != 1 {
		t.Errorf("stats %+v, want one unit from the cache", s)
	}
	if other := rc.Units("secrets", []byte("other scope")); other.Warm() {
		t.Error("another scope sees this one's units")
	}

	// A pack cut short is no pack.
	if _, err := decodePack(encodePack(map[cache.Key][]byte{k1: []byte("payload")})[:40]); err == nil {
		t.Error("a truncated pack decodes")
	}
}
