package iac

import (
	"context"
	"fmt"

	"github.com/aquasecurity/trivy/pkg/iac/detection"

	tg "github.com/tollgate/tollgate/scanners"
)

// classify reads each candidate file once: it runs Trivy's type detection
// and checks the syntax. It returns the files each type claims with their
// contents, and calls found as each is claimed.
func (s *Engine) classify(ctx context.Context, t *tg.Target, enabled map[detection.FileType]bool, found func()) (map[detection.FileType][]string, map[string][]byte, []tg.Notification) {
	var notes []tg.Notification
	for _, n := range t.SkippedNotifications(true, func(p string) bool {
		return len(candidateTypes(p, 0, enabled)) > 0
	}) {
		notes = append(notes, n)
	}
	paths := make([]string, len(t.Files))
	for i, f := range t.Files {
		paths[i] = f.Path
	}
	charts := helmCharts(paths)
	byType := map[detection.FileType][]string{}
	contents := map[string][]byte{}
	for _, f := range t.Files {
		if ctx.Err() != nil {
			break
		}
		cands := candidateTypes(f.Path, f.Size, enabled)
		if len(cands) == 0 {
			continue
		}
		content, err := readFile(t, f.Path)
		if err != nil {
			notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "unreadable", Path: f.Path,
				Message: fmt.Sprintf("cannot read %s: %v", f.Path, tg.Cause(err))})
			continue
		}
		if se := checkSyntax(f.Path, content, tg.UnderDir(f.Path, charts)); se != nil {
			notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "parse-error", Path: f.Path, Line: se.Line,
				Message: fmt.Sprintf("%s could not be parsed, so its checks did not run: %s", f.Path, se)})
			if se.Skip {
				continue
			}
		} else if !s.opts.DownloadModules {
			notes = append(notes, remoteModuleNotes(f.Path, content)...)
		}
		for _, ft := range matchTypes(f.Path, content, cands) {
			if ft == detection.FileTypeDockerfile {
				var se *syntaxError
				if content, se = dockerfileGuard(content); se != nil {
					notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "parse-error", Path: f.Path, Line: se.Line,
						Message: fmt.Sprintf("%s could not be parsed, so its checks did not run: %s", f.Path, se)})
					continue
				}
			}
			byType[ft] = append(byType[ft], f.Path)
			contents[f.Path] = content
			found()
		}
	}
	return byType, contents, notes
}
