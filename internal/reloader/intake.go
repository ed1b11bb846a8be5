// intake.go takes what the watchers see: complete lists (Synced) and watch events
// (Changed), kept in the index as digests, and turned into work for the checks of each
// namespace; with --webhook-url, told on instead; an object that leaves a label
// selection is asked about before its deletion counts.

package reloader

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"cuscon/internal/kube"
)

// Synced takes a complete list of one scope. Once every scope is listed, the workloads
// of each are swept; a later list (after an expired watch) sweeps its scope again.
func (r *Mode) Synced(scope kube.Scope, items []Seen) {
	r.mu.Lock()
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		seen[it.key()] = true
		r.putLocked(it, &it.info)
	}
	for ns, objs := range r.index {
		for key := range objs {
			plural, name, _ := strings.Cut(key, "/")
			if full := plural + "/" + ns + "/" + name; scope.Covers(full) && !seen[full] && !objs[key].left {
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
		for _, s := range r.cfg.Scopes {
			if s == scope || len(r.listed) == len(r.cfg.Scopes) {
				r.workLocked(s.Namespace).sweep = true
				if r.legacy.Load() && r.key.Load() != nil {
					r.legacySweeps[s.Namespace] = true
				}
			}
		}
	}
	r.mu.Unlock()
	if ready {
		r.poke()
	}
}

// allSyncedLocked reports whether every scope has been listed; mu must be held.
func (r *Mode) allSyncedLocked() bool {
	for _, s := range r.cfg.Scopes {
		if !r.listed[s] {
			return false
		}
	}
	return true
}

// workLocked returns the work of ns, creating it; mu must be held.
func (r *Mode) workLocked(ns string) *nsWork {
	w := r.work[ns]
	if w == nil {
		w = &nsWork{changed: map[string]*change{}}
		r.work[ns] = w
	}
	return w
}

// Changed takes one watch event. A change of content has its namespace's workloads
// checked; a change of metadata only does not. Under a label selector, an object that
// stops matching it reads as deleted: it is kept as unknown (its records kept, nothing
// restarted) until confirmDeleted asked the API whether it is gone.
func (r *Mode) Changed(eventType string, s Seen) {
	key := s.key()
	info := s.info
	if eventType == "DELETED" && r.cfg.LabelSelector != "" && !s.confirmed {
		r.mu.Lock()
		if prev, had := r.index[s.namespace].get(s.res, s.name); had {
			prev.unknown, prev.left = true, true
			r.putLocked(s, &prev)
		}
		r.mu.Unlock()
		go r.confirmDeleted(s)
		return
	}
	r.mu.Lock()
	var prev sourceInfo
	var had bool
	if eventType == "DELETED" {
		prev, had = r.putLocked(s, nil)
		info = sourceInfo{}
	} else {
		prev, had = r.putLocked(s, &info)
	}
	if !r.allSyncedLocked() || (had && !prev.left && prev.d != nil && info.d != nil && prev.d.full == info.d.full) {
		r.mu.Unlock()
		return
	}
	if r.cfg.Options.WebhookURL != "" { // nothing restarted: Reloader's webhook is told instead
		r.mu.Unlock()
		r.notifyChange(eventType, s)
		return
	}
	if !r.inScopeLocked(s.namespace) { // once it is selected, a sweep catches up
		r.mu.Unlock()
		return
	}
	w := r.workLocked(s.namespace)
	switch c, ok := w.changed[key]; {
	case !ok:
		w.changed[key] = &change{was: prev.d} // the oldest content since the last check
	case c.was == nil && c.first == nil:
		c.first = prev.d // created, then changed again: what it was created with
	}
	r.mu.Unlock()
	r.poke()
}

// notifyChange tells --webhook-url of a change, as Reloader does: every change of
// content, and creations and deletions if --reload-on-create or --reload-on-delete, in
// the namespaces in scope.
func (r *Mode) notifyChange(eventType string, s Seen) {
	switch {
	case r.cfg.Notify == nil || !r.inScope(s.namespace):
	case eventType == "ADDED" && !r.rules.onCreate, eventType == "DELETED" && !r.rules.onDelete:
	default:
		r.cfg.Notify.Changed(reloaderType(s.res), s.name, s.namespace)
	}
}

// awaitGone is told of an object a workload's record holds as existing but that no list
// under the label selector brought (it was deleted, or left the selection, while cuscon
// was not watching): unless the API already confirmed it gone, it is kept as unknown,
// like one that leaves the selection under watch (nothing restarted, the record kept),
// and the API is asked. It reports whether the object is to be taken as unknown.
func (r *Mode) awaitGone(res kube.Resource, ns, name string) bool {
	s := Seen{res: res, namespace: ns, name: name}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone[s.key()] {
		return false
	}
	if _, had := r.index[ns].get(res, name); !had {
		r.putLocked(s, &sourceInfo{unknown: true, left: true})
		go r.confirmDeleted(s)
	}
	return true
}

// confirmDeleted asks the API whether an object that left the watch's selection was
// deleted; if it was, its deletion is handled as such. If it is there, or the API
// cannot say, it stays unknown: nothing is restarted for it.
func (r *Mode) confirmDeleted(s Seen) {
	bo := r.retry.Start()
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		// A list by name (the right to list is cuscon's; to get, not always), read from
		// etcd: the watch cache may still hold what was just deleted.
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		err := r.client.Get(ctx, kube.CollectionPath(s.res, s.namespace), url.Values{"fieldSelector": {"metadata.name=" + s.name}}, &page)
		cancel()
		switch {
		case err == nil && len(page.Items) == 0:
			s.confirmed = true
			r.mu.Lock()
			r.gone[s.key()] = true
			r.mu.Unlock()
			r.Changed("DELETED", s)
			return
		case err == nil || !kube.IsTransient(err):
			return
		}
		if !bo.Wait(context.Background()) {
			return
		}
	}
}
