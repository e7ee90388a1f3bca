// Package yamlnode holds the small lookups on parsed YAML nodes that the
// IaC and image engines share.
package yamlnode

import "go.yaml.in/yaml/v3"

// Get returns a mapping's value for key (nil when absent or when m is not
// a mapping).
func Get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Containers calls fn for every item of a containers, initContainers or
// ephemeralContainers list (Kubernetes pod specs, wherever a workload nests
// them), in document order, with the list's name.
func Containers(n *yaml.Node, fn func(list string, c *yaml.Node)) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "containers", "initContainers", "ephemeralContainers":
				if v.Kind == yaml.SequenceNode {
					for _, c := range v.Content {
						fn(k.Value, c)
					}
					continue
				}
			}
			Containers(v, fn)
		}
		return
	}
	for _, c := range n.Content {
		Containers(c, fn)
	}
}
