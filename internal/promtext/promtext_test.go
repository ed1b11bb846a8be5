// promtext_test.go proves the reader strict: each deviation from the format is refused.
package promtext

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const good = `# HELP x_total Things.
# TYPE x_total counter
x_total{a="b\"c"} 3
# HELP h Seconds.
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.5
h_count 2
`

func TestAcceptsWellFormedText(t *testing.T) {
	s, err := Parse(good)
	require.NoError(t, err)
	assert.Equal(t, 3.0, Value(s, "x_total", "a", `b\"c`))
	assert.Equal(t, 2.0, Value(s, "h_count"))
}

func TestRefusesEachDeviation(t *testing.T) {
	for name, text := range map[string]string{
		"no TYPE":             "# HELP x_total X.\nx_total 1\n",
		"TYPE before HELP":    "# TYPE x_total counter\n# HELP x_total X.\nx_total 1\n",
		"two HELPs":           "# HELP x_total X.\n# HELP x_total X.\n# TYPE x_total counter\n",
		"counter not _total":  "# HELP x X.\n# TYPE x counter\nx 1\n",
		"bad escape":          "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"\\t\"} 1\n",
		"unquoted label":      "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=b} 1\n",
		"bad value":           "# HELP x_total X.\n# TYPE x_total counter\nx_total one\n",
		"no +Inf bucket":      "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
		"not cumulative":      "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		"+Inf is not _count":  "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
		"suffix on a counter": "# HELP x_total X.\n# TYPE x_total counter\nx_total_bucket 1\n",
	} {
		_, err := Parse(text)
		assert.Error(t, err, name)
	}
}
