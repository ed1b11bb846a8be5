// strategy.go says which strategy restarts an object's pods: the default, or what the
// object's annotation chooses within what the operator allowed.

package restart

import (
	"fmt"
	"slices"
	"strings"
)

// StrategyAnnotation, on a ConfigMap or Secret (or, in the Reloader mode, a workload),
// chooses its strategy instead of the default.
const StrategyAnnotation = "cuscon.dev/strategy"

// ChooseStrategy returns the strategy an object asks for with its strategy annotation
// (value, if set), or the default def. An object may choose only what the operator
// allowed (allowed, from --override-strategies): whoever may annotate a ConfigMap must not
// gain the rollout of a whole workload, whose pods reach beyond its selector, when the
// operator chose delete. Both modes and `cuscon plan` ask it.
func ChooseStrategy(value string, set bool, def string, allowed []string) (string, error) {
	switch {
	case !set || value == def:
		return def, nil
	case !ValidStrategy(value):
		return "", fmt.Errorf("%s %q: want delete, evict or rollout; nothing restarted", StrategyAnnotation, value)
	case !slices.Contains(allowed, value):
		return "", fmt.Errorf("%s %q: not a strategy objects may choose here (--override-strategies %q); nothing restarted",
			StrategyAnnotation, value, strings.Join(allowed, ","))
	}
	return value, nil
}

// ValidStrategy reports whether s names a restart strategy.
func ValidStrategy(s string) bool { return s == "delete" || s == "evict" || s == "rollout" }
