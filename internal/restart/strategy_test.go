package restart

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAnObjectMayChooseOnlyTheStrategiesTheOperatorAllowed(t *testing.T) {
	safe := []string{"delete", "evict"}
	for _, row := range []struct {
		value   string
		set     bool
		def     string
		allowed []string
		want    string
		err     string
	}{
		{"", false, "delete", safe, "delete", ""},
		{"evict", true, "delete", safe, "evict", ""},
		{"delete", true, "delete", nil, "delete", ""}, // the default is always allowed
		{"rollout", true, "delete", safe, "", `cuscon.dev/strategy "rollout": not a strategy objects may choose here (--override-strategies "delete,evict")`},
		{"rollout", true, "delete", []string{"delete", "evict", "rollout"}, "rollout", ""},
		{"evict", true, "delete", nil, "", "not a strategy objects may choose here"},
		{"restart", true, "delete", safe, "", `cuscon.dev/strategy "restart": want delete, evict or rollout`},
		{"delete", true, "rollout", safe, "delete", ""}, // the Reloader mode's default is rollout
	} {
		t.Run(row.value+" over "+row.def, func(t *testing.T) {
			got, err := ChooseStrategy(row.value, row.set, row.def, row.allowed)
			assert.Equal(t, row.want, got)
			if row.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, row.err)
			}
		})
	}
}

func TestOnlyThreeNamesAreStrategies(t *testing.T) {
	for _, s := range []string{"delete", "evict", "rollout"} {
		assert.True(t, ValidStrategy(s), s)
	}
	for _, s := range []string{"", "Delete", "restart", "rollout "} {
		assert.False(t, ValidStrategy(s), "%q", s)
	}
}
