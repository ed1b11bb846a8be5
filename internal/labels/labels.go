// Package labels reads label selectors: whether one is safe to restart pods by (it must
// require something of a pod, or it would select most of a namespace), whether a set of
// labels matches one, and a workload's spec.selector written as a selector string. It
// sends nothing to the API.
package labels

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrEmpty refuses a blank selector, which would match every pod in the namespace.
var ErrEmpty = errors.New("empty selector would match every pod in the namespace; refused")

// ErrBroad refuses a selector that no pod must positively match.
var ErrBroad = errors.New("it has no requirement a pod must meet (k=v, k==v, k in (...), or k), " +
	"so it would select every pod of the namespace without the excluded labels; refused")

// Check refuses a label selector that is malformed, or that has no positive
// requirement: "", "!a", "a!=b" and "a notin (b)" would each restart most of the
// namespace (other apps, cuscon itself) and are never what the annotation meant.
func Check(sel string) error {
	if strings.TrimSpace(sel) == "" {
		return ErrEmpty
	}
	positive := false
	for _, req := range Split(sel) {
		pos, err := parseRequirement(strings.TrimSpace(req))
		if err != nil {
			return err
		}
		positive = positive || pos
	}
	if !positive {
		return ErrBroad
	}
	return nil
}

// Split splits a selector into its requirements: at the commas outside parentheses.
func Split(sel string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range sel {
		switch {
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == ',' && depth == 0:
			parts = append(parts, sel[start:i])
			start = i + 1
		}
	}
	if strings.TrimSpace(sel) == "" {
		return nil
	}
	return append(parts, sel[start:])
}

// parseRequirement checks one requirement of a selector and reports whether a pod must
// carry a label to meet it: k, k=v, k==v, k in (...) do; !k, k!=v, k notin (...), k>n
// and k<n do not.
func parseRequirement(r string) (bool, error) {
	if rest, ok := strings.CutPrefix(r, "!"); ok {
		return false, checkLabel("key", strings.TrimSpace(rest), true)
	}
	end := strings.IndexFunc(r, func(c rune) bool { return !isLabelRune(c) && c != '/' })
	if end < 0 {
		return true, checkLabel("key", r, true)
	}
	key, rest := r[:end], strings.TrimSpace(r[end:])
	if err := checkLabel("key", key, true); err != nil {
		return false, err
	}
	for _, op := range []struct {
		token    string
		positive bool
	}{{"==", true}, {"!=", false}, {"=", true}, {">", false}, {"<", false}} {
		if v, ok := strings.CutPrefix(rest, op.token); ok {
			return op.positive, checkLabel("value", strings.TrimSpace(v), false)
		}
	}
	for _, op := range []struct {
		token    string
		positive bool
	}{{"in", true}, {"notin", false}} {
		if set, ok := strings.CutPrefix(rest, op.token); ok && strings.HasPrefix(strings.TrimSpace(set), "(") {
			return op.positive, checkSet(strings.TrimSpace(set))
		}
	}
	return false, fmt.Errorf("%q: want k, !k, k=v, k==v, k!=v, k in (v,...) or k notin (v,...)", r)
}

// checkSet checks "(v1, v2, ...)": at least one value, each a valid label value.
func checkSet(set string) error {
	inner, ok := strings.CutSuffix(strings.TrimPrefix(set, "("), ")")
	if !ok || strings.TrimSpace(inner) == "" {
		return fmt.Errorf("%q: want a non-empty (v1, v2, ...)", set)
	}
	for _, v := range strings.Split(inner, ",") {
		if err := checkLabel("value", strings.TrimSpace(v), false); err != nil {
			return err
		}
	}
	return nil
}

// checkLabel checks a label key (prefix/name) or value: at most 63 characters of
// letters, digits, '-', '_' and '.' (a key's prefix up to 253), a key not empty.
func checkLabel(what, s string, key bool) error {
	name := s
	if key {
		if prefix, n, ok := strings.Cut(s, "/"); ok {
			if prefix == "" || len(prefix) > 253 || strings.IndexFunc(prefix, func(c rune) bool { return !isLabelRune(c) }) >= 0 {
				return fmt.Errorf("label key %q: bad prefix", s)
			}
			name = n
		}
		if name == "" {
			return fmt.Errorf("empty label key")
		}
	}
	if len(name) > 63 || strings.IndexFunc(name, func(c rune) bool { return !isLabelRune(c) }) >= 0 {
		return fmt.Errorf("label %s %q: want at most 63 of a-z, A-Z, 0-9, '-', '_', '.'", what, s)
	}
	return nil
}

func isLabelRune(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// Selector is the label selector of a workload's spec.selector, as the API writes it.
type Selector struct {
	MatchLabels      map[string]string `json:"matchLabels,omitempty"`
	MatchExpressions []Requirement     `json:"matchExpressions,omitempty"`
}

// Requirement is one of a selector's matchExpressions.
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"` // In, NotIn, Exists, DoesNotExist
	Values   []string `json:"values,omitempty"`
}

// String writes s as a label selector: k=v, k in (...), k notin (...), k, !k.
func (s *Selector) String() string {
	if s == nil {
		return ""
	}
	var parts []string
	for k, v := range s.MatchLabels {
		parts = append(parts, k+"="+v)
	}
	for _, e := range s.MatchExpressions {
		values := "(" + strings.Join(e.Values, ",") + ")"
		switch e.Operator {
		case "In":
			parts = append(parts, e.Key+" in "+values)
		case "NotIn":
			parts = append(parts, e.Key+" notin "+values)
		case "Exists":
			parts = append(parts, e.Key)
		case "DoesNotExist":
			parts = append(parts, "!"+e.Key)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Matches reports whether a set of labels meets every requirement of sel, as the API
// server would select it ("" selects everything). It does not refuse broad selectors:
// those that choose ConfigMaps, Secrets or namespaces rather than pods may be.
func Matches(sel string, set map[string]string) (bool, error) {
	for _, r := range Split(sel) {
		r = strings.TrimSpace(r)
		if _, err := parseRequirement(r); err != nil {
			return false, err
		}
		if !meets(r, set) {
			return false, nil
		}
	}
	return true, nil
}

// meets reports whether set meets r, a requirement parseRequirement accepted.
func meets(r string, set map[string]string) bool {
	if key, ok := strings.CutPrefix(r, "!"); ok {
		_, has := set[strings.TrimSpace(key)]
		return !has
	}
	end := strings.IndexFunc(r, func(c rune) bool { return !isLabelRune(c) && c != '/' })
	if end < 0 {
		_, has := set[r]
		return has
	}
	key, rest := r[:end], strings.TrimSpace(r[end:])
	v, has := set[key]
	for _, op := range []string{"==", "!=", "=", ">", "<"} {
		want, ok := strings.CutPrefix(rest, op)
		if !ok {
			continue
		}
		want = strings.TrimSpace(want)
		switch op {
		case "!=":
			return !has || v != want
		case ">", "<":
			a, errA := strconv.ParseInt(v, 10, 64)
			b, errB := strconv.ParseInt(want, 10, 64)
			return has && errA == nil && errB == nil && (op == ">" && a > b || op == "<" && a < b)
		}
		return has && v == want
	}
	notIn := strings.HasPrefix(rest, "notin")
	inner := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(rest, "notin"), "in"))
	inner = strings.TrimSuffix(strings.TrimPrefix(inner, "("), ")")
	found := false
	for _, w := range strings.Split(inner, ",") {
		found = found || has && strings.TrimSpace(w) == v
	}
	return found != notIn
}
