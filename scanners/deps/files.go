package deps

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/scanners"
)

// guardPOMs drops the pom.xml files that would make Trivy's Maven parser
// read outside the checkout (it opens parent and module POMs by path, and
// POMs of the Maven local repository by coordinates): a parent's
// relativePath or a module that leaves the tree, and coordinates or
// properties that could name a path. Each dropped file is a notification.
func guardPOMs(contents map[string][]byte) []scanners.Notification {
	var notes []scanners.Notification
	for _, p := range sortedKeys(contents) {
		if path.Base(p) != ftypes.MavenPom {
			continue
		}
		if why := pomEscape(p, contents[p]); why != "" {
			delete(contents, p)
			notes = append(notes, scanners.Notification{Level: scanners.LevelWarning, Code: "file-skipped", Path: p,
				Message: fmt.Sprintf("%s was not checked for vulnerable dependencies: %s", p, why)})
		}
	}
	return notes
}

// pomEscape says why a POM could lead its parser out of the checkout ("":
// it cannot).
func pomEscape(p string, b []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return "" // a POM that does not parse is the parser's to report
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			v := strings.TrimSpace(string(t))
			el := stack[len(stack)-1]
			parent := ""
			if len(stack) > 1 {
				parent = stack[len(stack)-2]
			}
			switch {
			case el == "relativePath" || el == "module" && parent == "modules":
				if strings.ContainsAny(v, "\\$") || path.IsAbs(v) {
					return fmt.Sprintf("its %s %q is not a plain relative path", el, v)
				}
				if j := path.Join(path.Dir(p), v); j == ".." || strings.HasPrefix(j, "../") {
					return fmt.Sprintf("its %s %q leads out of the checkout", el, v)
				}
			case el == "groupId" || el == "artifactId" || el == "version" || parent == "properties":
				if strings.ContainsAny(v, "/\\") || v == "." || v == ".." {
					return fmt.Sprintf("its %s %q could name a path", el, v)
				}
			}
		}
	}
}

// parseCheck says why a lockfile that gave no packages could not be read,
// for the formats whose syntax a generic parser checks (nil: it parses, and
// is empty or holds nothing Trivy reads).
func parseCheck(_ context.Context, p string, b []byte) error {
	var v any
	switch base := path.Base(p); {
	case base == ftypes.NpmPkgLock || base == ftypes.ComposerLock || base == ftypes.PipfileLock || base == ftypes.NuGetPkgsLock ||
		base == ftypes.SwiftResolved || strings.HasSuffix(base, ".deps.json"):
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
	case base == ftypes.CargoLock || base == ftypes.PoetryLock || base == ftypes.UvLock || base == ftypes.PyLockFile:
		if err := toml.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("invalid TOML: %w", err)
		}
	case base == ftypes.PnpmLock || base == ftypes.PubSpecLock || base == ftypes.CocoaPodsLock:
		if err := yaml.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("invalid YAML: %w", err)
		}
	}
	return nil
}
