// reloadercheck.go checks the listed workloads of the Reloader mode against what
// changed (reloader.go decides), records baselines on them, schedules their restarts,
// and records what a finished restart applied.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
)

// action is what a check found to do for one workload, done after the list.
type action struct {
	w       workload
	v       workloadVerdict
	req     restartRequest
	refused string
	reason  string // the refusal's Event reason
}

// check lists the workloads of ns and acts on those that opted in and are concerned.
// It reads snapshots of what is known of each namespace, so the lock that every watch
// event takes is never held while a tenant's annotations are worked through.
func (r *reloaderMode) check(ctx context.Context, ns string, work *nsWork) error {
	began := time.Now()
	me, err := r.self.get(ctx)
	if err != nil {
		return err
	}
	var todo []action
	listed := 0
	snapshots := map[string]nsObjects{}
	err = listWorkloads(ctx, r.api, ns, func(w *workloadObj) {
		if !hasReloaderAnnotation(w) {
			return
		}
		listed++
		objs, ok := snapshots[w.Metadata.Namespace]
		if !ok {
			objs = r.snapshot(w.Metadata.Namespace)
			snapshots[w.Metadata.Namespace] = objs
		}
		if a, ok := r.consider(w, work, objs, me); ok {
			todo = append(todo, a)
		}
	})
	if err != nil {
		return err
	}
	for _, a := range todo {
		log := r.log.With("namespace", a.w.Namespace, "workload", a.w.String())
		switch {
		case a.refused != "" && r.firstRefusal(a):
			log.Error(a.refused)
			r.events.warn(a.w.ref(), a.reason, a.refused)
		case a.refused != "":
			log.Debug(a.refused)
		case a.v.kind == wBaseline:
			log.Debug("First sight of opted-in workload; baseline recorded, nothing restarted")
			r.record(ctx, a.w, a.v.view)
		case a.v.kind == wRecord:
			r.record(ctx, a.w, a.v.view)
		case a.v.kind == wRestart:
			log.Info("Modification detected", "strategy", a.req.strategy, "reason", strings.Join(a.v.changed, "; ")+" changed")
			r.sched.add(a.req)
		}
	}
	r.log.Info("Checked workloads", "namespace", ns, "sweep", work.sweep, "changed", len(work.changed), "annotated", listed, "acted", len(todo),
		"seconds", time.Since(began).Seconds())
	return nil
}

// firstRefusal reports whether a's refusal is new for its workload: each is reported
// once, not at every check of the namespace.
func (r *reloaderMode) firstRefusal(a action) bool {
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
func (r *reloaderMode) consider(w *workloadObj, work *nsWork, objs nsObjects, me self) (action, bool) {
	t := w.target()
	concerns := map[string]concern{}
	for _, res := range []resource{configMaps, secrets} {
		c, err := optedIn(w, res, objs, r.lists)
		if err != nil {
			return action{w: t, refused: fmt.Sprintf("%s: %v", t, err), reason: "InvalidAnnotation"}, true
		}
		maps.Copy(concerns, c)
	}
	current, previous := workloadView{}, workloadView{}
	var missing []string
	touched := work.sweep
	for ref, c := range concerns {
		key := c.res.Plural + "/" + w.Metadata.Namespace + "/" + c.name
		if !r.watched(c.res) {
			continue
		}
		info, _ := objs.get(c.res, c.name)
		if v, ok := viewOf(c.use, info.d); ok {
			current[ref] = v
		} else {
			missing = append(missing, ref)
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
	key := "workloads/" + t.Namespace + "/" + t.Kind + "/" + t.Name
	r.mu.Lock()
	pending := r.pending[key]
	r.mu.Unlock()
	v := decideWorkload(w.Metadata.Annotations[appliedConfigsAnnotation], current, missing, previous, pending)
	a := action{w: t, v: v}
	if v.kind != wRestart {
		return a, v.kind == wBaseline || v.kind == wRecord
	}
	if t == me.workload {
		a.refused, a.reason = fmt.Sprintf("%s runs cuscon itself; not restarted", t), "RefusedSelf"
		return a, true
	}
	value, set := w.Metadata.Annotations[strategyAnnotation]
	strategy, err := chooseStrategy(value, set, "rollout", r.overrides)
	if err != nil {
		a.refused, a.reason = fmt.Sprintf("%s: %v", t, err), "InvalidStrategy"
		return a, true
	}
	// Events about the restart go on the first object that changed, too.
	kind, name, _ := strings.Cut(strings.Fields(v.changed[0])[0], "/")
	res := configMaps
	if kind == "secret" {
		res = secrets
	}
	src := objectRef{APIVersion: "v1", Kind: res.Kind, Namespace: t.Namespace, Name: name}
	view := v.view.String()
	a.req = restartRequest{src: src, res: res, key: key, selector: w.Spec.Selector.String(), strategy: strategy,
		hash: view, attempt: view, seen: time.Now(), workload: &t, view: view, why: strings.Join(v.changed, "; ") + " changed"}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[key] == view { // another namespace's check got there first
		return action{}, false
	}
	r.pending[key] = view
	return a, true
}

// watched reports whether objects of res are watched (Secrets only with --secrets).
func (r *reloaderMode) watched(res resource) bool {
	for _, s := range r.scopes {
		if s.resource == res {
			return true
		}
	}
	return false
}

// record writes view on w's own metadata, which does not roll its pods.
func (r *reloaderMode) record(ctx context.Context, w workload, view workloadView) {
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{appliedConfigsAnnotation: view.String()}}}
	if err := r.api.call(ctx, http.MethodPatch, w.path(), dryRunQuery(r.dryRun), "application/merge-patch+json", patch, nil); err != nil {
		r.log.Warn("Could not record what the workload uses (needs patch on "+strings.ToLower(w.Kind)+"s)", "namespace", w.Namespace, "workload", w.String(), "err", err)
	}
}

// finished is told how a workload's restart ended. A complete one is recorded (rollout
// recorded it in the same patch); pods left are retried later.
func (r *reloaderMode) finished(ctx context.Context, res result) {
	req := res.req
	r.mu.Lock()
	if r.pending[req.key] == req.view {
		delete(r.pending, req.key)
	}
	tries := 0
	if res.owed != nil {
		r.tries[req.key]++
		tries = r.tries[req.key]
		r.pending[req.key] = req.view
	} else {
		delete(r.tries, req.key)
	}
	r.mu.Unlock()
	switch {
	case res.refused != nil, res.dropped: // a dropped batch is found again by the next leader
	case res.owed == nil && req.strategy != "rollout":
		var view workloadView
		_ = json.Unmarshal([]byte(req.view), &view)
		r.record(ctx, *req.workload, view)
	case res.owed != nil:
		d := retryDelay(tries, r.retry)
		r.log.Warn("Restart incomplete; retrying later", "namespace", req.src.Namespace, "workload", req.workload.String(), "retryIn", d.String())
		time.AfterFunc(d, func() {
			if !r.leading() {
				return
			}
			again := req
			again.only, again.seen = nil, time.Now()
			if !res.owed.All {
				again.only = res.owed.Pods
			}
			r.sched.add(again)
		})
	}
}
