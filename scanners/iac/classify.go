package iac

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
		if isBicep(f.Path) {
			var errs []error
			if content, errs = bicepTemplate(content); len(errs) > 0 {
				notes = append(notes, bicepNotification(f.Path, errs))
			}
		}
		if syn, ok := nestingSyntax(f.Path); ok {
			if err := tg.TooDeep(content, syn, tg.MaxNesting); err != nil {
				var ne *tg.NestingError
				line := 0
				if errors.As(err, &ne) {
					line = ne.Line
				}
				notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "too-deep", Path: f.Path, Line: line,
					Message: fmt.Sprintf("%s was not checked: %v", f.Path, err)})
				continue
			}
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

// nestingSyntax is the lexical family a parser reads path with, for the
// nesting guard (tg.TooDeep): Terraform's HCL, or JSON (Terraform JSON, ARM,
// CloudFormation, plans, Kubernetes). YAML's parser bounds its own depth.
func nestingSyntax(path string) (tg.Syntax, bool) {
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".json"), strings.HasSuffix(lower, ".bicep"): // Bicep as the template it is read into
		return tg.SyntaxJSON, true
	case strings.HasSuffix(lower, ".tf"), strings.HasSuffix(lower, ".tofu"), strings.HasSuffix(lower, ".tfvars"), strings.HasSuffix(lower, ".hcl"):
		return tg.SyntaxHCL, true
	}
	return 0, false
}
