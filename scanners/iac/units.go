package iac

import (
	"crypto/sha256"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/aquasecurity/trivy/pkg/iac/detection"

	"github.com/tollgate/tollgate/cache"
	tg "github.com/tollgate/tollgate/scanners"
)

// A unit is what the result cache keeps results of: the files whose checks
// depend only on each other. One file of the per-file types (Kubernetes,
// Dockerfile, CloudFormation, ARM); one plan; one top-level Helm chart with
// its subcharts; one Terraform tree (the directories joined by local
// module sources); every Ansible file together (playbooks use roles by
// path). Any byte of a unit changes, the unit is checked again.

// planUnits lists the units of the classified files, in a fixed order.
func planUnits(byType map[detection.FileType][]string, contents map[string][]byte) []job {
	var units []job
	for _, ft := range fileTypes {
		paths := byType[ft.t]
		if len(paths) == 0 {
			continue
		}
		switch {
		case isPlan(ft.t):
			for _, p := range paths {
				units = append(units, job{ft.t, []string{p}})
			}
		case ft.t == detection.FileTypeTerraform:
			for _, group := range terraformGroups(paths, contents) {
				units = append(units, job{ft.t, group})
			}
		case ft.t == detection.FileTypeAnsible:
			units = append(units, job{ft.t, paths})
		case ft.t == detection.FileTypeHelm:
			for _, group := range chartGroups(paths) {
				units = append(units, job{ft.t, group})
			}
		default:
			for _, p := range paths {
				units = append(units, job{ft.t, []string{p}})
			}
		}
	}
	return units
}

// ownedUnits keeps the units a shard owns (a group by its first file, so
// that a group is never split) and the notifications about their files.
func ownedUnits(shard tg.Shard, units []job, notes *[]tg.Notification) []job {
	if !shard.Split() {
		return units
	}
	owner := map[string]bool{}
	var out []job
	for _, u := range units {
		owns := shard.Owns(u.paths[0])
		for _, p := range u.paths {
			owner[p] = owns
		}
		if owns {
			out = append(out, u)
		}
	}
	kept := (*notes)[:0]
	for _, n := range *notes {
		owns, ok := owner[n.Path]
		if n.Path == "" || owns || !ok && shard.Owns(n.Path) {
			kept = append(kept, n)
		}
	}
	*notes = kept
	return out
}

// perFile reports whether a type's files are checked one by one, so that
// several can share a run of the type's scanner.
func perFile(ft detection.FileType) bool {
	switch {
	case isPlan(ft), ft == detection.FileTypeTerraform, ft == detection.FileTypeAnsible, ft == detection.FileTypeHelm, ft == fileTypeKustomize:
		return false
	}
	return true
}

// batchJobs turns units into runs of Trivy's scanners: a group unit is a
// run of its own; the files of a per-file type go in batches, enough for
// every worker to have work. The order is kept, so the results are fixed.
func batchJobs(units []job, workers int) []job {
	var jobs []job
	single := map[detection.FileType][]string{}
	var order []detection.FileType
	for _, u := range units {
		if !perFile(u.ft) {
			jobs = append(jobs, u)
			continue
		}
		if _, ok := single[u.ft]; !ok {
			order = append(order, u.ft)
		}
		single[u.ft] = append(single[u.ft], u.paths...)
	}
	for _, ft := range order {
		for _, b := range batches(single[ft], workers) {
			jobs = append(jobs, job{ft, b})
		}
	}
	return jobs
}

// terraformGroups splits Terraform files into trees that are checked
// independently: directories joined by a local module source are one tree,
// since a module's findings depend on its callers' arguments and whether a
// directory is a root module depends on whether another calls it (Trivy
// finds root modules exactly so). When a file's module sources cannot be
// read here (JSON syntax, a parse error, no contents), every file is one
// tree, as Trivy sees them.
func terraformGroups(paths []string, contents map[string][]byte) [][]string {
	parent := map[string]string{}
	var find func(string) string
	find = func(d string) string {
		p, ok := parent[d]
		if !ok || p == d {
			parent[d] = d
			return d
		}
		r := find(p)
		parent[d] = r
		return r
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra != rb {
			if rb < ra {
				ra, rb = rb, ra
			}
			parent[rb] = ra
		}
	}
	for _, p := range paths {
		dir := path.Dir(p)
		find(dir)
		lower := strings.ToLower(p)
		if !strings.HasSuffix(lower, ".tf") && !strings.HasSuffix(lower, ".tofu") {
			if strings.HasSuffix(lower, ".json") {
				return [][]string{paths}
			}
			continue // .tfvars: values of its directory's module
		}
		content, ok := contents[p]
		if !ok {
			return [][]string{paths}
		}
		calls, ok := localModuleCalls(p, content)
		if !ok {
			return [][]string{paths}
		}
		for _, c := range calls {
			union(dir, c.to)
		}
	}
	return groupBy(paths, func(p string) string { return find(path.Dir(p)) })
}

// groupBy groups paths by their root, groups in the order of their first
// path, paths in their order.
func groupBy(paths []string, root func(p string) string) [][]string {
	byRoot := map[string][]string{}
	var roots []string
	for _, p := range paths {
		r := root(p)
		if _, ok := byRoot[r]; !ok {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], p)
	}
	out := make([][]string, 0, len(roots))
	for _, r := range roots {
		out = append(out, byRoot[r])
	}
	return out
}

// unitKey digests a unit: its type, and each file's path and content.
func unitKey(uc *tg.UnitCache, u job, contents map[string][]byte) cache.Key {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", u.ft)
	for _, p := range u.paths {
		sum := sha256.Sum256(contents[p])
		fmt.Fprintf(h, "%q %x\n", p, sum)
	}
	return uc.Key(h.Sum(nil))
}

// cacheable reports whether a unit's results depend only on its files and
// the scope: not a Terraform tree whose remote modules are downloaded.
func (s *Engine) cacheable(u job) bool {
	return !(u.ft == detection.FileTypeTerraform && s.opts.DownloadModules)
}

// splitPart cuts a batch's results into its files' units: each finding,
// and its rule, goes to its file. false when something in the part belongs
// to no one file (a notification about the batch), which then is not kept.
func splitPart(part tg.Result, paths []string) (map[string]*tg.Unit, bool) {
	units := map[string]*tg.Unit{}
	for _, p := range paths {
		units[p] = &tg.Unit{}
	}
	rules := map[string]tg.Rule{}
	for _, r := range part.Rules {
		rules[r.ID] = r
	}
	for _, f := range part.Findings {
		u, ok := units[f.Location.Path]
		if !ok {
			return nil, false
		}
		u.Findings = append(u.Findings, f)
		if !slices.ContainsFunc(u.Rules, func(r tg.Rule) bool { return r.ID == f.RuleID }) {
			u.Rules = append(u.Rules, rules[f.RuleID])
		}
	}
	for _, n := range part.Status.Notifications {
		u, ok := units[n.Path]
		if !ok {
			return nil, false
		}
		u.Notifications = append(u.Notifications, n)
	}
	return units, true
}

// scopeOf digests what every unit's results depend on besides its files:
// Trivy's version, the enabled types, the custom checks, their namespaces,
// the value files, and whether modules are downloaded.
func (s *Engine) scopeOf(in *inputs) [][]byte {
	h := sha256.New()
	fmt.Fprintf(h, "trivy %s\n", TrivyVersion)
	types := slices.Clone(s.opts.FileTypes)
	sort.Strings(types)
	ns := slices.Clone(s.opts.Namespaces)
	sort.Strings(ns)
	fmt.Fprintf(h, "types %q namespaces %q download-modules=%t\n", types, ns, s.opts.DownloadModules)
	return [][]byte{h.Sum(nil), in.digest.Sum(nil)}
}

// classifiedFiles is every file classify gave a type, with its first type.
func classifiedFiles(byType map[detection.FileType][]string) map[string]detection.FileType {
	out := map[string]detection.FileType{}
	for _, ft := range fileTypes {
		for _, p := range byType[ft.t] {
			if _, ok := out[p]; !ok {
				out[p] = ft.t
			}
		}
	}
	return out
}

// unaccounted holds every classified file to account: each is checked in
// a unit (which ends with its results or a notification naming its files:
// runJob), or a notification already names it. A file that is neither
// would leave the gate without a word, so it gets an error notification
// of its own (not-checked, which in a pull-request build fails the gate as
// any unchecked file does). Files another shard owns are its to account.
func unaccounted(shard tg.Shard, classified map[string]detection.FileType, units []job, notes []tg.Notification) []tg.Notification {
	covered := map[string]bool{}
	for _, u := range units {
		for _, p := range u.paths {
			covered[p] = true
		}
	}
	for _, n := range notes {
		covered[n.Path] = true
	}
	var missing []string
	for p := range classified {
		if !covered[p] && (!shard.Split() || shard.Owns(p)) {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	out := make([]tg.Notification, 0, len(missing))
	for _, p := range missing {
		out = append(out, tg.Notification{Level: tg.LevelError, Code: "not-checked", Path: p,
			Message: fmt.Sprintf("%s (%s) was not checked: no unit of the IaC engine held it (a bug in Tollgate; please report it)", p, classified[p])})
	}
	return out
}
