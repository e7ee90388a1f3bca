package iac

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/internal/yamlnode"
	tg "github.com/tollgate/tollgate/scanners"
)

// ansibleEdge is an include of an Ansible file: a tasks file (include_tasks,
// import_tasks), a playbook (import_playbook) or a role (include_role,
// import_role, a role's meta dependencies), and the line of the file that
// names it.
type ansibleEdge struct {
	from, to string // node names: a file's path, or "role:" and a role's name
	file     string // where the include is written
	line     int
	// word is what the cut replaces on the line: the module's key (an
	// include becomes a debug task), or a meta dependency's role name.
	word, with string
}

// ansibleIncludes reads the includes of one Ansible file. Paths are joined
// to the file's directory, as Trivy's Ansible parser joins them; a path
// with template text is left out (it is not followed statically).
func ansibleIncludes(p string, content []byte) []ansibleEdge {
	var doc yaml.Node
	if yaml.Unmarshal(content, &doc) != nil {
		return nil
	}
	var out []ansibleEdge
	add := func(to string, k *yaml.Node, word, with string) {
		if to == "" || strings.Contains(to, "{{") {
			return
		}
		out = append(out, ansibleEdge{from: p, to: to, file: p, line: k.Line, word: word, with: with})
	}
	isMeta := path.Base(path.Dir(p)) == "meta"
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 64 {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := strings.TrimPrefix(k.Value, "ansible.builtin.")
				switch key {
				case "include_tasks", "import_tasks", "include", "import_playbook":
					target := v.Value
					if f := yamlnode.Get(v, "file"); f != nil {
						target = f.Value
					}
					if v.Kind == yaml.ScalarNode || v.Kind == yaml.MappingNode {
						add(path.Join(path.Dir(p), target), k, k.Value, "debug")
					}
				case "include_role", "import_role":
					if nm := yamlnode.Get(v, "name"); nm != nil {
						add("role:"+nm.Value, k, k.Value, "debug")
					}
				case "dependencies":
					if !isMeta || v.Kind != yaml.SequenceNode {
						break
					}
					for _, d := range v.Content {
						switch {
						case d.Kind == yaml.ScalarNode:
							add("role:"+d.Value, d, d.Value, "tollgate-cut-cycle")
						case d.Kind == yaml.MappingNode:
							if r := cmp.Or(yamlnode.Get(d, "role"), yamlnode.Get(d, "name")); r != nil {
								add("role:"+r.Value, r, r.Value, "tollgate-cut-cycle")
							}
						}
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(&doc, 0)
	return out
}

// breakAnsibleCycles finds the includes that close a cycle among the
// Ansible files of a group (a tasks file that includes itself, a → b → a,
// a role whose meta dependencies lead back to it, playbooks that import
// each other): Trivy's parser follows includes without a limit, and such a
// cycle overflowed Go's stack (fatal: every result of the scan lost).
// Ansible itself stops at its recursion limit. Each such include is made a
// debug task (a role dependency names no role) in a copy of the contents
// given to Trivy, every line where it was, and a warning names it; the rest
// is checked.
func breakAnsibleCycles(paths []string, contents map[string][]byte) (map[string][]byte, []tg.Notification) {
	roles := map[string][]string{} // role name -> its tasks/meta files
	var edges []ansibleEdge
	for _, p := range paths {
		parts := strings.Split(p, "/")
		if i := slices.Index(parts, "roles"); i >= 0 && i+2 < len(parts) && (parts[i+2] == "tasks" || parts[i+2] == "meta") {
			// roles/NAME/tasks/*.yml and roles/NAME/meta/main.yml belong to
			// the role: the role leads to them.
			roles[parts[i+1]] = append(roles[parts[i+1]], p)
		}
		edges = append(edges, ansibleIncludes(p, contents[p])...)
	}
	for name, files := range roles {
		for _, f := range files {
			edges = append(edges, ansibleEdge{from: "role:" + name, to: f})
		}
	}
	next := map[string][]int{}
	for i, e := range edges {
		next[e.from] = append(next[e.from], i)
	}
	// Depth-first from every node in path order; an edge to a node on the
	// current path closes a cycle and is cut.
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	cut := map[int]bool{}
	var visit func(n string)
	visit = func(n string) {
		state[n] = onPath
		for _, i := range next[n] {
			to := edges[i].to
			switch state[to] {
			case onPath:
				cut[i] = true
			case unseen:
				visit(to)
			}
		}
		state[n] = done
	}
	// The roles first: a role's files are then entered from the role, and
	// the edge that closes a cycle is always an include written in a file.
	var nodes []string
	for name := range roles {
		nodes = append(nodes, "role:"+name)
	}
	slices.Sort(nodes)
	files := slices.Clone(paths)
	slices.Sort(files)
	for _, n := range append(nodes, files...) {
		if state[n] == unseen {
			visit(n)
		}
	}
	if len(cut) == 0 {
		return contents, nil
	}
	out := make(map[string][]byte, len(contents))
	for k, v := range contents {
		out[k] = v
	}
	var notes []tg.Notification
	for _, i := range slices.Sorted(func(yield func(int) bool) {
		for i := range cut {
			if !yield(i) {
				return
			}
		}
	}) {
		e := edges[i]
		if e.file == "" || e.line < 1 {
			continue // a role's own files: the include that reached it is cut
		}
		out[e.file] = replaceOnLine(out[e.file], e.line, e.word, e.with)
		notes = append(notes, tg.Notification{Level: tg.LevelWarning, Code: "ansible-include-cycle", Path: e.file, Line: e.line,
			Message: fmt.Sprintf("%s line %d includes %s, which leads back to it: the cycle would never end (Trivy's parser follows it without a limit, Ansible stops at its recursion limit); %s was checked without this include",
				e.file, e.line, strings.TrimPrefix(e.to, "role:"), e.file)})
	}
	return out, notes
}

// replaceOnLine returns a copy of b with the first word on line n (1-based)
// replaced by with: every other line stays where it was.
func replaceOnLine(b []byte, n int, word, with string) []byte {
	lines := strings.SplitAfter(string(b), "\n")
	if n < 1 || n > len(lines) {
		return b
	}
	lines[n-1] = strings.Replace(lines[n-1], word, with, 1)
	return []byte(strings.Join(lines, ""))
}
