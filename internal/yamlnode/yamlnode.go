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
