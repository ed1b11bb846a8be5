// reloaderctl.go carries the Reloader mode out. The watchers hand it every ConfigMap and
// Secret in scope, of which it keeps digests, never data. Once every scope has been
// listed it sweeps the workloads: each one that opted in is compared with the view
// recorded on it (reloader.go), so a change made while cuscon was away restarts it once
// and nothing else restarts. After that, a changed object has the workloads of its
// namespace listed again, from the API server's watch cache, and those that use what
// changed are restarted through the scheduler and the executor, like any restart.

package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// reloaderMode is the Reloader mode's state: digests by object key, and work to do.
type reloaderMode struct {
	api     *apiClient
	log     *slog.Logger
	sched   *scheduler
	events  *eventRecorder
	leading func() bool
	dryRun  bool
	retry   backoffPolicy
	scopes  []watchScope // every scope must be listed before the first sweep
	wake    chan struct{}

	mu      sync.Mutex
	index   map[string]sourceInfo // by source key: configmaps/NS/NAME
	listed  map[watchScope]bool
	work    map[string]*nsWork // by namespace; "" for all
	pending map[string]string  // workload key → the view its restart under way will record
	tries   map[string]int     // workload key → rounds that left pods owed
}

// nsWork is what a namespace's workloads must be checked against: everything (sweep),
// or the objects changed since the last check, with what they were before (nil: absent).
type nsWork struct {
	sweep   bool
	changed map[string]*digests
}

// newReloaderMode returns the mode for the given scopes.
func newReloaderMode(api *apiClient, log *slog.Logger, scopes []watchScope) *reloaderMode {
	return &reloaderMode{api: api, log: log, scopes: scopes, wake: make(chan struct{}, 1), retry: retryPolicy,
		index: map[string]sourceInfo{}, listed: map[watchScope]bool{}, work: map[string]*nsWork{},
		pending: map[string]string{}, tries: map[string]int{}}
}

// prepare is the watchers' hook: it digests an object's keys before its data is dropped,
// and drops the annotations neither mode reads (kubectl's last-applied copy of the data
// among them), so memory does not grow with what nobody reads.
func (r *reloaderMode) prepare(keep func(string) bool) func(*source) {
	return func(obj *source) {
		d := digestsOf(obj)
		obj.Keys = &d
		for k := range obj.Metadata.Annotations {
			if !keep(k) && k != reloaderIgnore && k != reloaderMatch {
				delete(obj.Metadata.Annotations, k)
			}
		}
	}
}

// infoOf is what is kept of obj.
func infoOf(obj *source) sourceInfo {
	a := obj.Metadata.Annotations
	return sourceInfo{ignore: a[reloaderIgnore] == "true", match: a[reloaderMatch] == "true", d: obj.Keys}
}

// reset forgets everything: a new leader starts from a fresh list.
func (r *reloaderMode) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.index, r.listed, r.work, r.pending = map[string]sourceInfo{}, map[watchScope]bool{}, map[string]*nsWork{}, map[string]string{}
}

// synced takes a complete list of one scope. Once every scope is listed, the workloads
// of each are swept; a later list (after an expired watch) sweeps its scope again.
func (r *reloaderMode) synced(scope watchScope, items []source) {
	r.mu.Lock()
	seen := make(map[string]bool, len(items))
	for i := range items {
		key := items[i].key()
		seen[key] = true
		r.index[key] = infoOf(&items[i])
	}
	for key := range r.index {
		if scope.covers(key) && !seen[key] {
			delete(r.index, key)
		}
	}
	r.listed[scope] = true
	ready := r.allSyncedLocked()
	if ready {
		for _, s := range r.scopes {
			if s == scope || len(r.listed) == len(r.scopes) {
				r.workLocked(s.namespace).sweep = true
			}
		}
	}
	r.mu.Unlock()
	if ready {
		r.poke()
	}
}

// allSyncedLocked reports whether every scope has been listed; mu must be held.
func (r *reloaderMode) allSyncedLocked() bool {
	for _, s := range r.scopes {
		if !r.listed[s] {
			return false
		}
	}
	return true
}

// workLocked returns the work of ns, creating it; mu must be held.
func (r *reloaderMode) workLocked(ns string) *nsWork {
	w := r.work[ns]
	if w == nil {
		w = &nsWork{changed: map[string]*digests{}}
		r.work[ns] = w
	}
	return w
}

// changed takes one watch event. A change of content has its namespace's workloads
// checked; a change of metadata only does not.
func (r *reloaderMode) changed(eventType string, obj *source) {
	key := obj.key()
	r.mu.Lock()
	prev, had := r.index[key]
	if eventType == "DELETED" {
		delete(r.index, key)
	} else {
		r.index[key] = infoOf(obj)
	}
	now := r.index[key]
	if !r.allSyncedLocked() || (had && prev.d != nil && now.d != nil && prev.d.full == now.d.full) {
		r.mu.Unlock()
		return
	}
	w := r.workLocked(obj.Metadata.Namespace)
	if _, ok := w.changed[key]; !ok {
		w.changed[key] = prev.d // the oldest content since the last check
	}
	r.mu.Unlock()
	r.poke()
}

// poke wakes run.
func (r *reloaderMode) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run checks workloads whenever there is work, until ctx ends.
func (r *reloaderMode) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		r.mu.Lock()
		work := r.work
		r.work = map[string]*nsWork{}
		r.mu.Unlock()
		if !r.leading() {
			continue // a new leader lists everything again
		}
		for ns, w := range work {
			if err := r.check(ctx, ns, w); err != nil && ctx.Err() == nil {
				r.log.Warn("Could not list workloads, retrying", "namespace", ns, "err", err)
				r.requeue(ns, w)
			}
		}
	}
}

// requeue puts work back to be tried again after a pause.
func (r *reloaderMode) requeue(ns string, w *nsWork) {
	time.AfterFunc(r.retry.Initial, func() {
		r.mu.Lock()
		into := r.workLocked(ns)
		into.sweep = into.sweep || w.sweep
		for k, d := range w.changed {
			if _, ok := into.changed[k]; !ok {
				into.changed[k] = d
			}
		}
		r.mu.Unlock()
		r.poke()
	})
}

// nsLookup is the index seen from one namespace, for optedIn.
type nsLookup struct {
	r  *reloaderMode // mu held by the caller
	ns string
}

func (l nsLookup) get(res resource, name string) (sourceInfo, bool) {
	info, ok := l.r.index[res.Plural+"/"+l.ns+"/"+name]
	return info, ok
}

func (l nsLookup) names(res resource) []string {
	prefix := res.Plural + "/" + l.ns + "/"
	var out []string
	for key := range l.r.index {
		if name, ok := strings.CutPrefix(key, prefix); ok {
			out = append(out, name)
		}
	}
	return out
}

// hasReloaderAnnotation is a quick filter: whether w or its template carries any.
func hasReloaderAnnotation(w *workloadObj) bool {
	for _, a := range []map[string]string{w.Metadata.Annotations, w.Spec.Template.Metadata.Annotations} {
		for k := range a {
			if strings.Contains(k, "reloader.stakater.com/") {
				return true
			}
		}
	}
	return false
}
