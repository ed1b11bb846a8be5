// selector.go is the fake API's label selector matching: the equality and
// set-based forms the tests send (cuscon itself refuses the negative-only ones).

package kubetest

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cuscon/internal/labels"
)

// selectorTerm is one requirement of a label selector: the key must have one of values
// (k=v, k in (...)), or, negated, must not (k!=v, k notin (...), !k with no values).
type selectorTerm struct {
	key    string
	values []string
	not    bool
}

var (
	eqTerm    = regexp.MustCompile(`^\s*([A-Za-z0-9./_-]+)\s*(==?|!=)\s*([A-Za-z0-9._-]*)\s*$`)
	inTerm    = regexp.MustCompile(`^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$`)
	existTerm = regexp.MustCompile(`^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*$`)
)

// parseFakeSelector understands the forms of a label selector, as the apiserver does:
// it matches whatever cuscon sends, so a test shows what a selector would delete.
func parseFakeSelector(sel string) ([]selectorTerm, error) {
	var terms []selectorTerm
	for _, part := range labels.Split(sel) {
		if m := eqTerm.FindStringSubmatch(part); m != nil {
			terms = append(terms, selectorTerm{key: m[1], values: []string{m[3]}, not: m[2] == "!="})
		} else if m := inTerm.FindStringSubmatch(part); m != nil {
			var vals []string
			for _, v := range strings.Split(m[3], ",") {
				vals = append(vals, strings.TrimSpace(v))
			}
			terms = append(terms, selectorTerm{key: m[1], values: vals, not: m[2] == "notin"})
		} else if m := existTerm.FindStringSubmatch(part); m != nil {
			terms = append(terms, selectorTerm{key: m[2], not: m[1] == "!"})
		} else {
			return nil, errors.New("invalid selector term " + strconv.Quote(part))
		}
	}
	return terms, nil
}

// matches reports whether labels meet every term.
func matches(terms []selectorTerm, labels map[string]string) bool {
	for _, t := range terms {
		v, ok := labels[t.key]
		in := ok && (t.values == nil || Contains(t.values, v))
		if in == t.not {
			return false
		}
	}
	return true
}

// Contains is slices.Contains, short for the tests' assertions on what the fake saw.
func Contains(list []string, s string) bool { return slices.Contains(list, s) }
