// fakeselector_test.go is the fake API's label selector matching: the equality and
// set-based forms the tests send (cuscon itself refuses the negative-only ones).

package main

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// selectorTerm is one requirement of a label selector: key=value or key in (values).
type selectorTerm struct {
	key    string
	values []string
}

var (
	eqTerm = regexp.MustCompile(`^\s*([A-Za-z0-9./_-]+)\s*==?\s*([A-Za-z0-9._-]*)\s*$`)
	inTerm = regexp.MustCompile(`^\s*([A-Za-z0-9./_-]+)\s+in\s+\(([^)]*)\)\s*$`)
)

// parseFakeSelector understands the equality and set-based forms the tests use.
func parseFakeSelector(sel string) ([]selectorTerm, error) {
	var terms []selectorTerm
	for _, part := range splitSelector(sel) {
		if m := eqTerm.FindStringSubmatch(part); m != nil {
			terms = append(terms, selectorTerm{m[1], []string{m[2]}})
		} else if m := inTerm.FindStringSubmatch(part); m != nil {
			var vals []string
			for _, v := range strings.Split(m[2], ",") {
				vals = append(vals, strings.TrimSpace(v))
			}
			terms = append(terms, selectorTerm{m[1], vals})
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
		if !ok || !contains(t.values, v) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
