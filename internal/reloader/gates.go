// gates.go stages the restarts a check found: one outside its maintenance window is
// deferred to the window's opening; the workloads that use one changed object are
// restarted wave after wave, each once the waves before it took the change and are
// healthy again (package waves decides, health read from the workloads' own status or,
// for delete and evict, from their pods). What is not restarted stays owed in the
// workload's own record, so the next check — this replica's, or a new leader's after a
// restart — finds it again: a finished wave is not restarted twice.

package reloader

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/waves"
	"cuscon/internal/window"
)

// How soon a namespace is checked again while a wave is waited for, and while one is
// held (a resume annotation, a recovered wave or a newer change is then noticed).
const (
	waitRecheck = 2 * time.Second
	heldRecheck = 15 * time.Second
)

// stage returns the restarts of todo that may go now; the rest are deferred (outside
// their window) or wait for, or are held by, an earlier wave, and their namespace is
// checked again when that may change. full: every workload of ns was decided.
func (r *Mode) stage(ctx context.Context, ns string, full bool, todo []action, members []*member) []action {
	byName := map[string]*member{}
	peers := map[string][]*member{} // by namespace: waves are of one namespace's workloads
	for _, m := range members {
		byName[m.w.Namespace+"/"+m.Name] = m
		peers[m.w.Namespace] = append(peers[m.w.Namespace], m)
	}
	now := time.Now()
	deferred := map[string]int{}
	var keep []action
	gated := map[string][]action{} // by namespace
	for _, a := range todo {
		m := byName[a.w.Namespace+"/"+a.w.String()]
		if a.v.kind != wRestart || a.refused != "" || m == nil {
			keep = append(keep, a)
			continue
		}
		win, _ := window.Parse(m.window) // memberOf refused a window that does not parse
		if open, opens := win.At(now); !open {
			r.unpend(a)
			deferred["window"]++
			r.noteOnce(a, "window", func() {
				msg := fmt.Sprintf("Restart of %s deferred to its maintenance window %q, which opens at %s: %s", a.w, m.window, opens.UTC().Format(time.RFC3339), a.req.Why)
				r.log.Info(msg, "namespace", a.w.Namespace, "workload", a.w.String())
				r.events.Normal(a.w.Ref(), "RestartDeferred", msg)
				r.events.Normal(a.req.Object, "RestartDeferred", msg)
			})
			r.recheckAt(ns, opens.Add(time.Second))
			continue
		}
		if blockable(m, peers[a.w.Namespace]) {
			gated[a.w.Namespace] = append(gated[a.w.Namespace], a)
		} else {
			keep = append(keep, a)
		}
	}
	if len(gated) > 0 && !full {
		// Whether an earlier wave took the change is known only from a check of every
		// workload of the namespace: one follows at once.
		for _, as := range gated {
			for _, a := range as {
				r.unpend(a)
			}
		}
		r.recheckAt(ns, now)
		gated = nil
	}
	for wns, as := range gated {
		xs := make([]*member, 0, len(as))
		for _, a := range as {
			xs = append(xs, byName[a.w.Namespace+"/"+a.w.String()])
		}
		verdicts := r.gate(ctx, peers[wns], xs, now)
		for _, a := range as {
			switch v := verdicts[a.w.String()]; {
			case v.Kind == waves.Go, v.Kind == waves.Held && v.Resumed:
				if v.Resumed {
					r.log.Warn("Resumed a held restart", "namespace", a.w.Namespace, "workload", a.w.String(), "hold", v.ID)
				}
				keep = append(keep, a)
			case v.Kind == waves.Wait:
				r.unpend(a)
				deferred["wave"]++
				r.log.Debug("Restart waits for an earlier wave", "namespace", a.w.Namespace, "workload", a.w.String(), "reason", v.Reason)
				r.recheckAt(ns, now.Add(waitRecheck))
			default:
				r.unpend(a)
				deferred["held"]++
				r.noteOnce(a, "held "+v.ID, func() {
					msg := fmt.Sprintf("Restart of %s held: %s; it stays owed until a newer change, or until %s=%s is set on it", a.w, v.Reason, waves.ResumeAnnotation, v.ID)
					r.log.Warn(msg, "namespace", a.w.Namespace, "workload", a.w.String(), "hold", v.ID)
					r.events.Warn(a.w.Ref(), "RestartHeld", msg)
					r.events.Warn(a.req.Object, "RestartHeld", msg)
				})
				r.recheckAt(ns, now.Add(heldRecheck))
			}
		}
	}
	r.countDeferred(ns, deferred)
	return keep
}

// gate reads the health of the members of one namespace that stand before one of
// gated, and asks the gate about each.
func (r *Mode) gate(ctx context.Context, members, gated []*member, now time.Time) map[string]waves.Verdict {
	for _, y := range members {
		needed := false
		for _, x := range gated {
			needed = needed || before(y, x)
		}
		if !needed || y.InFlight || len(y.Owed) > 0 || y.Refused != "" {
			continue
		}
		y.Health = r.healthOf(ctx, y)
		if y.Since.IsZero() {
			y.Since = r.waitedSince(y.w.Namespace+"/"+y.Name, y.Health.Health != waves.Progressing)
		}
	}
	flat := make([]waves.Member, 0, len(members))
	for _, m := range members {
		flat = append(flat, m.Member)
	}
	return waves.Gate(flat, now)
}

// blockable reports whether x may have to wait for another member of its namespace.
func blockable(x *member, members []*member) bool {
	return slices.ContainsFunc(members, func(y *member) bool { return before(y, x) })
}

// before reports whether y is of an earlier wave than x for an object x owes a restart
// for.
func before(y, x *member) bool {
	for _, ref := range x.Owed {
		if yw, uses := y.Waves[ref]; uses && y != x && yw < x.Waves[ref] {
			return true
		}
	}
	return false
}

// healthOf reads y's health: from its status, or for a restart by delete or evict from
// its pods (the replacements Ready, none terminating).
func (r *Mode) healthOf(ctx context.Context, y *member) waves.Status {
	if len(y.status) > 0 {
		_ = json.Unmarshal(y.status, &y.obs.Status)
	}
	if y.strategy != "delete" && y.strategy != "evict" {
		return waves.HealthOf(y.w.Kind, &y.obs)
	}
	var list struct {
		Items []kube.Pod `json:"items"`
	}
	if err := r.client.Get(ctx, kube.CollectionPath(kube.Pods, y.w.Namespace), url.Values{"labelSelector": {y.selector}}, &list); err != nil {
		return waves.Status{Health: waves.Progressing, Reason: "its pods could not be listed: " + err.Error()}
	}
	pods := make([]waves.PodState, 0, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		pods = append(pods, waves.PodState{Terminating: p.Metadata.DeletionTimestamp != nil, Ready: p.Ready()})
	}
	return waves.PodsHealth(pods, waves.Want(y.w.Kind, &y.obs))
}

// waitedSince is since when the member keyed key has been waited for (now, the first
// time); healthy forgets it.
func (r *Mode) waitedSince(key string, healthy bool) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if healthy {
		delete(r.waited, key)
		return time.Time{}
	}
	t, ok := r.waited[key]
	if !ok {
		t = time.Now()
		r.waited[key] = t
	}
	return t
}

// unpend forgets that a's restart is under way: it was not sent after all.
func (r *Mode) unpend(a action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[a.req.Key] == a.v.view.String() {
		delete(r.pending, a.req.Key)
	}
}

// noteOnce runs report the first time a's restart is deferred for what (per change):
// a check every few seconds does not repeat its Events.
func (r *Mode) noteOnce(a action, what string, report func()) {
	key := a.req.Key + "\x00" + what + "\x00" + a.v.view.String()
	r.mu.Lock()
	seen := r.noted[a.req.Key] == key
	r.noted[a.req.Key] = key
	r.mu.Unlock()
	if !seen {
		report()
	}
}

// recheckAt has ns checked again, every workload, at t (or sooner, if one is due).
func (r *Mode) recheckAt(ns string, t time.Time) {
	r.mu.Lock()
	if due, ok := r.rechecks[ns]; ok && !due.After(t) {
		r.mu.Unlock()
		return
	}
	r.rechecks[ns] = t
	r.mu.Unlock()
	time.AfterFunc(time.Until(t), func() {
		r.mu.Lock()
		if r.rechecks[ns] != t {
			r.mu.Unlock()
			return // a sooner one was due; it scheduled its own successor if needed
		}
		delete(r.rechecks, ns)
		r.workLocked(ns).recheck = true
		r.mu.Unlock()
		r.poke()
	})
}

// countDeferred sets the gauge of restarts deferred, by reason, with ns's counts.
func (r *Mode) countDeferred(ns string, counts map[string]int) {
	r.mu.Lock()
	if len(counts) == 0 {
		delete(r.deferred, ns)
	} else {
		r.deferred[ns] = counts
	}
	total := map[string]int{}
	for _, c := range r.deferred {
		for reason, n := range c {
			total[reason] += n
		}
	}
	r.mu.Unlock()
	for _, reason := range []string{"window", "wave", "held"} {
		r.metrics.RestartsDeferred.Set(float64(total[reason]), "reason", reason)
	}
}
