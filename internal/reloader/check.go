// check.go checks the listed workloads of a namespace against what changed (decide.go
// and verdict.go decide), records baselines on them, and sends their restarts to the
// scheduler with what each is to write (apply.go); finish.go takes their ends.

package reloader

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/restart"
)

// recordsInFlight bounds the records a check sends at once.
const recordsInFlight = 8

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
	var members []*member
	listed := 0
	snapshots := map[string]nsObjects{}
	guards, held := map[string]restart.Guard{}, map[string]error{}
	err := listWorkloads(ctx, r.client, ns, r.kinds, !work.sweep, r.optsIn, r.skippedKind, func(w *workloadObj) {
		listed++
		wns := w.Metadata.Namespace
		if !r.inScope(wns) {
			return
		}
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
		a, ok, m := r.consider(w, work, objs, guard.Self)
		if ok {
			todo = append(todo, a)
		}
		if m != nil {
			members = append(members, m)
		}
		if w.Kind == "Deployment" && work.sweep {
			r.resumeLater(ctx, w) // a pause-period cuscon began before a restart, or as a new leader's
		}
	})
	if err != nil {
		for _, a := range todo { // decided, not sent: no longer under way
			if a.v.kind == wRestart {
				r.unpend(a)
			}
		}
		return err
	}
	for wns, err := range held {
		if wns == ns {
			return err // checked again later, as a failed list is
		}
		r.log.Warn("Could not check workloads yet; trying again later", "namespace", wns, "err", err)
		r.requeue(wns, &nsWork{sweep: true, changed: map[string]*change{}})
	}
	todo = r.stage(ctx, ns, work.sweep || work.recheck, todo, members)
	// Records are sent a few at a time, and all are done before the check ends, so the
	// next check reads them: a first start records every opted-in workload, and 1,000
	// PATCHes one after another took 4.5 s (measured, kube-apiserver 1.34, 2 cores).
	var records sync.WaitGroup
	inFlight := make(chan struct{}, recordsInFlight)
	recordSoon := func(w kube.Workload, view workloadView) {
		records.Add(1)
		inFlight <- struct{}{}
		go func() {
			defer func() { <-inFlight; records.Done() }()
			r.record(ctx, w, view, "")
		}()
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
			recordSoon(a.w, a.v.view)
		case a.v.kind == wRecord:
			if len(a.v.anew) > 0 {
				log.Warn("Recorded anew, nothing restarted: what was recorded was made with another digest key", "objects", strings.Join(a.v.anew, ", "))
			}
			recordSoon(a.w, a.v.view)
		case a.v.kind == wRestart:
			log.Info("Modification detected", "strategy", a.req.Strategy, "reason", a.req.Why)
			r.sched.Add(a.req)
		}
	}
	records.Wait()
	r.metrics.ReloaderChecks.Inc("sweep", fmt.Sprint(work.sweep))
	r.metrics.ReloaderCheckSeconds.Observe(time.Since(began).Seconds())
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
func (r *Mode) consider(w *workloadObj, work *nsWork, objs nsObjects, self kube.Workload) (action, bool, *member) {
	t := w.ref()
	if w.Kind == "Job" && kube.ControllerOf(&w.Metadata) != nil {
		return action{}, false, nil // a CronJob's (or another controller's) Job: its owner is restarted, not it
	}
	rec, _ := parseView(w.Metadata.Annotations[AppliedConfigsAnnotation])
	concerns := map[string]concern{}
	for _, res := range []kube.Resource{kube.ConfigMaps, kube.Secrets} {
		if !r.watched(res) {
			continue
		}
		c, err := optedIn(w, res, objs, r.lists, r.rules, rec)
		if err != nil {
			return action{w: t, refused: fmt.Sprintf("%s: %v", t, err), reason: "InvalidAnnotation"}, true, nil
		}
		maps.Copy(concerns, c)
	}
	current, legacy, previous := workloadView{}, workloadView{}, workloadView{}
	named := map[string]bool{}
	var missing []string
	touched := work.sweep || work.recheck
	for ref, c := range concerns {
		key := kube.Key(c.res, w.Metadata.Namespace, c.name)
		info, found := objs.get(c.res, c.name)
		if !found && r.cfg.LabelSelector != "" && recordedPresent(rec, ref) && r.awaitGone(c.res, w.Metadata.Namespace, c.name) {
			info = sourceInfo{unknown: true, left: true}
		}
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
		named[ref] = c.named
		if ch, changed := work.changed[key]; changed {
			touched = true
			was := ch.was
			if was == nil && ch.first != nil && (info.d == nil || info.d.full != ch.first.full) {
				was = ch.first // created, then changed: compared with what it was created with
			}
			if v, ok := viewOf(c.use, was); ok {
				previous[ref] = v
			}
		}
	}
	if len(concerns) == 0 {
		return action{}, false, nil
	}
	var m *member
	if t != self { // never restarted: it stands in no wave
		m = r.memberOf(w, concerns, objs)
	}
	if !touched {
		return action{}, false, m
	}
	key := workloadKey(t)
	r.mu.Lock()
	pending := r.pending[key]
	r.mu.Unlock()
	v := decideWorkload(w.Metadata.Annotations[AppliedConfigsAnnotation], current, legacy, missing, previous, pending, named, r.rules)
	a := action{w: t, v: v}
	if m != nil {
		m.InFlight = v.kind == wPending
	}
	if v.kind != wRestart {
		return a, v.kind == wBaseline || v.kind == wRecord, m
	}
	view := v.view.String()
	if m != nil {
		m.Owed = v.refs
	}
	strategy, err := r.strategyOf(w)
	switch {
	case t == self:
		a.refused, a.reason = fmt.Sprintf("%s runs cuscon itself; not restarted", t), "RefusedSelf"
	case err != nil:
		a.refused, a.reason = fmt.Sprintf("%s: %v", t, err), "InvalidStrategy"
	case m.err != nil:
		a.refused, a.reason = fmt.Sprintf("%s: %v", t, m.err), "InvalidStaging"
	}
	if a.refused != "" {
		if m != nil {
			m.Refused = a.refused
		}
		return a, true, m
	}
	first := concerns[v.refs[0]]
	src := kube.ObjectRef{APIVersion: "v1", Kind: first.res.Kind, Namespace: t.Namespace, Name: first.name}
	why := explain(v, concerns)
	stamp := lastRestart(time.Now(), lowestWave(m), why)
	a.req = restart.Request{Object: src, Key: key, Selector: w.Spec.Selector.String(), Strategy: strategy, Why: why, Seen: time.Now()}
	switch strategy {
	case "delete", "evict": // the pods, then the view recorded once they are done
	case "rollout":
		if w.Kind == "Deployment" || w.Kind == "StatefulSet" || w.Kind == "DaemonSet" {
			a.req.Roll = &restart.Roll{Workload: t, Annotations: recordOf(view, stamp)}
			break
		}
		fallthrough
	default:
		p := r.planFor(w, strategy, v.refs, concerns, objs, view)
		p.stamp = stamp
		a.req.Roll = &restart.Roll{Workload: t, Apply: r.applier(p)}
	}
	a.req.Done = func(ctx context.Context, res restart.Result) { r.finished(ctx, a.req, view, stamp, res) }
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[key] == view { // another namespace's check got there first
		return action{}, false, m
	}
	r.pending[key] = view
	return a, true, m
}

// strategyOf is how w is restarted: --reload-strategy, or what its strategy annotation
// chooses among --override-strategies. Jobs and CronJobs have their own way (re-created;
// a Job run now) and choose none.
func (r *Mode) strategyOf(w *workloadObj) (string, error) {
	value, set := w.Metadata.Annotations[restart.StrategyAnnotation]
	if set && (w.Kind == "Job" || w.Kind == "CronJob") {
		return "", fmt.Errorf("%s does not apply to %ss: a Job is re-created, a CronJob runs a Job now", restart.StrategyAnnotation, w.Kind)
	}
	return restart.ChooseStrategy(value, set, r.cfg.Options.Strategy, r.cfg.Overrides)
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
