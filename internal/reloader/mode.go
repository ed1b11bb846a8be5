// Package reloader is the Reloader mode (--reloader-annotations): Deployments,
// StatefulSets and DaemonSets that opted in with stakater/Reloader's annotations are
// restarted when, and only when, a key of a ConfigMap or Secret they use changed — once,
// across cuscon's restarts, since what each was restarted for is recorded on it. It is
// told of every object by the watchers main fans events out to, keeps digests, never
// data, and lists workloads from the API server's watch cache only when something
// changed. Restarts go to the restart package; the article's controller is not its
// business.
package reloader

import (
	"cmp"
	"context"
	"log/slog"
	"strings"
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
	// legacySweeps are the namespaces still to be swept with the digest key before
	// records made before keying can no longer be around (see legacy).
	legacySweeps map[string]bool

	// key is the digest key of Secrets; nil until it could be read (SetKey).
	key atomic.Pointer[[]byte]
	// legacy: Secrets are also digested as records made before keying hold them, until
	// every namespace has been swept with the key and each such record rewritten.
	legacy atomic.Bool
}

// nsWork is what a namespace's workloads must be checked against: everything (sweep),
// or the objects changed since the last check, with what they were before (nil: absent).
type nsWork struct {
	sweep   bool
	changed map[string]*digests
}

// New returns the mode: it lists workloads and rolls them through c, sends the restarts
// of delete and evict to sched, and asks guard what it must leave alone; it acts only
// while leading says so.
func New(c *kube.Client, cfg Config, sched *restart.Scheduler, guard func(context.Context, string) (restart.Guard, error), leading func() bool,
	events *kube.EventRecorder, m *telemetry.Metrics, log *slog.Logger) *Mode {
	r := &Mode{client: c, log: log, sched: sched, events: events, metrics: m, leading: leading, guard: guard, cfg: cfg,
		retry: cmp.Or(cfg.Retry, backoff.Policy{Initial: time.Second, Max: time.Minute}), wake: make(chan struct{}, 1),
		lists: newListCache(), checks: make(chan struct{}, 4),
		index: map[string]nsObjects{}, listed: map[kube.Scope]bool{}, work: map[string]*nsWork{}, running: map[string]bool{},
		pending: map[string]string{}, tries: map[string]int{}, refused: map[string]string{},
		retries: map[string]int{}, legacySweeps: map[string]bool{}}
	if cfg.Key != nil {
		r.key.Store(&cfg.Key)
	}
	r.legacy.Store(true)
	return r
}

// SetKey gives the mode the digest key of Secrets, read late (LoadKey failed at start):
// the Secrets must then be listed again, for their digests to be made.
func (r *Mode) SetKey(key []byte) { r.key.Store(&key) }

// Reset forgets everything: a new leader starts from a fresh list.
func (r *Mode) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.index, r.listed, r.work, r.pending = map[string]nsObjects{}, map[kube.Scope]bool{}, map[string]*nsWork{}, map[string]string{}
}

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
			if full := plural + "/" + ns + "/" + name; scope.Covers(full) && !seen[full] {
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
		w = &nsWork{changed: map[string]*digests{}}
		r.work[ns] = w
	}
	return w
}

// Changed takes one watch event. A change of content has its namespace's workloads
// checked; a change of metadata only does not.
func (r *Mode) Changed(eventType string, s Seen) {
	key := s.key()
	info := s.info
	r.mu.Lock()
	var prev sourceInfo
	var had bool
	if eventType == "DELETED" {
		prev, had = r.putLocked(s, nil)
		info = sourceInfo{}
	} else {
		prev, had = r.putLocked(s, &info)
	}
	if !r.allSyncedLocked() || (had && prev.d != nil && info.d != nil && prev.d.full == info.d.full) {
		r.mu.Unlock()
		return
	}
	w := r.workLocked(s.namespace)
	if _, ok := w.changed[key]; !ok {
		w.changed[key] = prev.d // the oldest content since the last check
	}
	r.mu.Unlock()
	r.poke()
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
	defer wg.Wait()
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
	if !r.leading() {
		return // a new leader lists everything again
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
		for k, d := range w.changed {
			if _, ok := into.changed[k]; !ok {
				into.changed[k] = d
			}
		}
		r.mu.Unlock()
		r.poke()
	})
}

// hasReloaderAnnotation is a quick filter: whether w or its template carries any.
func hasReloaderAnnotation(w *workloadObj) bool {
	for _, a := range []map[string]string{w.Metadata.Annotations, w.Spec.Template.Metadata.Annotations} {
		for k := range a {
			if strings.Contains(k, "reloader.stakater.com/") {
				return true
			}
		}
	}
	return false
}
