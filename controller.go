// controller.go carries the decision (decide.go) out. Watchers of several namespaces and
// kinds call it concurrently; under its lock it only looks up, decides and stores. After
// unlocking it logs, posts Events, schedules restarts, records on the object what was
// applied and what is still owed, and retries owed pods with capped backoff.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// hashAnnotation records, on each annotated object, the content hash cuscon last applied
// in full, so that a change made while cuscon was not running is applied when it comes back.
const hashAnnotation = "cuscon.dev/applied-hash"

// owedAnnotation records an incomplete restart (owedWork as JSON): the pods still to
// restart, so that a cuscon that restarts resumes it and leaves the replaced pods alone.
const owedAnnotation = "cuscon.dev/owed"

// strategyAnnotation, on an annotated object, overrides --strategy for its pods.
const strategyAnnotation = "cuscon.dev/strategy"

// maxRecordedPods bounds the owed pods recorded on an object; past it the record says
// "all", and a cuscon that restarts restarts every matching pod again.
const maxRecordedPods = 1000

// controller turns observed objects into restarts and remembers what it applied.
type controller struct {
	api *apiClient
	log *slog.Logger
	// annotation is the key whose value is the pod label selector.
	annotation string
	policy     policy
	// dryRun sends every write with dryRun=All.
	dryRun  bool
	events  *eventRecorder
	sched   *scheduler
	metrics *metrics
	// leading says whether this replica may act; a follower decides nothing.
	leading func() bool
	// retry paces the rounds of owed pods.
	retry backoffPolicy

	// reloader, with --reloader-annotations, is told of every object too (reloaderctl.go).
	reloader *reloaderMode

	mu sync.Mutex
	// state maps the key of each annotated object to what cuscon knows of it.
	state map[string]objState
}

// annotated is the watchers' filter: only objects carrying the annotation matter.
func (c *controller) annotated(obj *source) bool {
	_, ok := obj.Metadata.Annotations[c.annotation]
	return ok
}

// synced handles a complete list of one scope: the first one is the baseline
// (restarting only what the recorded hashes say changed while cuscon was away); a later
// one (after an expired watch) is diffed against memory so that changes missed meanwhile
// are acted on once.
func (c *controller) synced(ctx context.Context, scope watchScope, items []source) {
	seen := make(map[string]bool, len(items))
	for i := range items {
		seen[items[i].key()] = true
		c.reconcile(ctx, &items[i])
	}
	c.mu.Lock()
	for key := range c.state {
		if scope.covers(key) && !seen[key] {
			c.log.Debug("Forgetting object that is gone or no longer annotated", "object", key)
			delete(c.state, key)
		}
	}
	c.mu.Unlock()
	c.countOwed()
	if c.reloader != nil {
		c.reloader.synced(scope, items)
	}
	c.log.Info("Synced "+scope.String(), "annotated", len(items))
}

// reset forgets everything: a new leader rebuilds its state from a fresh list.
func (c *controller) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = map[string]objState{}
	if c.reloader != nil {
		c.reloader.reset()
	}
}

// changed handles one watch event.
func (c *controller) changed(ctx context.Context, eventType string, obj *source) {
	if c.reloader != nil {
		c.reloader.changed(eventType, obj)
	}
	if eventType == "DELETED" {
		c.mu.Lock()
		delete(c.state, obj.key())
		c.mu.Unlock()
		c.countOwed() // a deleted object owes nothing
		return
	}
	c.reconcile(ctx, obj)
}

// reconcile decides what obj's state calls for and does it.
func (c *controller) reconcile(ctx context.Context, obj *source) {
	if !c.leading() {
		return // the leader decides; a new leader starts from a fresh list
	}
	obs := c.observe(obj)
	c.mu.Lock()
	st, known := c.state[obs.key]
	if !obs.annotated && !known {
		c.mu.Unlock()
		return // the common case, kept cheap: an object cuscon has no business with
	}
	next, v := decide(st, known, obs, c.policy)
	if v.kind == forget {
		delete(c.state, obs.key)
	} else {
		c.state[obs.key] = next
	}
	c.mu.Unlock()
	c.carryOut(ctx, obs, next, v)
}

// observe reads what cuscon needs of obj: its annotations and its content hash.
func (c *controller) observe(obj *source) observation {
	a := obj.Metadata.Annotations
	sel, annotated := a[c.annotation]
	strategy, hasStrategy := a[strategyAnnotation]
	obs := observation{key: obj.key(), ref: obj.ref(), res: obj.Resource, annotated: annotated, selector: sel,
		strategy: strategy, hasStrategy: hasStrategy, hash: obj.Hash, recorded: objState{applied: a[hashAnnotation]}}
	if raw := a[owedAnnotation]; raw != "" {
		var owed owedWork
		if err := json.Unmarshal([]byte(raw), &owed); err == nil && owed.Hash != "" {
			owed.fromRecord = true
			obs.recorded.owed = &owed
		} // unreadable: nothing is known to be done, so everything is restarted again
	}
	return obs
}

// carryOut does what a verdict says.
func (c *controller) carryOut(ctx context.Context, obs observation, st objState, v verdict) {
	log := c.log.With("namespace", obs.ref.Namespace, kindField(obs.res), obs.ref.Name)
	switch v.kind {
	case forget:
		log.Debug("Annotation removed; forgetting object")
	case baseline:
		log.Debug("First sight of annotated object; baseline recorded, nothing restarted")
	case unchanged:
		log.Debug("Content unchanged; nothing to do")
	case alreadyPending:
		log.Debug("Restart for this content already scheduled")
	case stillOwed:
		log.Debug("Restart still owed; waiting for a retry, or for a new selector or strategy", "selector", obs.selector)
	case refuseSelector:
		msg := fmt.Sprintf("Could not restart pods matching %q: %v", obs.selector, v.err)
		log.Error(msg, "selector", obs.selector)
		c.events.warn(obs.ref, "InvalidSelector", msg)
		c.metrics.restarts.inc("strategy", obs.strategy, "result", "refused")
	case refuseStrategy:
		log.Error(v.err.Error(), "selector", obs.selector)
		c.events.warn(obs.ref, "InvalidStrategy", v.err.Error())
		c.metrics.restarts.inc("strategy", obs.strategy, "result", "refused")
	case restartAll, resumeOwed:
		why := "content changed"
		if v.kind == resumeOwed {
			why = "resuming an incomplete restart"
		}
		log.Info("Modification detected", "selector", obs.selector, "strategy", v.req.strategy, "reason", why)
		v.req.seen = time.Now()
		c.sched.add(v.req)
	}
	if v.record {
		c.record(ctx, log, obs.ref, obs.res, st)
	}
	if changesOwed(v.kind) {
		c.countOwed() // O(objects): not for the events that change nothing owed
	}
}

// changesOwed reports whether a verdict can change what is owed: a refusal, a restart
// (which supersedes what was owed), content back to what was applied, or forgetting.
func changesOwed(k verdictKind) bool {
	return k == refuseSelector || k == refuseStrategy || k == restartAll || k == resumeOwed || k == unchanged || k == forget
}

// finished is told by the executor how a request ended. A complete restart is recorded;
// an incomplete one is recorded as owed and tried again later.
func (c *controller) finished(ctx context.Context, res result) {
	if res.req.workload != nil {
		c.reloader.finished(ctx, res)
		return
	}
	c.mu.Lock()
	st, known := c.state[res.req.key]
	if known {
		st = settle(st, res)
		c.state[res.req.key] = st
	}
	c.mu.Unlock()
	c.countOwed()
	if !known || res.refused != nil || res.dropped || st.pending != "" {
		return
	}
	log := c.log.With("namespace", res.req.src.Namespace, kindField(res.req.res), res.req.src.Name)
	c.record(ctx, log, res.req.src, res.req.res, st)
	if st.owed != nil {
		d := retryDelay(st.owed.tries, c.retry)
		log.Warn("Restart incomplete; retrying the pods left later", "owed", owedCount(st.owed), "retryIn", d.String())
		time.AfterFunc(d, func() { c.retryOwed(res.req.key, st.owed.Hash) })
	}
}

// retryOwed schedules another round for the pods an object still owes, unless a newer
// change, a completed round, a refused new selector or strategy, or a lost leadership
// made it moot. A selector or strategy changed since goes through decide instead.
func (c *controller) retryOwed(key, hash string) {
	if !c.leading() {
		return
	}
	c.mu.Lock()
	st, ok := c.state[key]
	if !ok || st.owed == nil || st.owed.Hash != hash || st.pending != "" || st.refused != "" {
		c.mu.Unlock()
		return
	}
	st.pending = hash
	c.state[key] = st
	req := st.owed.req
	req.only, req.seen = nil, time.Now()
	if !st.owed.All {
		req.only = st.owed.Pods
	}
	c.mu.Unlock()
	c.sched.add(req)
}

// record writes the object's state into its annotations, if state is recorded: the hash
// applied in full and, while a restart is incomplete, what it still owes. The write comes
// back as a MODIFIED event with unchanged content, which restarts nothing. An object
// whose annotations are near the API's bound (a tenant may pad them) may refuse a long
// list of owed pods: the record then says "all are owed", which always fits where the
// hash did; if even that is refused, an Event says that a restart of cuscon may restart
// its pods again.
func (c *controller) record(ctx context.Context, log *slog.Logger, ref objectRef, res resource, st objState) {
	if !c.policy.recordState {
		return
	}
	err := c.patchRecord(ctx, ref, res, st)
	if errorCode(err) == http.StatusUnprocessableEntity && st.owed != nil && !st.owed.All {
		owed := *st.owed
		owed.All, owed.Pods = true, nil
		st.owed = &owed
		err = c.patchRecord(ctx, ref, res, st)
	}
	switch {
	case errorCode(err) == http.StatusUnprocessableEntity:
		msg := fmt.Sprintf("Could not record what was applied: %v; a restart of cuscon may restart these pods again", err)
		log.Warn(msg)
		c.events.warn(ref, "RecordRefused", msg)
	case err != nil:
		log.Warn("Could not record applied content hash (needs patch on "+res.Plural+", or run with --state=memory)", "err", err)
	}
}

// patchRecord sends the record of st as one merge patch of the object's annotations.
func (c *controller) patchRecord(ctx context.Context, ref objectRef, res resource, st objState) error {
	annotations := map[string]any{hashAnnotation: st.applied, owedAnnotation: nil}
	if st.owed != nil {
		owed := *st.owed
		if len(owed.Pods) > maxRecordedPods {
			owed.All, owed.Pods = true, nil
		}
		b, _ := json.Marshal(owed)
		annotations[owedAnnotation] = string(b)
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": annotations}}
	return c.api.call(ctx, http.MethodPatch, objectPath(res, ref.Namespace, ref.Name), dryRunQuery(c.dryRun), "application/merge-patch+json", patch, nil)
}

// countOwed sets the gauges of what is owed: objects refused or incomplete, and pods.
func (c *controller) countOwed() {
	c.mu.Lock()
	objects, pods := 0, 0
	for _, st := range c.state {
		if st.refused != "" || st.owed != nil {
			objects++
		}
		pods += owedCount(st.owed)
	}
	c.mu.Unlock()
	c.metrics.restartsOwed.set(float64(objects))
	c.metrics.podsOwed.set(float64(pods))
}

// owedCount is how many pods w names (0 for "all": they are not known).
func owedCount(w *owedWork) int {
	if w == nil {
		return 0
	}
	return len(w.Pods)
}

// kindField is the log field naming an object of res: configmap or secret.
func kindField(res resource) string {
	if res == secrets {
		return "secret"
	}
	return "configmap"
}
