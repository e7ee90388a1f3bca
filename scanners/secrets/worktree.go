package secrets

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/tollgate/tollgate/cache"
	"github.com/tollgate/tollgate/internal/crash"
	"github.com/tollgate/tollgate/scanners"
)

// scanWorktree reads the walked files, several at a time. With a result
// cache, a file is a unit: its path and content, under the digest of the
// rules and options, name what was found in it, and a file found there is
// not scanned again. The rules are compiled only when some file has to be.
func (s *Engine) scanWorktree(ctx context.Context, t *scanners.Target, res scanners.Result) (scanners.Result, error) {
	src, err := s.readConfig(t)
	if err != nil {
		return res, err
	}
	var units *scanners.UnitCache
	if !s.opts.ReviewCheckoutConfig {
		// A pull request's own config (reviewed, never applied) is not in
		// the key, so such a build neither reads nor writes the cache.
		units = s.opts.Cache.Units(scanners.EngineSecrets, s.scope(src)...)
	}
	var (
		once     sync.Once
		e        *engine
		loadErr  error
		compiled atomic.Pointer[engine] // e, for workers that must not wait for it
	)
	compile := func() (*engine, error) {
		once.Do(func() {
			e, loadErr = s.compile(ctx, t, src)
			compiled.Store(e)
		})
		return e, loadErr
	}
	if !units.Warm() {
		// Nothing to reuse: compile now, as a scan without a cache does.
		if _, err := compile(); err != nil {
			return res, err
		}
	}

	var (
		mu    sync.Mutex
		found []scanners.Unit
	)
	nonEmpty := 0
	for _, f := range t.Files {
		if f.Size > 0 {
			nonEmpty++
		}
	}
	units.AddUnits(nonEmpty)
	gauge := t.Meter.Gauge(scanners.EngineSecrets, "files")
	gauge.SetTotal(len(t.Files))
	files := make(chan scanners.File)
	// The workers' fragments share one byte budget: however many workers
	// there are, at most inFlight bytes of files are held at once.
	budget := semaphore.NewWeighted(inFlight)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		defer close(files)
		defer crash.Recover("the secrets engine's file list", &err)
		for _, f := range t.Files {
			select {
			case files <- f: // taken by a worker: counted as read
				gauge.Add(1)
				gauge.AddBytes(f.Size)
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range s.opts.Workers {
		g.Go(func() (err error) {
			defer crash.Recover("the secrets engine", &err)
			buf := make([]byte, fragmentSize)
			for f := range files {
				if f.Size == 0 {
					continue
				}
				var key cache.Key
				keyed := false
				var pathKey cache.Key
				if units != nil {
					// A file the path allowlists skip is known by its path.
					pathKey = units.Key([]byte("path-allowed"), []byte(f.Path))
					if _, ok := units.Get(pathKey); ok {
						continue
					}
					if e := compiled.Load(); e != nil && pathAllowed(&e.dets.gl.Config, f.Path) {
						units.Put(pathKey, scanners.Unit{})
						continue
					}
					if sum, err := fileDigest(t, f.Path); err == nil {
						key, keyed = units.Key([]byte(f.Path), sum), true
						if u, ok := units.Get(key); ok {
							mu.Lock()
							found = append(found, u)
							mu.Unlock()
							continue
						}
					}
				}
				e, err := compile()
				if err != nil {
					return err
				}
				if units != nil && pathAllowed(&e.dets.gl.Config, f.Path) {
					units.Put(pathKey, scanners.Unit{})
					continue
				}
				held := min(f.Size, int64(len(buf)))
				if err := budget.Acquire(gctx, held); err != nil {
					return err
				}
				u := e.scanUnit(gctx, t, f, buf)
				budget.Release(held)
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if keyed && len(u.Notifications) == 0 {
					// A file that could not be read is read again next time.
					units.Put(key, u)
				}
				mu.Lock()
				found = append(found, u)
				mu.Unlock()
			}
			return gctx.Err()
		})
	}
	// The files read whole before an interrupt or a time limit keep their
	// findings (the result then fails as incomplete, in scanners.Run).
	waitErr := g.Wait()
	if waitErr == nil {
		units.Close() // an interrupted run's units would replace the whole pack
	}
	res.Cache = units.Stats()
	if e != nil && waitErr == nil {
		e.proposalNote(&res)
	}
	rules := map[string]scanners.Rule{}
	for _, u := range found {
		res.Findings = append(res.Findings, u.Findings...)
		for _, n := range u.Notifications {
			res.Status.Add(n)
		}
		for _, r := range u.Rules {
			if _, ok := rules[r.ID]; !ok {
				rules[r.ID] = r
			}
		}
	}
	for _, r := range rules {
		res.Rules = append(res.Rules, r)
	}
	return res, waitErr
}

// scanUnit scans one file: what gitleaks finds, reported once per secret,
// converted, with the rules of the findings.
func (e *engine) scanUnit(ctx context.Context, t *scanners.Target, f scanners.File, buf []byte) scanners.Unit {
	var u scanners.Unit
	if pathAllowed(&e.dets.gl.Config, f.Path) {
		return u
	}
	raw, note := scanFile(ctx, e, t, f, buf)
	if note != nil {
		u.Notifications = append(u.Notifications, *note)
	}
	seen := map[string]bool{}
	for _, gf := range dedupe(raw, e.class) {
		fd := e.convert(gf)
		u.Findings = append(u.Findings, fd)
		if !seen[fd.RuleID] {
			seen[fd.RuleID] = true
			u.Rules = append(u.Rules, e.s.ruleOf(e.cfg, fd.RuleID))
		}
	}
	return u
}

// scope digests what the findings of a file depend on besides its path
// and content: gitleaks' version and regular-expression engine, the
// configuration's bytes and those of the files it extends, and every
// option that changes a finding.
func (s *Engine) scope(src configSource) [][]byte {
	h := sha256.New()
	fmt.Fprintf(h, "gitleaks %s regexp %s\n", GitleaksVersion, RegexEngine)
	if src.content == nil {
		fmt.Fprintf(h, "config: gitleaks default\n")
	} else {
		fmt.Fprintf(h, "config %q %d:", src.rel, len(src.content))
		h.Write(src.content)
		extendsDigest(src.content, src.readExtend, 0, h)
	}
	o := s.opts
	fmt.Fprintf(h, "\nextra=%t emulators=%t hardcoded=%t archives=%d severity=%s\n",
		!o.NoExtraRules, !o.NoEmulatorAllowlist, !o.NoHardcoded, o.MaxArchiveDepth, o.Severity)
	ids := make([]string, 0, len(o.RuleSeverity))
	for id := range o.RuleSeverity {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(h, "rule-severity %q=%s\n", id, o.RuleSeverity[id])
	}
	return [][]byte{h.Sum(nil)}
}

// fileDigest is the SHA-256 of a file's bytes, read through the target's
// confined reader.
func fileDigest(t *scanners.Target, p string) ([]byte, error) {
	f, err := t.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
