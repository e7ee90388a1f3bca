// Package paths is the path arithmetic Tollgate does on an agent's paths
// (the scan root, repository-relative SARIF locations, the agent's
// folders) as pure functions of a path Style, so that a Windows agent's
// paths (drive letters, backslashes, UNC shares) are tested on any machine
// and a Linux agent's on Windows.
package paths

import (
	"errors"
	"net/url"
	"path"
	"runtime"
	"strings"
)

// Style is a platform's path syntax.
type Style int

const (
	// Posix paths: "/" separates, "/" roots.
	Posix Style = iota
	// Windows paths: "\" or "/" separate; "C:\" and "\\server\share\" root;
	// names compare without regard to case.
	Windows
)

// Native is the style of the machine Tollgate runs on.
func Native() Style {
	if runtime.GOOS == "windows" {
		return Windows
	}
	return Posix
}

// ErrOutside is returned for a path that leaves the root it must stay in.
var ErrOutside = errors.New("outside the scan root")

// Separator is the style's preferred separator.
func (s Style) Separator() string {
	if s == Windows {
		return `\`
	}
	return "/"
}

// slash turns separators into "/".
func (s Style) slash(p string) string {
	if s == Windows {
		return strings.ReplaceAll(p, `\`, "/")
	}
	return p
}

// volume splits a slash path into its volume ("C:", "//server/share", or
// "" for none) and the rest.
func (s Style) volume(p string) (string, string) {
	if s != Windows {
		return "", p
	}
	if len(p) >= 2 && p[1] == ':' && isLetter(p[0]) {
		return strings.ToUpper(p[:1]) + ":", p[2:]
	}
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		// //server/share/rest
		parts := strings.SplitN(p[2:], "/", 3)
		if len(parts) >= 2 && parts[0] != "" && parts[1] != "" {
			vol := "//" + parts[0] + "/" + parts[1]
			if len(parts) == 3 {
				return vol, "/" + parts[2]
			}
			return vol, "/"
		}
	}
	return "", p
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// IsAbs tells whether p is absolute: "/x" (Posix); "C:\x" or a UNC path
// (Windows; "\x" and "C:x" are relative to a drive or its current folder,
// so not absolute).
func (s Style) IsAbs(p string) bool {
	vol, rest := s.volume(s.slash(p))
	if s == Windows {
		return vol != "" && strings.HasPrefix(rest, "/")
	}
	return strings.HasPrefix(rest, "/")
}

// Clean is the slash form of p, lexically cleaned, its volume kept (and a
// drive letter upper-cased).
func (s Style) Clean(p string) string {
	vol, rest := s.volume(s.slash(p))
	if rest == "" {
		rest = "."
		if vol != "" && strings.HasPrefix(vol, "//") {
			rest = "/"
		}
	}
	return vol + path.Clean(rest)
}

// Join joins elements with the style's separator and cleans the result in
// the style's own form ("D:\a\1\a\CodeAnalysisLogs").
func (s Style) Join(elem ...string) string {
	var parts []string
	for _, e := range elem {
		if e != "" {
			parts = append(parts, e)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	c := s.Clean(strings.Join(parts, "/"))
	if s == Windows {
		return strings.ReplaceAll(c, "/", `\`)
	}
	return c
}

// Within returns the slash path of p relative to root ("." for the root
// itself), both absolute; ok is false when p is not under root (another
// volume, or above it). Windows compares names without regard to case.
func (s Style) Within(root, p string) (string, bool) {
	if !s.IsAbs(root) || !s.IsAbs(p) {
		return "", false
	}
	rv, rr := s.volume(s.Clean(root))
	pv, pr := s.volume(s.Clean(p))
	if !s.equal(rv, pv) {
		return "", false
	}
	if rr == pr || s == Windows && strings.EqualFold(rr, pr) {
		return ".", true
	}
	prefix := strings.TrimSuffix(rr, "/") + "/"
	if len(pr) <= len(prefix) || !s.equal(pr[:len(prefix)], prefix) {
		return "", false
	}
	return pr[len(prefix):], true
}

func (s Style) equal(a, b string) bool {
	if s == Windows {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// Rel turns a path as a user wrote it into a clean root-relative slash
// path: an absolute p must lie under root; a relative one is taken against
// base, a root-relative slash folder ("" or "." for the root). A path that
// climbs out of the root, or names a volume, is ErrOutside.
func (s Style) Rel(root, p, base string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if strings.ContainsRune(p, 0) {
		return "", ErrOutside
	}
	var rel string
	if s.IsAbs(p) {
		r, ok := s.Within(root, p)
		if !ok {
			return "", ErrOutside
		}
		rel = r
	} else {
		sp := s.slash(p)
		if vol, _ := s.volume(sp); vol != "" || strings.HasPrefix(sp, "/") {
			// "C:x" or "\x": relative to a drive, not to the root.
			return "", ErrOutside
		}
		rel = path.Join(s.slash(base), sp)
	}
	rel = path.Clean(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
		return "", ErrOutside
	}
	if vol, _ := s.volume(rel); vol != "" {
		return "", ErrOutside
	}
	return rel, nil
}

// FileURI is the file: URI of an absolute folder, ending in "/" (SARIF's
// originalUriBaseIds): "/a b" → file:///a%20b/, "C:\a" → file:///C:/a/,
// "\\server\share\a" → file://server/share/a/. A relative path gets a
// leading "/" so that the URI stays absolute.
func (s Style) FileURI(dir string) string {
	c := s.Clean(dir)
	u := url.URL{Scheme: "file"}
	vol, rest := s.volume(c)
	switch {
	case strings.HasPrefix(vol, "//"):
		host, share, _ := strings.Cut(vol[2:], "/")
		u.Host = host
		u.Path = "/" + share + rest
	case vol != "":
		u.Path = "/" + vol + rest
	default:
		u.Path = rest
		if !strings.HasPrefix(u.Path, "/") {
			u.Path = "/" + u.Path
		}
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String()
}
