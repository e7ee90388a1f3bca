package prcomments_test

import (
	"fmt"
	"testing"

	"github.com/tollgate/tollgate/task/prcomments"
	"github.com/tollgate/tollgate/task/prcomments/adofake"
)

// TestCapGoesToIntroducedThenSevere: the capped threads go to the findings
// the pull request introduces first, then the most severe. Thirty LOW
// decoys in files that sort first leave the CRITICAL in z.py its thread;
// a HIGH that was there before the pull request (PreExisting) comes after
// a MEDIUM the pull request introduces.
func TestCapGoesToIntroducedThenSevere(t *testing.T) {
	var changes []adofake.Change
	var fs []prcomments.Finding
	for i := range 30 {
		p := fmt.Sprintf("a/decoy%02d.py", i)
		changes = append(changes, adofake.Change{Path: "/" + p, ChangeType: "add"})
		fs = append(fs, finding(fmt.Sprintf("decoy%02d", i), "low", p, 2))
	}
	changes = append(changes, adofake.Change{Path: "/z.py", ChangeType: "add"})
	fs = append(fs, finding("real", "critical", "z.py", 7))
	s := adofake.New(token, changes...)
	defer s.Close()
	res := decorate(t, s, fs, allChanged, 25)
	if _, ok := byFingerprint(s)["real"]; !ok || res.Created != 25 || res.Overflow != 6 {
		t.Errorf("the CRITICAL in z.py has a thread: %v; %+v", ok, res)
	}

	s2 := adofake.New(token, adofake.Change{Path: "/lib/old.py", ChangeType: "edit"}, adofake.Change{Path: "/new.py", ChangeType: "add"})
	defer s2.Close()
	old := finding("old", "high", "lib/old.py", 3)
	old.PreExisting = true
	res = decorate(t, s2, []prcomments.Finding{old, finding("introduced", "medium", "new.py", 1)}, allChanged, 1)
	threads := byFingerprint(s2)
	if _, ok := threads["introduced"]; !ok || len(threads) != 1 || res.Overflow != 1 {
		t.Errorf("cap 1: threads %v, want the introduced MEDIUM's alone; %+v", keys(threads), res)
	}
}

func keys(m map[string]adofake.Thread) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
