// chart_docs_test.go keeps the chart's README honest: its values table lists exactly
// the keys of values.schema.json, which helm checks values.yaml and every --set against.
package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChartReadmeDocumentsEveryValue(t *testing.T) {
	schemaJSON, err := os.ReadFile(filepath.Join(suite.root, chartDir, "values.schema.json"))
	require.NoError(t, err)
	var schema schemaNode
	require.NoError(t, json.Unmarshal(schemaJSON, &schema))
	var keys []string
	schema.leaves("", &keys)
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "global" }) // helm's, for subcharts

	readme, err := os.ReadFile(filepath.Join(suite.root, chartDir, "README.md"))
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(readme), "## Values\n")
	require.True(t, ok, "README has a Values section")
	table, _, _ = strings.Cut(table, "\n## ")
	var documented []string
	code := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "key" {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			documented = append(documented, m[1])
		}
	}
	slices.Sort(keys)
	slices.Sort(documented)
	assert.Equal(t, keys, documented, "README's values table and values.schema.json list the same keys")
}

// schemaNode is the part of a JSON schema that says which keys an object has.
type schemaNode struct {
	Properties map[string]schemaNode `json:"properties"`
}

// leaves appends the dotted paths of the keys that hold values rather than documented
// sub-keys.
func (n schemaNode) leaves(prefix string, out *[]string) {
	for k, child := range n.Properties {
		if len(child.Properties) == 0 {
			*out = append(*out, prefix+k)
			continue
		}
		child.leaves(prefix+k+".", out)
	}
}
