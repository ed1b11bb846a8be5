// holds.go is the gates' bookkeeping: which restarts are deferred and why (the gauge, and
// each reported once per change), since when each workload of an earlier wave has been
// waited for, and when each namespace is to be checked again. None of it decides: what a
// workload owes is its own record; this only paces and reports.

package reloader

import (
	"context"
	"time"
)

// heldState is what is kept of one workload whose restart is not run now.
type heldState struct {
	reason string // window, wave or held: the gauge's label
	// note is what was reported of it (the deferral and the change): reported once.
	note string
	// since is when it began to wait, for the pace of its checks.
	since time.Time
}

// recheck is a check of a namespace to come.
type recheck struct {
	at    time.Time
	timer *time.Timer
}

// hold records that a's restart is not run now, for reason (note says which deferral of
// which change, reported once by report), and forgets that it was under way. A workload
// first seen just after the change gets what it runs now as its record, so that the
// change stays owed in it (a later check has no "before" to compare with). It returns
// since when a has been waiting.
func (r *Mode) hold(ctx context.Context, a action, reason, note string, report func()) time.Time {
	if a.v.was != nil {
		r.record(ctx, a.w, a.v.was, "")
	}
	note += "\x00" + a.v.view.String()
	r.mu.Lock()
	if r.pending[a.req.Key] == a.v.view.String() {
		delete(r.pending, a.req.Key)
	}
	h, ok := r.held[a.req.Key]
	if !ok || h.reason != reason {
		h.since = time.Now()
	}
	first := h.note != note
	h.reason, h.note = reason, note
	r.held[a.req.Key] = h
	r.mu.Unlock()
	if first && report != nil {
		report()
	}
	r.countHeld()
	return h.since
}

// release forgets that a's restart was held: it is sent now.
func (r *Mode) release(a action) action {
	r.mu.Lock()
	_, was := r.held[a.req.Key]
	delete(r.held, a.req.Key)
	r.mu.Unlock()
	if was {
		r.countHeld()
	}
	return a
}

// unpend forgets that a's restart is under way: it was not sent after all.
func (r *Mode) unpend(a action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[a.req.Key] == a.v.view.String() {
		delete(r.pending, a.req.Key)
	}
}

// settleHolds forgets, after a check of every workload of their namespaces, the holds of
// workloads that owe nothing any more (restarted, their change undone) or are gone, and
// the waits on workloads that are gone.
func (r *Mode) settleHolds(ns string, members []*member) {
	owing, present, checked := map[string]bool{}, map[string]bool{}, map[string]bool{ns: true}
	for _, m := range members {
		present[m.key] = true
		checked[m.w.Namespace] = true
		if len(m.Owed) > 0 {
			owing[m.key] = true
		}
	}
	r.mu.Lock()
	for key := range r.held {
		if w, ok := workloadOfKey(key); ok && (checked[w.Namespace] || ns == "") && !owing[key] {
			delete(r.held, key)
		}
	}
	for key := range r.waited {
		if w, ok := workloadOfKey(key); ok && (checked[w.Namespace] || ns == "") && !present[key] {
			delete(r.waited, key)
		}
	}
	r.mu.Unlock()
	r.countHeld()
}

// countHeld sets the gauge of restarts deferred, by reason.
func (r *Mode) countHeld() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.countHeldLocked()
}

// countHeldLocked is countHeld with mu held: the gauge is set under the lock, so that
// two checks cannot leave the older count behind.
func (r *Mode) countHeldLocked() {
	counts := map[string]int{}
	for _, h := range r.held {
		counts[h.reason]++
	}
	for _, reason := range []string{"window", "wave", "held"} {
		r.metrics.RestartsDeferred.Set(float64(counts[reason]), "reason", reason)
	}
}

// waitedSince is since when the member keyed key has been waited for by a later wave
// (now, the first time); done (it took the change and is healthy) forgets it.
func (r *Mode) waitedSince(key string, done bool, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if done {
		delete(r.waited, key)
		return time.Time{}
	}
	t, ok := r.waited[key]
	if !ok {
		t = now
		r.waited[key] = t
	}
	return t
}

// recheckAt has ns checked again, every workload, at t (or sooner, if one is due): one
// timer per namespace, the later one stopped.
func (r *Mode) recheckAt(ns string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if due, ok := r.rechecks[ns]; ok {
		if !due.at.After(t) {
			return
		}
		due.timer.Stop()
	}
	rc := &recheck{at: t}
	rc.timer = time.AfterFunc(time.Until(t), func() {
		r.mu.Lock()
		if r.rechecks[ns] != rc {
			r.mu.Unlock()
			return
		}
		delete(r.rechecks, ns)
		r.workLocked(ns).recheck = true
		r.mu.Unlock()
		r.poke()
	})
	r.rechecks[ns] = rc
}

// stopRechecks stops every timer of a check to come: the mode is stopping.
func (r *Mode) stopRechecks() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ns, rc := range r.rechecks {
		rc.timer.Stop()
		delete(r.rechecks, ns)
	}
}
