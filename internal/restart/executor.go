// executor.go carries out a batch of restart requests from one namespace: it lists the
// pods each selector matches, restarts each matching pod once however many requests
// match it, by the request's strategy, and reports each request's end in the log, in
// Events, in metrics and to its Done.

package restart

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/lease"
	"cuscon/internal/telemetry"
)

// Options are what an executor is told; the zero value of each is the default.
type Options struct {
	DryRun bool
	// MaxUnavailable paces delete and evict: that many pods at a time, each group
	// waiting for replacements to be Ready (0: all at once).
	MaxUnavailable int
	// Parallel bounds the DELETEs or evictions in flight at once (default 64: every pod
	// of a change at once, as a user deleting them would; the rate limit, not this,
	// paces a large change).
	Parallel int
	// ReadyTimeout bounds each wait for replacements; EvictTimeout bounds retrying
	// evictions that a PodDisruptionBudget blocks.
	ReadyTimeout, EvictTimeout time.Duration
	// PollInterval is how often readiness is checked while pacing (default 1 s).
	PollInterval time.Duration
	// Backoff paces the retries of a request that may pass (default backoff.Default).
	Backoff backoff.Policy
	// RateLimit is at most how many actions (a pod, a workload) a minute (0: no limit).
	RateLimit int
}

// Executor restarts pods. Lanes of the scheduler call it concurrently.
type Executor struct {
	client  *kube.Client
	pods    Pods
	events  *kube.EventRecorder
	metrics *telemetry.Metrics
	log     *slog.Logger
	limiter *RateLimiter
	opts    Options
	// lease says until when this replica may act; see lease.Elector.ActingUntil. A zero
	// time: always (no election).
	lease func() time.Time
}

// NewExecutor returns an executor that rolls workloads through c and restarts pods
// through pods, reporting in events (nil: none), metrics and log, acting while lease
// says it may.
func NewExecutor(c *kube.Client, pods Pods, opts Options, leaseUntil func() time.Time,
	events *kube.EventRecorder, m *telemetry.Metrics, log *slog.Logger) *Executor {
	if opts.Parallel <= 0 {
		opts.Parallel = 64
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Second
	}
	if opts.Backoff == (backoff.Policy{}) {
		opts.Backoff = backoff.Default
	}
	return &Executor{client: c, pods: pods, events: events, metrics: m, log: log, limiter: NewRateLimiter(opts.RateLimit),
		opts: opts, lease: leaseUntil}
}

// Lifetime is one batch's contexts: waits end with Wait (shutdown began); requests carry
// Send, which outlives Wait by the shutdown grace and ends when this replica may not act.
type Lifetime struct {
	Wait, Send context.Context
}

// job is one request being carried out, with its own log and what went wrong.
type job struct {
	req      Request
	log      *slog.Logger
	refused  bool
	matched  int
	problems []string
	rolled   []string
}

// target is a pod to restart, the jobs whose selectors matched it, and how it went.
type target struct {
	pod     kube.Pod
	jobs    []*job
	skipped bool
	done    bool   // restarted, gone, replaced, or rolled
	problem string // why it was not restarted, when it is owed
}

// Batches returns what the scheduler hands each batch to (Scheduler.ServeLanes):
// RestartBatch within app.
func (e *Executor) Batches(app Lifetime) func([]Request) {
	return func(batch []Request) { e.RestartBatch(app, batch) }
}

// RestartBatch carries out a batch, grouped by strategy; each group's pods are
// restarted once. app is the app's lifetime: its Send outlives shutdown by one grace for
// the whole app.
func (e *Executor) RestartBatch(app Lifetime, batch []Request) {
	if !e.acting() {
		e.log.Info("Not the leader; leaving restarts to the leader", "requests", len(batch))
		for _, req := range batch {
			req.Done(app.Send, Result{Dropped: true})
		}
		return
	}
	send, stop := lease.WhileActing(app.Send, e.lease)
	defer stop()
	lt := Lifetime{Wait: app.Wait, Send: send}
	var order []string
	groups := map[string][]*job{}
	for _, req := range batch {
		if req.Roll != nil && (req.Strategy == "rollout" || req.Roll.Apply != nil) {
			e.rollDirectly(lt, req) // needs no pod list
			continue
		}
		if _, ok := groups[req.Strategy]; !ok {
			order = append(order, req.Strategy)
		}
		groups[req.Strategy] = append(groups[req.Strategy], &job{req: req, log: e.requestLog(req)})
	}
	for _, strategy := range order {
		e.restartGroup(lt, strategy, groups[strategy])
	}
}

// requestLog is the log of one request: the object (configmap=NAME or secret=NAME), its
// selector and strategy.
func (e *Executor) requestLog(req Request) *slog.Logger {
	return e.log.With("namespace", req.Object.Namespace, strings.ToLower(req.Object.Kind), req.Object.Name,
		"selector", req.Selector, "strategy", req.Strategy)
}

// acting reports whether this replica may act now.
func (e *Executor) acting() bool {
	until := e.lease()
	return until.IsZero() || time.Now().Before(until)
}

// restartGroup restarts the pods of jobs sharing a strategy, and reports each job's end.
func (e *Executor) restartGroup(lt Lifetime, strategy string, jobs []*job) {
	guard, err := e.pods.Guard(lt.Send, jobs[0].req.Object.Namespace)
	if err != nil { // cuscon's own pods cannot be told apart yet: nothing is restarted
		for _, j := range jobs {
			j.log.Warn("Could not restart pods yet", "err", err)
			j.problems = append(j.problems, err.Error())
			j.req.Done(lt.Send, e.report(j, nil))
		}
		return
	}
	targets := e.collect(lt, jobs)
	var todo []*target
	for _, t := range targets {
		if why := guard.Skip(&t.pod); why != "" {
			t.jobs[0].log.Info(fmt.Sprintf("Skipping %s: %s", t.pod.Metadata.Name, why), "pod", t.pod.Metadata.Name)
			t.skipped = true
			continue
		}
		todo = append(todo, t)
	}
	if strategy == "rollout" {
		todo = e.rollout(lt, guard, todo)
		strategy = "delete" // what rollout could not roll is deleted
	}
	e.replace(lt, strategy, jobs, todo)
	for _, j := range jobs {
		if !j.refused {
			j.req.Done(lt.Send, e.report(j, targets))
		}
	}
}

// collect lists each job's pods, concurrently, and merges them, each pod once. A job
// restricted to owed pods keeps only those: the others were created since the change.
func (e *Executor) collect(lt Lifetime, jobs []*job) []*target {
	lists := make([][]kube.Pod, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); lists[i] = e.listJob(lt, j) }()
	}
	wg.Wait()
	var targets []*target
	byUID := map[string]*target{}
	for i, j := range jobs {
		for _, p := range lists[i] {
			if j.req.Only != nil && !slices.Contains(j.req.Only, p.Metadata.UID) {
				continue
			}
			j.matched++
			if t, ok := byUID[p.Metadata.UID]; ok {
				t.jobs = append(t.jobs, j)
				continue
			}
			t := &target{pod: p, jobs: []*job{j}}
			byUID[p.Metadata.UID] = t
			targets = append(targets, t)
		}
	}
	return targets
}

// listJob lists j's pods, retrying a transient failure twice. A selector the API
// refuses (400) ends the job as refused; pods that could not be listed stay owed, and
// the caller tries again later.
func (e *Executor) listJob(lt Lifetime, j *job) []kube.Pod {
	bo := e.opts.Backoff.Start()
	for attempt := 1; ; attempt++ {
		pods, err := e.pods.Find(lt.Send, j.req.Object.Namespace, j.req.Selector)
		if err == nil {
			return pods
		}
		if kube.Code(err) == http.StatusBadRequest {
			msg := fmt.Sprintf("Could not restart pods matching %q: %v", j.req.Selector, err)
			j.log.Error(msg, "err", err)
			e.events.Warn(j.req.Object, "InvalidSelector", msg)
			e.metrics.Restarts.Inc("strategy", j.req.Strategy, "result", "refused")
			j.refused = true
			j.req.Done(lt.Send, Result{Refused: err})
			return nil
		}
		j.log.Warn("Could not list pods, retrying", "err", err)
		if attempt == 3 || !kube.IsTransient(err) || !bo.Wait(lt.Wait) {
			j.problems = append(j.problems, fmt.Sprintf("could not list pods: %v", err))
			return nil
		}
	}
}
