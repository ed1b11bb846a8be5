// restart.go carries out restart requests, a batch at a time: it lists the pods each
// selector matches, restarts each matching pod once however many requests match it, by
// the request's strategy (delete, evict or rollout), paced and rate limited, and reports
// the outcome in the log, in Events, and back to the controller.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// executor restarts pods. It runs on the scheduler's goroutine only.
type executor struct {
	api     *apiClient
	log     *slog.Logger
	events  *eventRecorder
	limiter *rateLimiter
	dryRun  bool
	// deleteUnowned also deletes pods with no controlling owner, which nothing recreates.
	deleteUnowned bool
	// maxUnavailable paces delete and evict: that many pods at a time, each group waiting
	// for replacements to be Ready (0: all at once).
	maxUnavailable int
	// readyTimeout bounds each wait for replacements; evictTimeout bounds retrying
	// evictions that a PodDisruptionBudget blocks.
	readyTimeout, evictTimeout time.Duration
	// pollInterval is how often readiness is checked while pacing.
	pollInterval time.Duration
	// grace is how long requests under way may go on once shutdown begins.
	grace   time.Duration
	backoff backoffPolicy
	// done reports each request's end to the controller.
	done    func(ctx context.Context, req restartRequest, ok bool)
	metrics *metrics
	// leading says whether this replica may act; a batch is dropped when it may not.
	leading func() bool
}

// job is one request being carried out, with its own log and counts.
type job struct {
	req                                 restartRequest
	log                                 *slog.Logger
	refused                             bool
	matched, restarted, skipped, failed int
	workloads                           []string
	problems                            []string
}

// target is a pod to restart and the jobs whose selectors matched it.
type target struct {
	pod  pod
	jobs []*job
}

// count adds one outcome to every job that matched t.
func (t *target) count(field func(*job) *int) {
	for _, j := range t.jobs {
		*field(j)++
	}
}

// run carries out a batch: requests are grouped by namespace and strategy, and each
// group's pods are restarted once.
func (e *executor) run(ctx context.Context, batch []restartRequest) {
	if e.leading != nil && !e.leading() {
		e.log.Info("Not the leader; leaving restarts to the leader", "requests", len(batch))
		return
	}
	act, cancel := afterShutdown(ctx, e.grace)
	defer cancel()
	type groupKey struct{ ns, strategy string }
	var order []groupKey
	groups := map[groupKey][]*job{}
	for _, req := range batch {
		k := groupKey{req.src.Namespace, req.strategy}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		log := e.log.With("namespace", req.src.Namespace, kindField(req.res), req.src.Name, "selector", req.selector, "strategy", req.strategy)
		groups[k] = append(groups[k], &job{req: req, log: log})
	}
	for _, k := range order {
		e.runGroup(ctx, act, k.strategy, groups[k])
	}
}

// runGroup restarts the pods of jobs sharing a namespace and strategy.
func (e *executor) runGroup(ctx, act context.Context, strategy string, jobs []*job) {
	targets := e.collect(ctx, act, jobs)
	var todo []*target
	for _, t := range targets {
		if why := e.skipReason(&t.pod); why != "" {
			t.jobs[0].log.Info(fmt.Sprintf("Skipping %s: %s", t.pod.Metadata.Name, why), "pod", t.pod.Metadata.Name)
			t.count(func(j *job) *int { return &j.skipped })
			continue
		}
		todo = append(todo, t)
	}
	if strategy == "rollout" {
		todo = e.rollout(ctx, act, todo)
		strategy = "delete" // what rollout could not roll is deleted
	}
	e.replace(ctx, act, strategy, jobs, todo)
	for _, j := range jobs {
		if !j.refused {
			e.report(j)
			e.done(ctx, j.req, true)
		}
	}
}

// collect lists each job's pods and merges them, each pod once, in the order found. A
// job whose pods cannot be listed (an empty or invalid selector, or an API that stayed
// down until shutdown) is refused and reported.
func (e *executor) collect(ctx, act context.Context, jobs []*job) []*target {
	var targets []*target
	byUID := map[string]*target{}
	for _, j := range jobs {
		pods, err := e.listRetrying(ctx, act, j)
		if err != nil {
			msg := fmt.Sprintf("Could not restart pods matching %q: %v", j.req.selector, err)
			j.log.Error(msg, "err", err)
			reason := "RestartFailed"
			if errors.Is(err, errEmptySelector) || errorCode(err) == http.StatusBadRequest {
				reason = "InvalidSelector"
			}
			e.events.warn(j.req.src, reason, msg)
			e.metrics.inc("cuscon_restarts_total", "strategy", j.req.strategy, "result", "refused")
			j.refused = true
			e.done(ctx, j.req, false)
			continue
		}
		j.matched = len(pods)
		for _, p := range pods {
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

// listRetrying lists j's pods, retrying transient failures until ctx ends.
func (e *executor) listRetrying(ctx, act context.Context, j *job) ([]pod, error) {
	bo := e.backoff.start()
	for {
		pods, err := listPods(act, e.api, j.req.src.Namespace, j.req.selector)
		if err == nil || !isTransient(err) {
			return pods, err
		}
		j.log.Warn("Could not list pods, retrying", "err", err)
		if !bo.wait(ctx) {
			return nil, fmt.Errorf("gave up at shutdown: %w", err)
		}
	}
}

// skipReason says why p must not be restarted, or "" if it may be.
func (e *executor) skipReason(p *pod) string {
	switch {
	case p.Metadata.DeletionTimestamp != nil:
		return "already terminating"
	case p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed":
		return "already finished (" + p.Status.Phase + ")"
	case controllerOf(&p.Metadata) == nil && !e.deleteUnowned:
		return "no controller owns it, so nothing would recreate it (--delete-unowned-pods allows it)"
	}
	return ""
}

// replace deletes or evicts todo, maxUnavailable at a time; between groups it waits for
// the replacements to be Ready, and stops (reporting the pods left) if they are not
// within readyTimeout.
func (e *executor) replace(ctx, act context.Context, strategy string, jobs []*job, todo []*target) {
	if len(todo) == 0 {
		return
	}
	step := e.maxUnavailable
	if step <= 0 || step > len(todo) {
		step = len(todo)
	}
	ns := todo[0].pod.Metadata.Namespace
	var readyBefore int
	if step < len(todo) {
		readyBefore = e.readyCount(act, ns, jobs, nil)
	}
	deadline := time.Now().Add(e.evictTimeout)
	acted := map[string]bool{}
	for i := 0; i < len(todo); i += step {
		if i > 0 && !e.dryRun {
			if err := e.waitReady(ctx, act, ns, jobs, acted, readyBefore); err != nil {
				e.stopped(todo[i:], err)
				return
			}
		}
		for _, t := range todo[i:min(i+step, len(todo))] {
			e.restartPod(ctx, act, strategy, t, deadline)
			acted[t.pod.Metadata.UID] = true
		}
	}
}

// restartPod deletes or evicts one pod and logs the outcome in the script's words.
func (e *executor) restartPod(ctx, act context.Context, strategy string, t *target, evictDeadline time.Time) {
	name := t.pod.Metadata.Name
	log := t.jobs[0].log.With("pod", name)
	if err := e.throttle(ctx, log); err != nil {
		log.Error(fmt.Sprintf("Could not %s %s: %v", strategy, name, err))
		t.count(func(j *job) *int { return &j.failed })
		return
	}
	var err error
	if strategy == "evict" {
		err = e.evictRetrying(ctx, act, log, &t.pod, evictDeadline)
	} else {
		err = e.deleteRetrying(ctx, act, &t.pod)
	}
	past := map[string]string{"delete": "deleted", "evict": "evicted"}[strategy]
	switch {
	case err == nil && e.dryRun:
		log.Info(fmt.Sprintf("Dry run: %s would be %s", name, past))
		t.count(func(j *job) *int { return &j.restarted })
	case err == nil:
		log.Info(fmt.Sprintf("%s was %s successfully", name, past))
		t.count(func(j *job) *int { return &j.restarted })
	case errorCode(err) == http.StatusNotFound:
		log.Info(fmt.Sprintf("%s was already gone", name), "reason", "not found")
		t.count(func(j *job) *int { return &j.restarted })
	case errorCode(err) == http.StatusConflict:
		log.Info(fmt.Sprintf("%s was already replaced by a new pod of the same name; left alone", name), "reason", "uid precondition failed")
		t.count(func(j *job) *int { return &j.restarted })
	default:
		log.Error(fmt.Sprintf("Could not %s %s: %v", strategy, name, err), "err", err)
		t.count(func(j *job) *int { return &j.failed })
		for _, j := range t.jobs {
			j.problems = append(j.problems, fmt.Sprintf("%s: %v", name, err))
		}
		if errorCode(err) == http.StatusTooManyRequests {
			for _, j := range t.jobs {
				e.events.warn(j.req.src, "EvictionBlocked", fmt.Sprintf("Could not evict %s before the deadline (%s): %v", name, e.evictTimeout, err))
			}
		}
	}
}

// throttle waits for the rate limiter's token, saying so if it has to; it fails if
// shutdown comes first, or if this replica is no longer the leader.
func (e *executor) throttle(ctx context.Context, log *slog.Logger) error {
	if e.leading != nil && !e.leading() {
		return errors.New("no longer the leader")
	}
	d := e.limiter.take()
	if d <= 0 {
		return nil
	}
	log.Warn("Rate limit reached; waiting", "wait", d.Round(time.Millisecond).String(), "perMinute", e.limiter.perMinute)
	if !sleep(ctx, d) {
		return fmt.Errorf("rate limited until shutdown: %w", ctx.Err())
	}
	return nil
}

// deleteRetrying deletes p, retrying a transient failure twice.
func (e *executor) deleteRetrying(ctx, act context.Context, p *pod) error {
	const attempts = 3
	bo := e.backoff.start()
	var err error
	for i := 0; i < attempts; i++ {
		if err = deletePod(act, e.api, p, e.dryRun); err == nil || !isTransient(err) {
			return err
		}
		if i < attempts-1 && !bo.wait(ctx) {
			break
		}
	}
	return err
}

// evictRetrying evicts p. While a PodDisruptionBudget blocks it (429) it tries again
// after the server's Retry-After, or a backoff, until deadline; it never deletes instead.
func (e *executor) evictRetrying(ctx, act context.Context, log *slog.Logger, p *pod, deadline time.Time) error {
	bo := e.backoff.start()
	transient := 0
	for {
		err := evictPod(act, e.api, p, e.dryRun)
		code := errorCode(err)
		switch {
		case err == nil || !isTransient(err):
			return err
		case code != http.StatusTooManyRequests:
			if transient++; transient >= 3 {
				return err
			}
		default:
			log.Info(fmt.Sprintf("Eviction of %s blocked for now, retrying", p.Metadata.Name), "reason", err.Error())
		}
		delay := bo.delay()
		var ae *apiError
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			delay = ae.RetryAfter
		}
		if time.Now().Add(delay).After(deadline) || !sleep(ctx, delay) {
			return err
		}
	}
}

// readyCount counts the Ready pods the jobs' selectors match, leaving out exclude.
func (e *executor) readyCount(ctx context.Context, ns string, jobs []*job, exclude map[string]bool) int {
	seen := map[string]bool{}
	n := 0
	for _, j := range jobs {
		if j.refused {
			continue
		}
		pods, err := listPods(ctx, e.api, ns, j.req.selector)
		if err != nil {
			j.log.Warn("Could not list pods to check readiness", "err", err)
			continue
		}
		for i := range pods {
			uid := pods[i].Metadata.UID
			if !seen[uid] && !exclude[uid] && pods[i].ready() {
				n++
			}
			seen[uid] = true
		}
	}
	return n
}

// waitReady waits until as many pods are Ready as before the restart began, not
// counting those restarted: their replacements are up.
func (e *executor) waitReady(ctx, act context.Context, ns string, jobs []*job, acted map[string]bool, want int) error {
	deadline := time.Now().Add(e.readyTimeout)
	for {
		got := e.readyCount(act, ns, jobs, acted)
		if got >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d pods Ready after %s", got, want, e.readyTimeout)
		}
		if !sleep(ctx, e.pollInterval) {
			return ctx.Err()
		}
	}
}

// stopped reports the pods a paced restart left alone because replacements were not Ready.
func (e *executor) stopped(left []*target, cause error) {
	var names []string
	for _, t := range left {
		names = append(names, t.pod.Metadata.Name)
		t.count(func(j *job) *int { return &j.failed })
	}
	for _, j := range uniqueJobs(left) {
		msg := fmt.Sprintf("Stopped restarting pods matching %s: %v; left %s", j.req.selector, cause, strings.Join(names, ", "))
		j.log.Warn(msg)
		j.problems = append(j.problems, msg)
	}
}

// report logs a job's summary and posts it as an Event on the ConfigMap or Secret.
func (e *executor) report(j *job) {
	what := fmt.Sprintf("Restarted %d of %d pods matching %s", j.restarted, j.matched, j.req.selector)
	if len(j.workloads) > 0 {
		what += " by rolling " + strings.Join(j.workloads, ", ")
	}
	line := what
	if e.dryRun {
		line = "Dry run: " + what // the event recorder marks events itself
	}
	reaction := time.Since(j.req.seen).Seconds()
	j.log.Info(line, "matched", j.matched, "restarted", j.restarted, "skipped", j.skipped, "failed", j.failed,
		"reactionSeconds", reaction)
	e.metrics.observe("cuscon_reaction_seconds", reaction)
	for result, n := range map[string]int{"restarted": j.restarted, "skipped": j.skipped, "failed": j.failed} {
		e.metrics.add("cuscon_pods_total", float64(n), "strategy", j.req.strategy, "result", result)
	}
	msg := what + ": content changed"
	if len(j.problems) > 0 {
		e.metrics.inc("cuscon_restarts_total", "strategy", j.req.strategy, "result", "incomplete")
		e.events.warn(j.req.src, "RestartIncomplete", msg+"; "+strings.Join(j.problems, "; "))
		return
	}
	e.metrics.inc("cuscon_restarts_total", "strategy", j.req.strategy, "result", "ok")
	e.events.normal(j.req.src, "Restarted", msg)
}

// uniqueJobs lists the jobs that matched any of ts, each once.
func uniqueJobs(ts []*target) []*job {
	var out []*job
	seen := map[*job]bool{}
	for _, t := range ts {
		for _, j := range t.jobs {
			if !seen[j] {
				seen[j] = true
				out = append(out, j)
			}
		}
	}
	return out
}

// sleep waits d, or returns false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
