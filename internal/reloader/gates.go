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
	"maps"
	"net/url"
	"slices"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/waves"
)

// How soon a namespace is checked again while a wave is waited for: every 2 s for the
// first minute, then every 10 s, then every 30 s after ten minutes (a tenant's long
// timeout costs a list of one namespace's workloads twice a minute); and while one is
// held (a resume annotation, a recovered wave or a newer change is then noticed).
const heldRecheck = 15 * time.Second

// waitRecheck is how long after waiting for waited the next check comes.
func waitRecheck(waited time.Duration) time.Duration {
	switch {
	case waited < time.Minute:
		return 2 * time.Second
	case waited < 10*time.Minute:
		return 10 * time.Second
	}
	return 30 * time.Second
}

// stage returns the restarts of todo that may go now; the rest are deferred (outside
// their window) or wait for, or are held by, an earlier wave, and the namespace of each
// is checked again when that may change. full: every workload of the namespaces of ns
// was decided (a sweep, or a check again for what was held).
func (r *Mode) stage(ctx context.Context, ns string, full bool, todo []action, members []*member) []action {
	byName := map[string]*member{}
	peers := map[string][]*member{} // by namespace: waves are of one namespace's workloads
	for _, m := range members {
		byName[m.key] = m
		peers[m.w.Namespace] = append(peers[m.w.Namespace], m)
	}
	now := time.Now()
	var keep, gated []action
	for _, a := range todo {
		m := byName[a.req.Key]
		if a.v.kind != wRestart || a.refused != "" || m == nil {
			keep = append(keep, a)
			continue
		}
		if open, opens := m.win.At(now); !open {
			m.Deferred = opens // the waves after it wait for the window
			r.hold(ctx, a, "window", "window "+opens.String(), func() {
				msg := fmt.Sprintf("Restart of %s deferred to its maintenance window %q, which opens at %s: %s", a.w, m.win, opens.UTC().Format(time.RFC3339), a.req.Why)
				r.log.Info(msg, "namespace", a.w.Namespace, "workload", a.w.String())
				r.events.Normal(a.w.Ref(), "RestartDeferred", msg)
				r.events.Normal(a.req.Object, "RestartDeferred", msg)
			})
			r.recheckAt(a.w.Namespace, opens.Add(time.Second))
			continue
		}
		gated = append(gated, a)
	}
	verdicts := map[string]waves.Verdict{}
	if full {
		asked := map[string]bool{}
		for _, a := range gated {
			if ns := a.w.Namespace; !asked[ns] {
				asked[ns] = true
				for name, v := range r.gate(ctx, peers[ns], now) {
					verdicts[ns+"/"+name] = v
				}
			}
		}
	}
	for _, a := range gated {
		m := byName[a.req.Key]
		v, known := verdicts[a.w.Namespace+"/"+m.Name]
		switch {
		case !blockable(m, peers[a.w.Namespace]):
			keep = append(keep, r.release(a))
		case !known:
			// Whether an earlier wave took the change is known only from a check of every
			// workload of the namespace: one follows at once (what it owes, recorded).
			r.hold(ctx, a, "wave", "wave unknown", nil)
			r.recheckAt(a.w.Namespace, now)
		case v.Kind == waves.Go, v.Kind == waves.Held && v.Resumed:
			if v.Resumed {
				r.log.Warn("Resumed a held restart", "namespace", a.w.Namespace, "workload", a.w.String(), "hold", v.ID)
			}
			keep = append(keep, r.release(a))
		case v.Kind == waves.Wait:
			waited := r.hold(ctx, a, "wave", "wave "+v.Reason, nil)
			r.log.Debug("Restart waits for an earlier wave", "namespace", a.w.Namespace, "workload", a.w.String(), "reason", v.Reason)
			next := now.Add(waitRecheck(now.Sub(waited)))
			if !v.Until.IsZero() {
				next = v.Until.Add(time.Second)
			}
			r.recheckAt(a.w.Namespace, next)
		default:
			r.hold(ctx, a, "held", "held "+v.ID, func() {
				msg := fmt.Sprintf("Restart of %s held: %s; it stays owed until a newer change, or until %s=%s is set on it", a.w, v.Reason, waves.ResumeAnnotation, v.ID)
				r.log.Warn(msg, "namespace", a.w.Namespace, "workload", a.w.String(), "hold", v.ID)
				r.events.Warn(a.w.Ref(), "RestartHeld", msg)
				r.events.Warn(a.req.Object, "RestartHeld", msg)
			})
			r.recheckAt(a.w.Namespace, now.Add(heldRecheck))
		}
	}
	if full {
		r.settleHolds(ns, members)
	}
	return keep
}

// gate reads the health of the members of one namespace that stand before one that owes
// a restart, and since when each has been waited for, and asks the gate about each.
func (r *Mode) gate(ctx context.Context, members []*member, now time.Time) map[string]waves.Verdict {
	latest := map[string]int{} // by object: the latest wave that owes a restart for it
	for _, x := range members {
		for _, ref := range x.Owed {
			if w, ok := x.Waves[ref]; ok && w > latest[ref] {
				latest[ref] = w
			}
		}
	}
	for _, y := range members {
		needed := slices.ContainsFunc(slices.Collect(maps.Keys(y.Waves)), func(ref string) bool { return y.Waves[ref] < latest[ref] })
		taken := !y.InFlight && len(y.Owed) == 0
		if needed && taken && y.Refused == "" {
			y.Health = r.healthOf(ctx, y)
		}
		// Its timeout counts only while it is its own turn: under way, or restarted and
		// not healthy yet; not while it waits itself (for a window, or an earlier wave).
		running := y.InFlight || taken && y.Health.Health != waves.Healthy
		y.Waited = r.waitedSince(y.key, !needed || !running, now)
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
	if len(y.updateStrategy) > 0 {
		_ = json.Unmarshal(y.updateStrategy, &y.obs.Spec.UpdateStrategy)
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
