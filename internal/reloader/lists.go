// lists.go reads Reloader's reload and exclude lists, which whoever may edit a
// workload's metadata writes, within bounds that keep one check of a namespace cheap
// whatever a tenant writes, and parses each distinct list once.

package reloader

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Bounds on a reload or exclude list, which whoever may edit a workload's metadata
// writes: beyond them the workload is refused, with an Event that names the bound. They
// keep one check of a namespace within milliseconds, whatever a tenant writes.
const (
	maxListBytes    = 4096 // the annotation's value
	maxListEntries  = 100  // names and patterns
	maxPatternBytes = 1024 // the regular expressions among them, together
)

// nameList is a parsed reload or exclude list: names as they are, and the entries that
// are regular expressions joined into one, matched against whole names.
type nameList struct {
	names []string
	re    *regexp.Regexp
}

// parseList splits a comma-separated list. As Reloader reads a reload list, an entry
// with regular-expression syntax matches every object whose whole name it matches; one
// that does not compile is a plain name (Reloader would stop on it).
func parseList(value string) (nameList, error) {
	var l nameList
	if len(value) > maxListBytes {
		return l, fmt.Errorf("%d bytes, over the bound of %d; refused", len(value), maxListBytes)
	}
	entries := splitNames(value)
	if len(entries) > maxListEntries {
		return l, fmt.Errorf("%d entries, over the bound of %d; refused", len(entries), maxListEntries)
	}
	var patterns []string
	size := 0
	for _, e := range entries {
		if regexp.QuoteMeta(e) == e {
			l.names = append(l.names, e)
			continue
		}
		if _, err := regexp.Compile(e); err != nil {
			l.names = append(l.names, e)
			continue
		}
		size += len(e)
		patterns = append(patterns, "(?:"+e+")")
	}
	if size > maxPatternBytes {
		return l, fmt.Errorf("%d bytes of regular expressions, over the bound of %d; refused", size, maxPatternBytes)
	}
	if len(patterns) > 0 {
		l.re = regexp.MustCompile("^(?:" + strings.Join(patterns, "|") + ")$")
	}
	return l, nil
}

// matching returns the list's names, and those of names its patterns match.
func (l nameList) matching(names []string) []string {
	out := slices.Clone(l.names)
	if l.re == nil {
		return out
	}
	for _, n := range names {
		if l.re.MatchString(n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// listCache parses each distinct list once: the same annotation on many workloads, and
// in every check, costs one parse. It holds at most maxCachedLists; a nil one parses
// every time.
type listCache struct {
	mu    sync.Mutex
	lists map[string]parsedList
}

type parsedList struct {
	l   nameList
	err error
}

const maxCachedLists = 1024

func newListCache() *listCache { return &listCache{lists: map[string]parsedList{}} }

// parse returns parseList(value), from the cache if it has it.
func (c *listCache) parse(value string) (nameList, error) {
	if value == "" {
		return nameList{}, nil
	}
	if c == nil {
		return parseList(value)
	}
	c.mu.Lock()
	p, ok := c.lists[value]
	c.mu.Unlock()
	if ok {
		return p.l, p.err
	}
	l, err := parseList(value)
	c.mu.Lock()
	if len(c.lists) >= maxCachedLists {
		clear(c.lists) // a tenant churning annotations refills it; nothing else grows
	}
	c.lists[value] = parsedList{l, err}
	c.mu.Unlock()
	return l, err
}
