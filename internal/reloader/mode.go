// Package reloader is the Reloader mode (--reloader-annotations): workloads that opted
// in with stakater/Reloader's annotations — Deployments, StatefulSets, DaemonSets, Argo
// Rollouts, CronJobs and Jobs — are restarted as Reloader restarts them (its markers, its
// flags, its alerts) when, and only when, a key of a ConfigMap or Secret they use
// changed: once, across cuscon's restarts, since what each was restarted for is recorded
// on it. It is told of every object by the watchers main fans events out to, keeps
// digests, never data, and lists workloads only when something changed. When and how
// fast restarts run is the restart package's; what they write is this package's; the
// article's controller is not its business.
package reloader

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/restart"
	"cuscon/internal/telemetry"
)

// Config is what the mode is told.
type Config struct {
	// Scopes are what is watched; every scope must be listed before the first sweep.
	Scopes []kube.Scope
	// Key is the digest key of Secrets (LoadKey); nil when Secrets are not watched.
	Key []byte
	// Overrides are the strategies a workload's strategy annotation may choose instead of
	// rollout.
	Overrides []string
	DryRun    bool
	// Retry paces the rounds of pods a restart left (default 1 s doubling to a minute).
	Retry backoff.Policy
	// Options are Reloader's flags.
	Options Options
	// LabelSelector is the watches' label selector, if any: an object that stops
	// matching it is seen deleted, which the mode asks the API about.
	LabelSelector string
	// WaveTimeout is how long a wave may take to get healthy again before the later
	// waves are held, unless an annotation says otherwise (default 10 minutes).
	WaveTimeout time.Duration
	// Window is the maintenance window of workloads that name none (package window);
	// empty: restarts run whenever a change calls for them.
	Window string
	// Notify is told of each workload restarted and, with --webhook-url, of each change
	// instead (Reloader's alerts and webhook); nil: nobody.
	Notify Notifier
}

// Notifier is told what Reloader's alerts and webhook report (the alert package).
type Notifier interface {
	// Reloaded: objectType (CONFIGMAP or SECRET) object of namespace restarted the
	// workload of kind.
	Reloaded(objectType, object, namespace, kind, workload string)
	// Changed: with --webhook-url, an object's content changed (nothing is restarted).
	Changed(objectType, object, namespace string)
}

// Mode is the Reloader mode: what it knows of each ConfigMap and Secret (digests, never
// data), and the work it owes.
type Mode struct {
	client  *kube.Client
	log     *slog.Logger
	sched   *restart.Scheduler
	events  *kube.EventRecorder
	metrics *telemetry.Metrics
	leading func() bool
	// guard says what must be left alone in a namespace: cuscon's own workload is never
	// restarted.
	guard func(context.Context, string) (restart.Guard, error)
	cfg   Config
	rules rules
	kinds []string // the workload kinds restarted
	retry backoff.Policy
	wake  chan struct{}
	lists *listCache
	// checks bounds the namespaces checked at once; each namespace is checked by one
	// goroutine at a time, so one tenant's costly check holds up no other namespace.
	checks chan struct{}

	mu      sync.Mutex
	index   map[string]nsObjects // by namespace
	listed  map[kube.Scope]bool
	work    map[string]*nsWork // by namespace; "" for all
	running map[string]bool    // namespaces being checked
	pending map[string]string  // workload key → the view its restart under way will record
	tries   map[string]int     // workload key → rounds that left pods owed
	refused map[string]string  // workload → the refusal last reported
	retries map[string]int     // namespace → checks retried in a row, to back off by
	// gone are the objects (plural/namespace/name) the API confirmed deleted after they
	// were absent from a list under a label selector (see awaitGone).
	gone map[string]bool
	// filter is what --namespaces-to-ignore and --namespace-selector leave in scope.
	filter nsFilter
	// pauses are the timers that resume Deployments paused for a pause-period.
	pauses map[string]*time.Timer
	// skipped are what could not be done for want of a right, reported once each.
	skipped map[string]string
	// legacySweeps are the namespaces still to be swept with the digest key before
	// records made before keying can no longer be around (see legacy).
	legacySweeps map[string]bool
	// The gates' bookkeeping (holds.go), by workload key: the restarts not run now, and
	// since when each workload of an earlier wave has been waited for; by namespace, the
	// checks to come. windows parses each distinct window once.
	held     map[string]heldState
	waited   map[string]time.Time
	rechecks map[string]*recheck
	windows  *windowCache

	// key is the digest key of Secrets; nil until it could be read (SetKey).
	key atomic.Pointer[[]byte]
	// legacy: Secrets are also digested as records made before keying hold them, until
	// every namespace has been swept with the key and each such record rewritten.
	legacy atomic.Bool
}

// nsWork is what a namespace's workloads must be checked against: everything (sweep),
// or the objects changed since the last check, with what they were before; recheck:
// every workload again, for what a gate or a window held.
type nsWork struct {
	sweep   bool
	recheck bool
	changed map[string]*change
}

// change is what one object was before the changes a check is for: was (nil: absent);
// and, when it was absent, first: its content when it was created, if it changed again
// before the check (a workload first seen then is compared with that).
type change struct{ was, first *digests }

// New returns the mode: it lists workloads and rolls them through c, sends the restarts
// of delete and evict to sched, and asks guard what it must leave alone; it acts only
// while leading says so.
func New(c *kube.Client, cfg Config, sched *restart.Scheduler, guard func(context.Context, string) (restart.Guard, error), leading func() bool,
	events *kube.EventRecorder, m *telemetry.Metrics, log *slog.Logger) *Mode {
	cfg.Options.Strategy = cmp.Or(cfg.Options.Strategy, StrategyEnvVars)
	r := &Mode{client: c, log: log, sched: sched, events: events, metrics: m, leading: leading, guard: guard, cfg: cfg,
		rules: cfg.Options.rules(), kinds: cfg.Options.kinds(), filter: newNSFilter(cfg.Options), pauses: map[string]*time.Timer{},
		skipped: map[string]string{},
		retry:   cmp.Or(cfg.Retry, backoff.Policy{Initial: time.Second, Max: time.Minute}), wake: make(chan struct{}, 1),
		lists: newListCache(), checks: make(chan struct{}, 4),
		index: map[string]nsObjects{}, listed: map[kube.Scope]bool{}, work: map[string]*nsWork{}, running: map[string]bool{},
		pending: map[string]string{}, tries: map[string]int{}, refused: map[string]string{}, gone: map[string]bool{},
		retries: map[string]int{}, legacySweeps: map[string]bool{},
		held: map[string]heldState{}, waited: map[string]time.Time{}, rechecks: map[string]*recheck{}, windows: newWindowCache()}
	r.cfg.WaveTimeout = cmp.Or(r.cfg.WaveTimeout, 10*time.Minute)
	if cfg.Key != nil {
		r.key.Store(&cfg.Key)
	}
	for _, ok := range []string{"true", "false"} {
		m.ReloaderReloads.Add(0, "success", ok) // as Reloader, both series from the start
	}
	r.legacy.Store(true)
	return r
}

// SetKey gives the mode the digest key of Secrets, read late (LoadKey failed at start):
// the Secrets must then be listed again, for their digests to be made.
func (r *Mode) SetKey(key []byte) { r.key.Store(&key) }

// HasKey reports whether the mode has a digest key of Secrets.
func (r *Mode) HasKey() bool { return r.key.Load() != nil }

// Reset forgets everything: a new leader starts from a fresh list.
func (r *Mode) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.index, r.listed, r.work, r.pending = map[string]nsObjects{}, map[kube.Scope]bool{}, map[string]*nsWork{}, map[string]string{}
	r.gone = map[string]bool{}
	r.held, r.waited = map[string]heldState{}, map[string]time.Time{}
	r.countHeldLocked() // a follower reports nothing deferred
}

// poke wakes CheckWorkloads.
func (r *Mode) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// CheckWorkloads checks workloads whenever there is work, until ctx ends: each
// namespace's in a goroutine of its own, at most one at a time per namespace and a few
// at once in all.
func (r *Mode) CheckWorkloads(ctx context.Context) {
	var wg sync.WaitGroup
	defer r.stopRechecks() // after every check ended: none arms a timer after it
	defer wg.Wait()
	defer r.stopPauses()
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
func (r *Mode) checkNamespace(ctx context.Context, ns string, w *nsWork) {
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
	if !r.leading() || r.cfg.Options.WebhookURL != "" {
		return // a new leader lists everything again; with --webhook-url no workload is touched
	}
	err := r.check(ctx, ns, w)
	if err == nil {
		r.mu.Lock()
		delete(r.retries, ns)
		if w.sweep {
			delete(r.legacySweeps, ns)
			if len(r.legacySweeps) == 0 && r.key.Load() != nil && r.allSyncedLocked() && r.legacy.Swap(false) {
				r.dropLegacyLocked()
			}
		}
		r.mu.Unlock()
	}
	if err != nil && ctx.Err() == nil {
		r.log.Warn("Could not check workloads, retrying", "namespace", ns, "err", err)
		r.requeue(ns, w)
	}
}

// requeue puts work back to be tried again after a pause.
func (r *Mode) requeue(ns string, w *nsWork) {
	r.mu.Lock()
	r.retries[ns]++
	d := r.retry.Nth(r.retries[ns])
	r.mu.Unlock()
	time.AfterFunc(d, func() {
		r.mu.Lock()
		into := r.workLocked(ns)
		into.sweep = into.sweep || w.sweep
		into.recheck = into.recheck || w.recheck
		for k, c := range w.changed {
			if later, ok := into.changed[k]; !ok {
				into.changed[k] = c
			} else {
				*later = *c // what it was before the older work
			}
		}
		r.mu.Unlock()
		r.poke()
	})
}
