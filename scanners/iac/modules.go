package iac

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	tg "github.com/tollgate/tollgate/scanners"
)

// remoteModuleNotes names the Terraform modules of a file whose source is
// not a local path. Tollgate does not fetch them (a pull request must not
// make the scanner download URLs of its choosing), so the resources they
// define go unchecked: say so rather than pass silently.
func remoteModuleNotes(p string, content []byte) []tg.Notification {
	lower := strings.ToLower(p)
	if !strings.HasSuffix(lower, ".tf") && !strings.HasSuffix(lower, ".tofu") {
		return nil
	}
	file, diags := hclsyntax.ParseConfig(content, p, hcl.InitialPos)
	if diags.HasErrors() {
		return nil
	}
	body, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var notes []tg.Notification
	for _, b := range body.Blocks {
		if b.Type != "module" || len(b.Labels) != 1 {
			continue
		}
		attr, ok := b.Body.Attributes["source"]
		if !ok {
			continue
		}
		v, d := attr.Expr.Value(nil)
		if d.HasErrors() || !v.Type().Equals(cty.String) || v.IsNull() {
			continue
		}
		src := v.AsString()
		if strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") {
			continue
		}
		line := b.DefRange().Start.Line
		notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "remote-module", Path: p, Line: line,
			Message: fmt.Sprintf("module %q in %s:%d has a remote source (%s), which is not fetched: the resources it defines were not checked "+
				"(--download-tf-modules fetches it; the URL comes from the scanned code, so allow it only for trusted code)",
				b.Labels[0], p, line, describeSource(src))})
	}
	return notes
}

// describeSource shortens a module source for a message and strips any
// credentials from it (git::https://user:token@host/...?sig=...).
func describeSource(src string) string {
	prefix := ""
	if i := strings.Index(src, "::"); i > 0 && !strings.Contains(src[:i], "/") {
		prefix, src = src[:i+2], src[i+2:]
	}
	// Userinfo, query (?sig=, ?sshkey=, private_token=) and fragment go.
	src = prefix + tg.RedactURL(src)
	if len(src) > 200 {
		src = src[:200] + "..."
	}
	return src
}
