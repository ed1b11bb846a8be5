// controller.go carries the decision (decide.go) out. Watchers of several namespaces and
// kinds call it concurrently; under its lock it only looks up, decides and stores. After
// unlocking it logs, posts Events, sends restarts to the scheduler, records on the object
// what was applied and what is still owed, and retries owed pods with capped backoff.

package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/restart"
	"cuscon/internal/telemetry"
)

// controller turns observed objects into restarts and remembers what it applied.
type controller struct {
	client  *kube.Client
	log     *slog.Logger
	policy  policy
	dryRun  bool // every write is sent with dryRun=All
	events  *kube.EventRecorder
	sched   scheduler
	metrics *telemetry.Metrics
	// leading says whether this replica may act; a follower decides nothing.
	leading func() bool
	// retry paces the rounds of owed pods.
	retry backoff.Policy

	mu sync.Mutex
	// state maps the key of each annotated object to what cuscon knows of it.
	state map[string]objState
	// deferred are the objects whose restart waits for a window: the latest observation
	// of each (the content applied when it opens), and the timer that opens it.
	deferred map[string]deferral
}

// deferral is a restart waiting for its window.
type deferral struct {
	obs   observation
	timer *time.Timer
}

// scheduler takes the restarts the controller asks for (restart.Scheduler).
type scheduler interface{ Add(restart.Request) }

// newController returns a controller deciding by p, sending restarts to sched, acting
// while leading says so; owed pods are retried by retry (zero: 1 s doubling to a
// minute).
func newController(c *kube.Client, p policy, dryRun bool, sched scheduler, leading func() bool,
	events *kube.EventRecorder, m *telemetry.Metrics, log *slog.Logger, retry backoff.Policy) *controller {
	return &controller{client: c, log: log, policy: p, dryRun: dryRun, events: events, sched: sched, metrics: m,
		leading: leading, retry: cmp.Or(retry, backoff.Policy{Initial: time.Second, Max: time.Minute}), state: map[string]objState{},
		deferred: map[string]deferral{}}
}

// synced handles a complete list of one scope: the first one is the baseline
// (restarting only what the recorded hashes say changed while cuscon was away); a later
// one (after an expired watch) is diffed against memory so that changes missed meanwhile
// are acted on once.
func (c *controller) synced(ctx context.Context, scope kube.Scope, items []observation) {
	seen := make(map[string]bool, len(items))
	annotated := 0
	for _, obs := range items {
		seen[obs.key] = true
		c.reconcile(ctx, obs)
		if obs.annotated {
			annotated++
		}
	}
	c.mu.Lock()
	for key := range c.state {
		if scope.Covers(key) && !seen[key] {
			c.log.Debug("Forgetting object that is gone or no longer annotated", "object", key)
			delete(c.state, key)
			c.undeferLocked(key)
		}
	}
	c.mu.Unlock()
	c.countOwed()
	c.log.Info("Synced "+scope.String(), "annotated", annotated)
}

// reset forgets everything: a new leader rebuilds its state from a fresh list.
func (c *controller) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = map[string]objState{}
	for key := range c.deferred {
		c.undeferLocked(key)
	}
}

// changed handles one watch event.
func (c *controller) changed(ctx context.Context, eventType string, obs observation) {
	if eventType == "DELETED" {
		c.mu.Lock()
		delete(c.state, obs.key)
		c.undeferLocked(obs.key)
		c.mu.Unlock()
		c.countOwed() // a deleted object owes nothing
		return
	}
	c.reconcile(ctx, obs)
}

// reconcile decides what the state of the object observed calls for and does it.
func (c *controller) reconcile(ctx context.Context, obs observation) {
	if !c.leading() {
		return // the leader decides; a new leader starts from a fresh list
	}
	if obs.at.IsZero() {
		obs.at = time.Now()
	}
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
	if v.kind != deferToWindow {
		c.undeferLocked(obs.key) // decided otherwise since: the window's opening has nothing to do
	}
	c.mu.Unlock()
	c.carryOut(ctx, obs, next, v)
}

// logOf is the log of one object: its namespace, and configmap=NAME or secret=NAME.
func (c *controller) logOf(ref kube.ObjectRef) *slog.Logger {
	return c.log.With("namespace", ref.Namespace, strings.ToLower(ref.Kind), ref.Name)
}

// carryOut does what a verdict says.
func (c *controller) carryOut(ctx context.Context, obs observation, st objState, v verdict) {
	log := c.logOf(obs.ref)
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
		c.events.Warn(obs.ref, "InvalidSelector", msg)
		c.metrics.Restarts.Inc("strategy", obs.strategy, "result", "refused")
	case refuseStrategy, refuseWindow:
		log.Error(v.err.Error(), "selector", obs.selector)
		c.events.Warn(obs.ref, map[verdictKind]string{refuseStrategy: "InvalidStrategy", refuseWindow: "InvalidWindow"}[v.kind], v.err.Error())
		c.metrics.Restarts.Inc("strategy", obs.strategy, "result", "refused")
	case deferToWindow:
		if !v.quiet {
			msg := fmt.Sprintf("Restart of pods matching %s deferred to the maintenance window, which opens at %s: content changed", obs.selector, v.opens.UTC().Format(time.RFC3339))
			log.Info(msg, "selector", obs.selector)
			c.events.Normal(obs.ref, "RestartDeferred", msg)
		}
		c.deferUntil(ctx, obs, v.opens)
	case restartAll, resumeOwed:
		why := "content changed"
		if v.kind == resumeOwed {
			why = "resuming an incomplete restart"
		}
		log.Info("Modification detected", "selector", obs.selector, "strategy", v.order.Strategy, "reason", why)
		c.send(v.order)
	}
	if v.record {
		c.record(ctx, log, obs.ref, st)
	}
	if changesOwed(v.kind) {
		c.countOwed() // O(objects): not for the events that change nothing owed
	}
}

// changesOwed reports whether a verdict can change what is owed: a refusal, a restart
// (which supersedes what was owed), content back to what was applied, or forgetting.
func changesOwed(k verdictKind) bool {
	return k == refuseSelector || k == refuseStrategy || k == refuseWindow || k == deferToWindow || k == restartAll || k == resumeOwed ||
		k == unchanged || k == forget
}

// undeferLocked forgets the deferral of key, if any; mu must be held.
func (c *controller) undeferLocked(key string) {
	if d, ok := c.deferred[key]; ok {
		d.timer.Stop()
		delete(c.deferred, key)
	}
}

// deferUntil has obs's object decided again when its window opens, with the latest
// observation of it: a newer change replaces this one, so the content applied is the
// one of then.
func (c *controller) deferUntil(ctx context.Context, obs observation, opens time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.deferred[obs.key]; ok {
		d.timer.Stop()
	}
	key := obs.key
	d := deferral{obs: obs}
	d.timer = time.AfterFunc(max(time.Until(opens), 0)+time.Second, func() {
		c.mu.Lock()
		latest, ok := c.deferred[key]
		_, known := c.state[key]
		if ok && latest.timer != d.timer {
			ok = false // replaced meanwhile; its own timer decides
		} else {
			delete(c.deferred, key)
		}
		c.mu.Unlock()
		if ok && known && ctx.Err() == nil {
			latest.obs.at = time.Time{}
			c.reconcile(ctx, latest.obs)
		}
	})
	c.deferred[key] = d
}

// send hands o to the scheduler, to be told of its end.
func (c *controller) send(o order) {
	o.Seen = time.Now()
	o.Done = func(ctx context.Context, res restart.Result) { c.finished(ctx, o, res) }
	c.sched.Add(o.Request)
}

// finished is told how an order ended. A complete restart is recorded; an incomplete
// one is recorded as owed and tried again later.
func (c *controller) finished(ctx context.Context, o order, res restart.Result) {
	c.mu.Lock()
	st, known := c.state[o.Key]
	if known {
		st = settle(st, o, res)
		c.state[o.Key] = st
	}
	c.mu.Unlock()
	c.countOwed()
	if !known || res.Refused != nil || res.Dropped || st.pending != "" {
		return
	}
	log := c.logOf(o.Object)
	c.record(ctx, log, o.Object, st)
	if st.owed != nil {
		d := retryDelay(st.owed.tries, c.retry)
		log.Warn("Restart incomplete; retrying the pods left later", "owed", st.owed.Count(), "retryIn", d.String())
		time.AfterFunc(d, func() { c.retryOwed(o.Key, st.owed.Hash) })
	}
}
