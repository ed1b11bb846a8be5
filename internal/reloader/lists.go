// lists.go reads Reloader's reload and exclude lists, which whoever may edit a
// workload's metadata writes, within bounds that keep one check of a namespace cheap
// whatever a tenant writes, and parses each distinct list once.

package reloader

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
)

// Bounds on a reload or exclude list, which whoever may edit a workload's metadata
// writes: beyond them the workload is refused, with an Event that names the bound. They
// keep one check of a namespace within milliseconds, whatever a tenant writes: matching
// a name costs at most the program's instructions times the name's length.
const (
	maxListBytes   = 4096 // the annotation's value
	maxListEntries = 100  // names and patterns
	// maxProgram bounds the instructions the patterns of one list compile to, together:
	// a list of ordinary patterns ("web-.*", "cfg-[0-9]+") compiles to tens.
	maxProgram = 1000
)

// nameList is a parsed reload or exclude list: names as they are, and the entries that
// are regular expressions joined into one, matched against whole names.
type nameList struct {
	names []string
	re    *regexp.Regexp
}

// objectName matches the names a ConfigMap or Secret may have (a DNS subdomain).
var objectName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// parseList splits a comma-separated reload list. An entry that is an object's name
// ("nginx.conf") is that name; any other entry, as Reloader reads it, is a regular
// expression matched against whole names ("web-.*"), and one that does not compile is
// a plain name (Reloader would stop on it).
func parseList(value string) (nameList, error) {
	var l nameList
	entries, err := boundedEntries(value)
	if err != nil {
		return l, err
	}
	var patterns []string
	for _, e := range entries {
		if _, err := regexp.Compile(e); objectName.MatchString(e) || err != nil {
			l.names = append(l.names, e)
			continue
		}
		patterns = append(patterns, "(?:"+e+")")
	}
	if len(patterns) == 0 {
		return l, nil
	}
	expr := "^(?:" + strings.Join(patterns, "|") + ")$"
	if n := programSize(expr); n > maxProgram {
		return l, fmt.Errorf("its regular expressions compile to %d instructions, over the bound of %d; refused", n, maxProgram)
	}
	l.re = regexp.MustCompile(expr)
	return l, nil
}

// parseNames splits a comma-separated exclude list: object names, compared as they are.
func parseNames(value string) (nameList, error) {
	entries, err := boundedEntries(value)
	return nameList{names: entries}, err
}

// boundedEntries splits a list, refusing one over the bounds of bytes and entries.
func boundedEntries(value string) ([]string, error) {
	if len(value) > maxListBytes {
		return nil, fmt.Errorf("%d bytes, over the bound of %d; refused", len(value), maxListBytes)
	}
	entries := splitNames(value)
	if len(entries) > maxListEntries {
		return nil, fmt.Errorf("%d entries, over the bound of %d; refused", len(entries), maxListEntries)
	}
	return entries, nil
}

// programSize is how many instructions expr compiles to, as the regexp package runs it.
func programSize(expr string) int {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0
	}
	return len(prog.Inst)
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
// in every check, costs one parse. It is keyed by a digest of the value, holds at most
// maxCachedLists, each of a bounded program; a nil one parses every time.
type listCache struct {
	mu    sync.Mutex
	lists map[[sha256.Size]byte]parsedList
}

type parsedList struct {
	l   nameList
	err error
}

const maxCachedLists = 256

func newListCache() *listCache { return &listCache{lists: map[[sha256.Size]byte]parsedList{}} }

// parse returns parseList(value) for a reload list, parseNames(value) for an exclude
// list, from the cache if it has it.
func (c *listCache) parse(value string, reload bool) (nameList, error) {
	if value == "" {
		return nameList{}, nil
	}
	parse := parseNames
	if reload {
		parse = parseList
	}
	if c == nil {
		return parse(value)
	}
	key := sha256.Sum256([]byte(fmt.Sprint(reload, "\x00", value)))
	c.mu.Lock()
	p, ok := c.lists[key]
	c.mu.Unlock()
	if ok {
		return p.l, p.err
	}
	l, err := parse(value)
	c.mu.Lock()
	if len(c.lists) >= maxCachedLists {
		clear(c.lists) // a tenant churning annotations refills it; nothing else grows
	}
	c.lists[key] = parsedList{l, err}
	c.mu.Unlock()
	return l, err
}
