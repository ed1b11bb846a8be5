// verdict.go is the second half of the mode's decision, pure: whether what a workload
// uses of the objects it opted in to changed since it was last restarted (decideWorkload),
// key by key, against the record on the workload.

package reloader

import (
	"maps"
	"slices"
	"strings"
)

// workloadVerdictKind names what to do with one workload.
type workloadVerdictKind int

const (
	wUnchanged workloadVerdictKind = iota // what it uses is as recorded
	wBaseline                             // first sight: record what it uses, restart nothing
	wRecord                               // nothing it uses changed, but the record is out of date
	wPending                              // a restart for this very view is under way
	wRestart                              // something it uses changed: restart it
)

// workloadVerdict is decideWorkload's answer: what to do, the view to record, and what
// changed (e.g. "configmap/app-config key log.level").
type workloadVerdict struct {
	kind    workloadVerdictKind
	view    workloadView
	changed []string
	// refs are the objects that changed, sorted: what the restart's markers are for.
	refs []string
	// anew lists the objects whose record was made with another digest key: it cannot
	// be compared, and is replaced without a restart.
	anew []string
	// was, for a restart of a workload whose record does not know all it compared
	// (first seen just after a change), is what it was compared with: recorded if the
	// restart is not sent now, so that the change stays owed.
	was workloadView
}

// decideWorkload compares what a workload uses now (current; missing lists required
// objects that do not exist, whose record is kept) with what its annotation recorded.
// A workload without a record is seen for the first time: if an object just changed
// (previous holds its view before the change) and what the workload uses of it
// differs, it restarts; otherwise it is the baseline. An object the record does not
// know yet is compared with previous too. pending is the view of a restart under way,
// if any. The creation and deletion of objects only named (named) restart only as rl
// says; otherwise they are recorded.
func decideWorkload(recorded string, current, legacy workloadView, missing []string, previous workloadView, pending string,
	named map[string]bool, rl rules) workloadVerdict {
	rec, ok := parseView(recorded)
	unrecorded := !ok
	if !ok {
		rec = previous
	} else if len(previous) > 0 {
		rec = maps.Clone(rec)
		for ref, was := range previous {
			if _, known := rec[ref]; !known {
				rec[ref] = was
				unrecorded = true
			}
		}
	}
	view := workloadView{}
	for ref, v := range current {
		view[ref] = v
	}
	for _, ref := range missing {
		if was, ok := rec[ref]; ok {
			view[ref] = was
		}
	}
	var changed, refs, anew []string
	for ref, now := range current {
		keys := changedKeys(rec[ref], now, legacy[ref])
		switch {
		case keys != nil && named[ref] && !rl.counts(rec[ref], now):
			// recorded, restarting nothing
		case keys != nil:
			changed = append(changed, describeChange(ref, keys))
			refs = append(refs, ref)
		case len(rec[ref]) == len(now) && !maps.Equal(rec[ref], now) && sameKeys(rec[ref], now):
			anew = append(anew, ref) // made with another digest key: recorded anew
		}
	}
	slices.Sort(changed)
	slices.Sort(refs)
	slices.Sort(anew)
	switch {
	case len(changed) > 0 && pending == view.String():
		return workloadVerdict{kind: wPending, view: view, changed: changed, refs: refs}
	case len(changed) > 0:
		v := workloadVerdict{kind: wRestart, view: view, changed: changed, refs: refs}
		if unrecorded {
			v.was = rec
		}
		return v
	case !ok:
		return workloadVerdict{kind: wBaseline, view: view}
	case view.String() != rec.String():
		return workloadVerdict{kind: wRecord, view: view, anew: anew}
	}
	return workloadVerdict{kind: wUnchanged, view: view}
}

// counts reports whether a change of an object only named, from was to now, restarts:
// its creation only with --reload-on-create, its deletion only with --reload-on-delete.
func (rl rules) counts(was, now objectView) bool {
	switch {
	case was["*"] == absent && now["*"] != absent:
		return rl.onCreate
	case was["*"] != absent && now["*"] == absent:
		return rl.onDelete
	}
	return true
}

// sameKeys reports whether two views are of the same keys.
func sameKeys(a, b objectView) bool {
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return len(a) == len(b)
}

// describeChange says what changed of one object, for logs and Events.
func describeChange(ref string, keys []string) string {
	if len(keys) == 1 && keys[0] == "*" {
		return ref
	}
	word := "key "
	if len(keys) > 1 {
		word = "keys "
	}
	return ref + " " + word + strings.Join(keys, ", ")
}
