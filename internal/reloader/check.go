// check.go checks the listed workloads against what changed (decide.go decides),
// records baselines on them, sends their restarts to the scheduler, and records what a
// finished restart applied.

package reloader

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/restart"
)

// action is what a check found to do for one workload, done after the list.
type action struct {
	w       kube.Workload
	v       workloadVerdict
	req     restart.Request
	refused string
	reason  string // the refusal's Event reason
}

// check lists the workloads of ns and acts on those that opted in and are concerned.
// It reads snapshots of what is known of each namespace, so the lock that every watch
// event takes is never held while a tenant's annotations are worked through.
func (r *Mode) check(ctx context.Context, ns string, work *nsWork) error {
	began := time.Now()
	var todo []action
	listed := 0
	snapshots := map[string]nsObjects{}
	guards, held := map[string]restart.Guard{}, map[string]error{}
	err := listWorkloads(ctx, r.client, ns, func(w *workloadObj) {
		if !hasReloaderAnnotation(w) {
			return
		}
		listed++
		wns := w.Metadata.Namespace
		guard, ok := guards[wns]
		if !ok && held[wns] == nil {
			var err error
			if guard, err = r.guard(ctx, wns); err != nil {
				held[wns] = err
			} else {
				guards[wns] = guard
			}
		}
		if held[wns] != nil {
			return // until cuscon's own workload is known, nothing in its namespace
		}
		objs, ok := snapshots[wns]
		if !ok {
			objs = r.snapshot(wns)
			snapshots[wns] = objs
		}
		if a, ok := r.consider(w, work, objs, guard.Self); ok {
			todo = append(todo, a)
		}
	})
	if err != nil {
		return err
	}
	for wns, err := range held {
		if wns == ns {
			return err // checked again later, as a failed list is
		}
		r.log.Warn("Could not check workloads yet; trying again later", "namespace", wns, "err", err)
		r.requeue(wns, &nsWork{sweep: true, changed: map[string]*digests{}})
	}
	for _, a := range todo {
		log := r.log.With("namespace", a.w.Namespace, "workload", a.w.String())
		switch {
		case a.refused != "" && r.firstRefusal(a):
			log.Error(a.refused)
			r.events.Warn(a.w.Ref(), a.reason, a.refused)
		case a.refused != "":
			log.Debug(a.refused)
		case a.v.kind == wBaseline:
			log.Debug("First sight of opted-in workload; baseline recorded, nothing restarted")
			r.record(ctx, a.w, a.v.view)
		case a.v.kind == wRecord:
			if len(a.v.anew) > 0 {
				log.Warn("Recorded anew, nothing restarted: what was recorded was made with another digest key", "objects", strings.Join(a.v.anew, ", "))
			}
			r.record(ctx, a.w, a.v.view)
		case a.v.kind == wRestart:
			log.Info("Modification detected", "strategy", a.req.Strategy, "reason", strings.Join(a.v.changed, "; ")+" changed")
			r.sched.Add(a.req)
		}
	}
	r.log.Info("Checked workloads", "namespace", ns, "sweep", work.sweep, "changed", len(work.changed), "annotated", listed, "acted", len(todo),
		"seconds", time.Since(began).Seconds())
	return nil
}

// firstRefusal reports whether a's refusal is new for its workload: each is reported
// once, not at every check of the namespace.
func (r *Mode) firstRefusal(a action) bool {
	key := a.w.String() + "/" + a.w.Namespace
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refused[key] == a.refused {
		return false
	}
	r.refused[key] = a.refused
	return true
}

// consider decides one workload from objs, what is known of its namespace.
func (r *Mode) consider(w *workloadObj, work *nsWork, objs nsObjects, self kube.Workload) (action, bool) {
	t := w.ref()
	concerns := map[string]concern{}
	for _, res := range []kube.Resource{kube.ConfigMaps, kube.Secrets} {
		c, err := optedIn(w, res, objs, r.lists)
		if err != nil {
			return action{w: t, refused: fmt.Sprintf("%s: %v", t, err), reason: "InvalidAnnotation"}, true
		}
		maps.Copy(concerns, c)
	}
	current, legacy, previous := workloadView{}, workloadView{}, workloadView{}
	var missing []string
	touched := work.sweep
	for ref, c := range concerns {
		key := kube.Key(c.res, w.Metadata.Namespace, c.name)
		if !r.watched(c.res) {
			continue
		}
		info, _ := objs.get(c.res, c.name)
		v, ok := viewOf(c.use, info.d)
		switch {
		case info.unknown || !ok: // no digests yet, or required and not there: the record stays
			missing = append(missing, ref)
		default:
			current[ref] = v
			if info.d != nil && info.d.legacy != nil {
				legacy[ref], _ = viewOf(c.use, info.d.legacy)
			}
		}
		if was, changed := work.changed[key]; changed {
			touched = true
			if v, ok := viewOf(c.use, was); ok {
				previous[ref] = v
			}
		}
	}
	if !touched || len(concerns) == 0 {
		return action{}, false
	}
	key := workloadKey(t)
	r.mu.Lock()
	pending := r.pending[key]
	r.mu.Unlock()
	v := decideWorkload(w.Metadata.Annotations[AppliedConfigsAnnotation], current, legacy, missing, previous, pending)
	a := action{w: t, v: v}
	if v.kind != wRestart {
		return a, v.kind == wBaseline || v.kind == wRecord
	}
	if t == self {
		a.refused, a.reason = fmt.Sprintf("%s runs cuscon itself; not restarted", t), "RefusedSelf"
		return a, true
	}
	value, set := w.Metadata.Annotations[restart.StrategyAnnotation]
	strategy, err := restart.ChooseStrategy(value, set, "rollout", r.cfg.Overrides)
	if err != nil {
		a.refused, a.reason = fmt.Sprintf("%s: %v", t, err), "InvalidStrategy"
		return a, true
	}
	// Events about the restart go on the first object that changed, too.
	kind, name, _ := strings.Cut(strings.Fields(v.changed[0])[0], "/")
	res := kube.ConfigMaps
	if kind == "secret" {
		res = kube.Secrets
	}
	src := kube.ObjectRef{APIVersion: "v1", Kind: res.Kind, Namespace: t.Namespace, Name: name}
	view := v.view.String()
	why := strings.Join(v.changed, "; ") + " changed"
	a.req = restart.Request{Object: src, Key: key, Selector: w.Spec.Selector.String(), Strategy: strategy, Why: why, Seen: time.Now()}
	if strategy == "rollout" { // rolled directly, the view recorded in the same patch
		a.req.Roll = &restart.Roll{Workload: t, Annotations: map[string]string{AppliedConfigsAnnotation: view}}
	}
	a.req.Done = func(ctx context.Context, res restart.Result) { r.finished(ctx, a.req, view, res) }
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[key] == view { // another namespace's check got there first
		return action{}, false
	}
	r.pending[key] = view
	return a, true
}

// watched reports whether objects of res are watched (Secrets only with --secrets).
func (r *Mode) watched(res kube.Resource) bool {
	for _, s := range r.cfg.Scopes {
		if s.Resource == res {
			return true
		}
	}
	return false
}

// record writes view on w's own metadata, which does not roll its pods.
func (r *Mode) record(ctx context.Context, w kube.Workload, view workloadView) {
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{AppliedConfigsAnnotation: view.String()}}}
	if err := r.client.Patch(ctx, w.Path(), "application/merge-patch+json", patch, r.cfg.DryRun); err != nil {
		r.log.Warn("Could not record what the workload uses (needs patch on "+strings.ToLower(w.Kind)+"s)", "namespace", w.Namespace, "workload", w.String(), "err", err)
	}
}

// finished is told how a workload's restart ended. A complete one is recorded (a
// rollout recorded it in the same patch); pods left are retried later.
func (r *Mode) finished(ctx context.Context, req restart.Request, view string, res restart.Result) {
	r.mu.Lock()
	if r.pending[req.Key] == view {
		delete(r.pending, req.Key)
	}
	tries := 0
	if res.Owed != nil {
		r.tries[req.Key]++
		tries = r.tries[req.Key]
		r.pending[req.Key] = view
	} else {
		delete(r.tries, req.Key)
	}
	r.mu.Unlock()
	w, _ := workloadOfKey(req.Key)
	switch {
	case res.Refused != nil, res.Dropped: // a dropped batch is found again by the next leader
	case res.Owed == nil && req.Roll == nil:
		var v workloadView
		_ = json.Unmarshal([]byte(view), &v)
		r.record(ctx, w, v)
	case res.Owed != nil:
		d := r.retry.Nth(tries)
		r.log.Warn("Restart incomplete; retrying later", "namespace", req.Object.Namespace, "workload", w.String(), "retryIn", d.String())
		time.AfterFunc(d, func() {
			if !r.leading() {
				return
			}
			again := req
			again.Only, again.Seen = nil, time.Now()
			if !res.Owed.All {
				again.Only = res.Owed.Pods
			}
			r.sched.Add(again)
		})
	}
}

// workloadKey is how the mode names a workload's restart: workloads/NAMESPACE/KIND/NAME.
func workloadKey(w kube.Workload) string {
	return "workloads/" + w.Namespace + "/" + w.Kind + "/" + w.Name
}

// workloadOfKey reads a workloadKey back.
func workloadOfKey(key string) (kube.Workload, bool) {
	parts := strings.SplitN(strings.TrimPrefix(key, "workloads/"), "/", 3)
	if len(parts) != 3 {
		return kube.Workload{}, false
	}
	return kube.Workload{Namespace: parts[0], Kind: parts[1], Name: parts[2]}, true
}
