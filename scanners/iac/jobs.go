package iac

import (
	"context"
	"fmt"
	"path"
	"slices"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	iacscan "github.com/aquasecurity/trivy/pkg/iac/scan"

	"github.com/tollgate/tollgate/cache"
	tg "github.com/tollgate/tollgate/scanners"
)

// job is one run of a type's checks over a set of files.
type job struct {
	ft    detection.FileType
	paths []string
}

// batches cuts paths into runs of at least minBatch files, about four per
// worker so that uneven files still keep every worker busy.
func batches(paths []string, workers int) [][]string {
	const minBatch = 32
	workers = max(workers, 1)
	size := max(minBatch, (len(paths)+4*workers-1)/(4*workers))
	var out [][]string
	for len(paths) > size {
		out = append(out, paths[:size:size])
		paths = paths[size:]
	}
	return append(out, paths)
}

// chartGroups groups Helm files by their top-level chart (a subchart stays
// with its parent, whose rendering includes it); a file outside any chart,
// such as a packaged chart archive, is a group of its own.
func chartGroups(paths []string) [][]string {
	charts := helmCharts(paths)
	return groupBy(paths, func(p string) string {
		root := p
		for d := path.Dir(p); ; d = path.Dir(d) {
			if charts[d] {
				root = d
			}
			if d == "." || d == "/" {
				break
			}
		}
		return root
	})
}

// scanGroup runs one type's checks over a set of files and puts what it
// finds in res. Only a cancelled context is an error; a failing check run
// becomes a notification.
func (s *Engine) scanGroup(ctx context.Context, in *inputs, contents map[string][]byte, ft detection.FileType, paths []string, rs *rego.Scanner,
	lines *lineCache, res *tg.Result) error {
	if ft == fileTypeKustomize {
		return s.scanKustomization(ctx, in, contents, paths, rs, lines, res)
	}
	if ft == detection.FileTypeTerraform || ft == detection.FileTypeAnsible {
		var notes []tg.Notification
		if ft == detection.FileTypeTerraform {
			contents, notes = breakModuleCycles(paths, contents)
		} else {
			contents, notes = breakAnsibleCycles(paths, contents)
		}
		for _, n := range notes {
			res.Status.Add(n)
		}
	}
	fsys, err := buildFS(contents, paths)
	if err != nil {
		res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "internal", Message: err.Error()})
		return nil
	}
	if ft == detection.FileTypeHelm {
		kept, patched, err := s.renderableCharts(ctx, in, fsys, contents, paths, res)
		if err != nil {
			return err
		}
		if patched != nil {
			contents = patched
		}
		if len(kept) < len(paths) || patched != nil {
			if paths = kept; len(paths) == 0 {
				return nil
			}
			if fsys, err = buildFS(contents, paths); err != nil {
				res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "internal", Message: err.Error()})
				return nil
			}
		}
	}
	sc, err := s.newTrivyScanner(ft, rs, in)
	if err != nil {
		res.Status.Add(tg.Notification{Level: tg.LevelError, Code: "scanner-init",
			Message: fmt.Sprintf("%s scanner could not start: %v", ft, err)})
		return nil
	}
	results, err := sc.ScanFS(ctx, fsys, ".")
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n := tg.Notification{Level: tg.LevelError, Code: "scan-error", Message: fmt.Sprintf("%s checks failed: %v", ft, err)}
		if len(paths) == 1 {
			n.Path = paths[0]
			n.Message = fmt.Sprintf("%s checks failed on %s: %v", ft, paths[0], err)
		}
		res.Status.Add(n)
		return nil
	}
	for _, r := range results {
		if r.Status() == iacscan.StatusPassed {
			continue
		}
		f, rule := convert(ft, r, lines)
		if isPlan(ft) {
			relocateToPlan(&f, paths[0], lines)
		}
		res.Findings = append(res.Findings, f)
		if !slices.ContainsFunc(res.Rules, func(r tg.Rule) bool { return r.ID == rule.ID }) {
			res.Rules = append(res.Rules, rule)
		}
	}
	return nil
}

// units is how many of the plan's units the job holds: a batch of
// per-file types one per file, a group one.
func (j job) units() int {
	if perFile(j.ft) {
		return len(j.paths)
	}
	return 1
}

// unitID names a unit within a scan: its type and first file.
func unitID(u job) string { return string(u.ft) + "\x00" + u.paths[0] }

// store keeps the units of a finished run of Trivy's scanners: a group
// unit as it is, a batch cut into its files.
func (s *Engine) store(units *tg.UnitCache, keys map[string]cache.Key, j job, part tg.Result) {
	if !perFile(j.ft) {
		if k, ok := keys[unitID(j)]; ok {
			units.Put(k, tg.Unit{Findings: part.Findings, Rules: part.Rules, Notifications: part.Status.Notifications})
		}
		return
	}
	byFile, ok := splitPart(part, j.paths)
	if !ok {
		return
	}
	for _, p := range j.paths {
		if k, ok := keys[unitID(job{j.ft, []string{p}})]; ok {
			units.Put(k, *byFile[p])
		}
	}
}
