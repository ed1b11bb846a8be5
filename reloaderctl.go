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
	"maps"
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
	// overrides are the strategies a workload's strategy annotation may choose.
	overrides []string
	// self finds cuscon's own workload, which is never restarted.
	self   *selfFinder
	retry  backoffPolicy
	scopes []watchScope // every scope must be listed before the first sweep
	key    []byte       // the digest key of Secrets (digestkey.go)
	wake   chan struct{}
	lists  *listCache
	// checks bounds the namespaces checked at once; each namespace is checked by one
	// goroutine at a time, so one tenant's costly check holds up no other namespace.
	checks chan struct{}

	mu      sync.Mutex
	index   map[string]nsObjects // by namespace
	listed  map[watchScope]bool
	work    map[string]*nsWork // by namespace; "" for all
	running map[string]bool    // namespaces being checked
	pending map[string]string  // workload key → the view its restart under way will record
	tries   map[string]int     // workload key → rounds that left pods owed
	refused map[string]string  // workload → the refusal last reported
}

// nsObjects is what is known of one namespace's ConfigMaps and Secrets, by
// "configmaps/NAME" or "secrets/NAME".
type nsObjects map[string]sourceInfo

func (o nsObjects) get(res resource, name string) (sourceInfo, bool) {
	info, ok := o[res.Plural+"/"+name]
	return info, ok
}

func (o nsObjects) names(res resource) []string {
	var out []string
	for key := range o {
		if name, ok := strings.CutPrefix(key, res.Plural+"/"); ok {
			out = append(out, name)
		}
	}
	return out
}

// nsWork is what a namespace's workloads must be checked against: everything (sweep),
// or the objects changed since the last check, with what they were before (nil: absent).
type nsWork struct {
	sweep   bool
	changed map[string]*digests
}

// newReloaderMode returns the mode for the given scopes, keying Secret digests with key.
func newReloaderMode(api *apiClient, log *slog.Logger, scopes []watchScope, key []byte) *reloaderMode {
	return &reloaderMode{api: api, log: log, scopes: scopes, key: key, wake: make(chan struct{}, 1), retry: retryPolicy,
		lists: newListCache(), checks: make(chan struct{}, 4),
		index: map[string]nsObjects{}, listed: map[watchScope]bool{}, work: map[string]*nsWork{}, running: map[string]bool{},
		pending: map[string]string{}, tries: map[string]int{}, refused: map[string]string{}}
}

// prepare is the watchers' hook: it digests an object's keys before its data is dropped,
// and drops the annotations neither mode reads (kubectl's last-applied copy of the data
// among them), so memory does not grow with what nobody reads.
func (r *reloaderMode) prepare(keep func(string) bool) func(*source) {
	return func(obj *source) {
		d := digestsOf(obj, r.key)
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
	r.index, r.listed, r.work, r.pending = map[string]nsObjects{}, map[watchScope]bool{}, map[string]*nsWork{}, map[string]string{}
}

// putLocked stores (or, with info nil, forgets) what is known of obj; mu must be held.
// It returns what was known before.
func (r *reloaderMode) putLocked(obj *source, info *sourceInfo) (sourceInfo, bool) {
	ns, key := obj.Metadata.Namespace, obj.Resource.Plural+"/"+obj.Metadata.Name
	objs := r.index[ns]
	prev, had := objs[key]
	switch {
	case info != nil && objs == nil:
		r.index[ns] = nsObjects{key: *info}
	case info != nil:
		objs[key] = *info
	default:
		delete(objs, key)
		if len(objs) == 0 {
			delete(r.index, ns)
		}
	}
	return prev, had
}

// synced takes a complete list of one scope. Once every scope is listed, the workloads
// of each are swept; a later list (after an expired watch) sweeps its scope again.
func (r *reloaderMode) synced(scope watchScope, items []source) {
	r.mu.Lock()
	seen := make(map[string]bool, len(items))
	for i := range items {
		seen[items[i].key()] = true
		info := infoOf(&items[i])
		r.putLocked(&items[i], &info)
	}
	for ns, objs := range r.index {
		for key := range objs {
			plural, name, _ := strings.Cut(key, "/")
			if full := plural + "/" + ns + "/" + name; scope.covers(full) && !seen[full] {
				delete(objs, key)
			}
		}
		if len(objs) == 0 {
			delete(r.index, ns)
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
	info := infoOf(obj)
	r.mu.Lock()
	var prev sourceInfo
	var had bool
	if eventType == "DELETED" {
		prev, had = r.putLocked(obj, nil)
		info = sourceInfo{}
	} else {
		prev, had = r.putLocked(obj, &info)
	}
	if !r.allSyncedLocked() || (had && prev.d != nil && info.d != nil && prev.d.full == info.d.full) {
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

// snapshot copies what is known of namespace ns, for a check to read without the lock.
func (r *reloaderMode) snapshot(ns string) nsObjects {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.index[ns])
}

// poke wakes run.
func (r *reloaderMode) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run checks workloads whenever there is work, until ctx ends: each namespace's in a
// goroutine of its own, at most one at a time per namespace and a few at once in all.
func (r *reloaderMode) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		r.mu.Lock()
		todo := map[string]*nsWork{}
		for ns, w := range r.work {
			if !r.running[ns] {
				todo[ns] = w
				r.running[ns] = true
				delete(r.work, ns)
			}
		}
		r.mu.Unlock()
		for ns, w := range todo {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.checkNamespace(ctx, ns, w)
			}()
		}
	}
}

// checkNamespace checks one namespace's work, within the bound on checks at once, then
// frees the namespace for its next work.
func (r *reloaderMode) checkNamespace(ctx context.Context, ns string, w *nsWork) {
	defer func() {
		r.mu.Lock()
		delete(r.running, ns)
		_, more := r.work[ns]
		r.mu.Unlock()
		if more {
			r.poke()
		}
	}()
	select {
	case r.checks <- struct{}{}:
		defer func() { <-r.checks }()
	case <-ctx.Done():
		return
	}
	if !r.leading() {
		return // a new leader lists everything again
	}
	if err := r.check(ctx, ns, w); err != nil && ctx.Err() == nil {
		r.log.Warn("Could not list workloads, retrying", "namespace", ns, "err", err)
		r.requeue(ns, w)
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
