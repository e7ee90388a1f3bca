package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Targets are the goals the table is checked against (issue 8).
const (
	TargetVsBoth  = 0.6 // tollgate <= 0.6 x (gitleaks + trivy config)
	TargetVsTrivy = 1.0 // tollgate <= 1.0 x trivy config
	TargetStartup = 500 * time.Millisecond
	TargetRSS     = 1.1  // peak RSS <= 1.1 x trivy config's
	TargetImage   = 1.0  // image scan <= 1.0 x trivy image
	TargetWarm    = 0.15 // warm result cache, unchanged tree <= 0.15 x the cold scan (issue 16)
	TargetWarm1   = 0.2  // warm result cache, one file changed <= 0.2 x the cold scan
	TargetShard   = 0.35 // each of ShardCount shards <= 0.35 x the single scan
	TargetMerge   = 2 * time.Second
	// ShardCount is the number of shards the benchmark splits a tree into.
	ShardCount      = 4
	startupTreeName = "empty (start-up)"
)

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }
func mb(b int64) string           { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// throughput is MB/s.
func throughput(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / (1 << 20) / d.Seconds()
}

// Markdown writes the tables and the targets' verdicts.
func (r Results) Markdown(w io.Writer) {
	fmt.Fprintf(w, "Medians of %d runs after one warm-up run; wall time in seconds, peak RSS in MiB.\n\n", r.Runs)
	fmt.Fprintln(w, "| tree | files | MiB | tollgate s | gitleaks s | trivy config s | gitleaks + trivy s | tollgate / both | tollgate / trivy | RSS tollgate | RSS trivy | RSS ratio | tollgate MiB/s | gitleaks MiB/s | tollgate secrets MiB/s |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var verdicts []string
	for _, row := range r.Trees {
		tg, hasTG := row.Measures["tollgate"]
		gl, hasGL := row.Measures["gitleaks"]
		tv, hasTV := row.Measures["trivy"]
		cells := []string{row.Tree, fmt.Sprint(row.Files), fmt.Sprintf("%.1f", float64(row.Bytes)/(1<<20)), "", "", "", "", "", "", "", "", "", "", "", ""}
		if hasTG {
			cells[3] = secs(tg.Wall())
			cells[9] = mb(tg.RSS())
			cells[12] = fmt.Sprintf("%.1f", throughput(row.Bytes, tg.Wall()))
		}
		if hasGL {
			cells[4] = secs(gl.Wall())
			cells[13] = fmt.Sprintf("%.1f", throughput(row.Bytes, gl.Wall()))
		}
		if hasTV {
			cells[5] = secs(tv.Wall())
			cells[10] = mb(tv.RSS())
		}
		if hasTG && hasGL && hasTV {
			both := gl.Wall() + tv.Wall()
			cells[6] = secs(both)
			rb := ratio(tg.Wall(), both)
			cells[7] = fmt.Sprintf("%.2f %s", rb, mark(rb <= TargetVsBoth))
			verdicts = append(verdicts, fmt.Sprintf("%s %s: tollgate / (gitleaks + trivy config) = %.2f (target <= %.1f)", mark(rb <= TargetVsBoth), row.Tree, rb, TargetVsBoth))
		}
		if hasTG && hasTV {
			rt := ratio(tg.Wall(), tv.Wall())
			cells[8] = fmt.Sprintf("%.2f %s", rt, mark(rt <= TargetVsTrivy))
			rr := float64(tg.RSS()) / float64(max(tv.RSS(), 1))
			cells[11] = fmt.Sprintf("%.2f %s", rr, mark(rr <= TargetRSS))
			verdicts = append(verdicts,
				fmt.Sprintf("%s %s: tollgate / trivy config = %.2f (target <= %.1f)", mark(rt <= TargetVsTrivy), row.Tree, rt, TargetVsTrivy),
				fmt.Sprintf("%s %s: peak RSS tollgate / trivy config = %.2f (target <= %.1f)", mark(rr <= TargetRSS), row.Tree, rr, TargetRSS))
		}
		if ts, ok := row.Measures["tollgate-secrets"]; ok && hasGL {
			// Throughput is the secret engine's against gitleaks dir, the
			// same work on the same bytes; the full scan's is in the table.
			a, b := throughput(row.Bytes, ts.Wall()), throughput(row.Bytes, gl.Wall())
			cells[14] = fmt.Sprintf("%.1f", a)
			verdicts = append(verdicts, fmt.Sprintf("%s %s: secrets throughput %.1f MiB/s (tollgate --scanners secrets, %s s) vs gitleaks dir %.1f MiB/s (target >=)",
				mark(a >= b), row.Tree, a, secs(ts.Wall()), b))
		}
		if tw, ok := row.Measures["tollgate-warm"]; ok && hasTG {
			rw := ratio(tw.Wall(), tg.Wall())
			verdicts = append(verdicts, fmt.Sprintf("%s %s: warm result cache, unchanged tree %s s = %.2f x the cold scan (target <= %.2f)",
				mark(rw <= TargetWarm), row.Tree, secs(tw.Wall()), rw, TargetWarm))
		}
		if tw, ok := row.Measures["tollgate-warm-1changed"]; ok && hasTG {
			rw := ratio(tw.Wall(), tg.Wall())
			verdicts = append(verdicts, fmt.Sprintf("%s %s: warm result cache, one file changed %s s = %.2f x the cold scan (target <= %.2f)",
				mark(rw <= TargetWarm1), row.Tree, secs(tw.Wall()), rw, TargetWarm1))
		}
		if _, ok := row.Measures["tollgate-shard-1"]; ok && hasTG {
			var parts []string
			worst := 0.0
			for k := 1; k <= ShardCount; k++ {
				m := row.Measures[fmt.Sprintf("tollgate-shard-%d", k)]
				r := ratio(m.Wall(), tg.Wall())
				worst = max(worst, r)
				parts = append(parts, fmt.Sprintf("%s s (%.2f)", secs(m.Wall()), r))
			}
			verdicts = append(verdicts, fmt.Sprintf("%s %s: %d shards, each x the single scan: %s (target <= %.2f)",
				mark(worst <= TargetShard), row.Tree, ShardCount, strings.Join(parts, ", "), TargetShard))
			if m, ok := row.Measures["tollgate-merge"]; ok {
				verdicts = append(verdicts, fmt.Sprintf("%s %s: merge of %d shard logs %s s, peak RSS %s MB (target <= %s s)",
					mark(m.Wall() <= TargetMerge), row.Tree, ShardCount, secs(m.Wall()), mb(m.RSS()), secs(TargetMerge)))
			}
		}
		if row.Tree == startupTreeName && hasTG {
			verdicts = append(verdicts, fmt.Sprintf("%s start-up (empty directory, secrets + IaC): %s s (target <= %s s)", mark(tg.Wall() <= TargetStartup), secs(tg.Wall()), secs(TargetStartup)))
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}

	// Linearity: time per 1,000 files across the monorepo sizes.
	var lin []string
	for _, row := range r.Trees {
		if tg, ok := row.Measures["tollgate"]; ok && strings.HasPrefix(row.Tree, "monorepo") && row.Files > 0 {
			lin = append(lin, fmt.Sprintf("%d files: %.3f s per 1,000 files, %.3f s per 100 MiB", row.Files,
				tg.Wall().Seconds()*1000/float64(row.Files), tg.Wall().Seconds()*100/(float64(row.Bytes)/(1<<20))))
		}
	}
	if len(lin) > 0 {
		fmt.Fprintf(w, "\nScaling (tollgate): %s.\n", strings.Join(lin, "; "))
	}

	if r.Image != nil {
		row := *r.Image
		tg, tv := row.Measures["tollgate"], row.Measures["trivy"]
		fmt.Fprintln(w, "\n| image (docker save tarball, warm fixture DB) | MiB | tollgate s | trivy image s | ratio | RSS tollgate | RSS trivy |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
		cells := []string{row.Tree, fmt.Sprintf("%.1f", float64(row.Bytes)/(1<<20)), secs(tg.Wall()), "", "", mb(tg.RSS()), ""}
		if _, ok := row.Measures["trivy"]; ok {
			ri := ratio(tg.Wall(), tv.Wall())
			cells[3], cells[4], cells[6] = secs(tv.Wall()), fmt.Sprintf("%.2f %s", ri, mark(ri <= TargetImage)), mb(tv.RSS())
			verdicts = append(verdicts, fmt.Sprintf("%s %s: tollgate / trivy image = %.2f (target <= %.1f)", mark(ri <= TargetImage), row.Tree, ri, TargetImage))
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
	if len(verdicts) > 0 {
		fmt.Fprintln(w, "\nTargets:")
		fmt.Fprintln(w)
		for _, v := range verdicts {
			fmt.Fprintln(w, "- "+v)
		}
	}
}
