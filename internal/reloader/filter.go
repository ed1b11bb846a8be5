// filter.go is what --namespaces-to-ignore and --namespace-selector leave in scope when
// every namespace is watched (as in Reloader, they mean nothing otherwise): the
// namespaces selected are learnt from a watch of Namespaces with that selector, and a
// namespace that becomes selected is swept, so that what changed while it was not is
// caught up from the records.

package reloader

import (
	"context"
	"slices"

	"cuscon/internal/kube"
)

// nsFilter is the namespaces a global scope leaves out.
type nsFilter struct {
	ignore map[string]bool
	// selector is --namespace-selector as one label selector; "" for none.
	selector string
	// selected are the namespaces it selects, once listed (nil until then).
	selected map[string]bool
}

// newNSFilter reads o's namespace filters.
func newNSFilter(o Options) nsFilter {
	f := nsFilter{ignore: map[string]bool{}, selector: Selector(o.NamespaceSelector)}
	for _, ns := range o.NamespacesToIgnore {
		f.ignore[ns] = true
	}
	return f
}

// NamespaceSelector is the selector of the Namespace watch the mode needs, and whether
// it needs one: only with --namespace-selector and every namespace in scope.
func (r *Mode) NamespaceSelector() (string, bool) {
	return r.filter.selector, r.filter.selector != "" && r.global()
}

// global reports whether every namespace is in scope.
func (r *Mode) global() bool {
	return slices.ContainsFunc(r.cfg.Scopes, func(s kube.Scope) bool { return s.Namespace == "" })
}

// inScope reports whether the workloads of ns may be restarted.
func (r *Mode) inScope(ns string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inScopeLocked(ns)
}

// inScopeLocked is inScope with mu held.
func (r *Mode) inScopeLocked(ns string) bool {
	switch {
	case !r.global():
		return true
	case r.filter.ignore[ns]:
		return false
	case r.filter.selector == "":
		return true
	}
	return r.filter.selected[ns]
}

// Namespaces is the mode's handler of the Namespace watch.
type Namespaces struct{ m *Mode }

// Namespaces returns the handler of the watch of the namespaces --namespace-selector
// selects.
func (r *Mode) Namespaces() Namespaces { return Namespaces{r} }

// SummarizeNamespace keeps a Namespace's name.
func SummarizeNamespace(obj *kube.Object) (string, bool) { return obj.Metadata.Name, true }

// Synced takes the namespaces selected; those newly selected are swept.
func (h Namespaces) Synced(_ context.Context, _ kube.Scope, names []string) {
	r := h.m
	r.mu.Lock()
	was := r.filter.selected
	r.filter.selected = map[string]bool{}
	for _, n := range names {
		r.filter.selected[n] = true
	}
	var added []string // the first list: all of them (the objects' sweep left them out)
	for n := range r.filter.selected {
		if !was[n] {
			added = append(added, n)
		}
	}
	r.sweepLocked(added)
	r.mu.Unlock()
	if len(added) > 0 {
		r.poke()
	}
}

// Changed takes a namespace that began or ceased to be selected.
func (h Namespaces) Changed(_ context.Context, eventType, name string) {
	r := h.m
	r.mu.Lock()
	if r.filter.selected == nil {
		r.filter.selected = map[string]bool{}
	}
	added := eventType != "DELETED" && !r.filter.selected[name]
	if eventType == "DELETED" {
		delete(r.filter.selected, name)
	} else {
		r.filter.selected[name] = true
	}
	if added {
		r.sweepLocked([]string{name})
	}
	r.mu.Unlock()
	if added {
		r.poke()
	}
}

// sweepLocked has the workloads of namespaces checked against everything, once the
// objects are listed; mu must be held.
func (r *Mode) sweepLocked(namespaces []string) {
	if !r.allSyncedLocked() {
		return
	}
	for _, ns := range namespaces {
		if r.inScopeLocked(ns) {
			r.workLocked(ns).sweep = true
		}
	}
}
