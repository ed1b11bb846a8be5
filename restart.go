// restart.go carries out a batch of restart requests from one namespace: it lists the
// pods each selector matches, restarts each matching pod once however many requests
// match it, by the request's strategy (delete, evict or rollout), several at a time,
// paced and rate limited, and reports in the log, in Events, and back to the controller
// which pods are still owed.

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// executor restarts pods. Lanes of the scheduler call it concurrently.
type executor struct {
	api     *apiClient
	log     *slog.Logger
	events  *eventRecorder
	limiter *rateLimiter
	dryRun  bool
	// deleteUnowned also deletes pods with no controlling owner, which nothing recreates.
	deleteUnowned bool
	// self finds cuscon's own pod and workload, never restarted.
	self *selfFinder
	// maxUnavailable paces delete and evict: that many pods at a time, each group waiting
	// for replacements to be Ready (0: all at once).
	maxUnavailable int
	// parallel bounds the DELETEs or evictions in flight at once.
	parallel int
	// readyTimeout bounds each wait for replacements; evictTimeout bounds retrying
	// evictions that a PodDisruptionBudget blocks.
	readyTimeout, evictTimeout time.Duration
	// pollInterval is how often readiness is checked while pacing.
	pollInterval time.Duration
	backoff      backoffPolicy
	// done reports each request's end to the controller.
	done    func(ctx context.Context, res result)
	metrics *metrics
	// lease says until when this replica may act; see elector.actingUntil.
	lease func() time.Time
}

// lifetime is one batch's contexts: waits end with wait (shutdown began); requests carry
// send, which outlives wait by the shutdown grace and ends when this replica may not act.
type lifetime struct {
	wait, send context.Context
}

// job is one request being carried out, with its own log and what went wrong.
type job struct {
	req      restartRequest
	log      *slog.Logger
	refused  bool
	matched  int
	problems []string
	rolled   []string
}

// target is a pod to restart, the jobs whose selectors matched it, and how it went.
type target struct {
	pod     pod
	jobs    []*job
	skipped bool
	done    bool   // restarted, gone, replaced, or rolled
	problem string // why it was not restarted, when it is owed
}

// run carries out a batch, grouped by strategy; each group's pods are restarted once.
// app is the app's lifetime: its send outlives shutdown by one grace for the whole app.
func (e *executor) run(app lifetime, batch []restartRequest) {
	if !e.acting() {
		e.log.Info("Not the leader; leaving restarts to the leader", "requests", len(batch))
		for _, req := range batch {
			e.done(app.send, result{req: req, dropped: true})
		}
		return
	}
	send, stop := whileActing(app.send, e.lease)
	defer stop()
	lt := lifetime{wait: app.wait, send: send}
	batch = e.rollWorkloads(lt, batch) // the Reloader mode's rollouts need no pod list
	var order []string
	groups := map[string][]*job{}
	for _, req := range batch {
		if _, ok := groups[req.strategy]; !ok {
			order = append(order, req.strategy)
		}
		log := e.log.With("namespace", req.src.Namespace, kindField(req.res), req.src.Name, "selector", req.selector, "strategy", req.strategy)
		groups[req.strategy] = append(groups[req.strategy], &job{req: req, log: log})
	}
	for _, strategy := range order {
		e.runGroup(lt, strategy, groups[strategy])
	}
}

// acting reports whether this replica may act now.
func (e *executor) acting() bool {
	until := e.lease()
	return until.IsZero() || time.Now().Before(until)
}

// runGroup restarts the pods of jobs sharing a strategy, and reports each job's end.
func (e *executor) runGroup(lt lifetime, strategy string, jobs []*job) {
	me, err := e.self.get(lt.send)
	if err != nil { // cuscon's own replicas cannot be told apart: nothing is restarted yet
		for _, j := range jobs {
			j.log.Warn("Could not restart pods yet", "err", err)
			j.problems = append(j.problems, err.Error())
			e.done(lt.send, e.report(j, nil))
		}
		return
	}
	targets := e.collect(lt, jobs)
	var todo []*target
	for _, t := range targets {
		if why := skipReason(&t.pod, me, e.deleteUnowned); why != "" {
			t.jobs[0].log.Info(fmt.Sprintf("Skipping %s: %s", t.pod.Metadata.Name, why), "pod", t.pod.Metadata.Name)
			t.skipped = true
			continue
		}
		todo = append(todo, t)
	}
	if strategy == "rollout" {
		todo = e.rollout(lt, me, todo)
		strategy = "delete" // what rollout could not roll is deleted
	}
	e.replace(lt, strategy, jobs, todo)
	for _, j := range jobs {
		if !j.refused {
			e.done(lt.send, e.report(j, targets))
		}
	}
}

// collect lists each job's pods, concurrently, and merges them, each pod once. A job
// restricted to owed pods keeps only those: the others were created since the change.
func (e *executor) collect(lt lifetime, jobs []*job) []*target {
	lists := make([][]pod, len(jobs))
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
			if j.req.only != nil && !slices.Contains(j.req.only, p.Metadata.UID) {
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
// the controller tries again later.
func (e *executor) listJob(lt lifetime, j *job) []pod {
	bo := e.backoff.start()
	for attempt := 1; ; attempt++ {
		pods, err := listPods(lt.send, e.api, j.req.src.Namespace, j.req.selector)
		if err == nil {
			return pods
		}
		if errorCode(err) == http.StatusBadRequest {
			msg := fmt.Sprintf("Could not restart pods matching %q: %v", j.req.selector, err)
			j.log.Error(msg, "err", err)
			e.events.warn(j.req.src, "InvalidSelector", msg)
			e.metrics.restarts.inc("strategy", j.req.strategy, "result", "refused")
			j.refused = true
			e.done(lt.send, result{req: j.req, refused: err})
			return nil
		}
		j.log.Warn("Could not list pods, retrying", "err", err)
		if attempt == 3 || !isTransient(err) || !bo.wait(lt.wait) {
			j.problems = append(j.problems, fmt.Sprintf("could not list pods: %v", err))
			return nil
		}
	}
}

// replace deletes or evicts todo, maxUnavailable at a time and up to parallel at once;
// between groups it waits for the replacements to be Ready, and stops (the pods left
// stay owed) if they are not within readyTimeout.
func (e *executor) replace(lt lifetime, strategy string, jobs []*job, todo []*target) {
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
		readyBefore = e.readyCount(lt.send, ns, jobs, nil)
	}
	deadline := time.Now().Add(e.evictTimeout)
	acted := map[string]bool{}
	for i := 0; i < len(todo); i += step {
		if i > 0 && !e.dryRun {
			if err := e.waitReady(lt, ns, jobs, acted, readyBefore); err != nil {
				e.stopped(todo[i:], err)
				return
			}
		}
		group := todo[i:min(i+step, len(todo))]
		e.inParallel(lt, group, func(t *target) { e.restartPod(lt, strategy, t, deadline) })
		for _, t := range group {
			acted[t.pod.Metadata.UID] = true
		}
	}
}

// report logs a job's summary, posts it as an Event, counts it, and returns what the
// controller must know: complete, or the pods still owed.
func (e *executor) report(j *job, targets []*target) result {
	restarted, skipped, failed, owed := tally(j, targets)
	problems := j.problems
	for _, t := range targets {
		if t.problem != "" && slices.Contains(t.jobs, j) {
			problems = append(problems, t.pod.Metadata.Name+": "+t.problem)
		}
	}
	what := fmt.Sprintf("Restarted %d of %d pods matching %s", restarted, j.matched, j.req.selector)
	if len(j.rolled) > 0 {
		what += " by rolling " + joinNames(j.rolled)
	}
	line := what
	if e.dryRun {
		line = "Dry run: " + what // the event recorder marks events itself
	}
	reaction := time.Since(j.req.seen).Seconds()
	e.metrics.reaction.observe(reaction)
	for r, n := range map[string]int{"restarted": restarted, "skipped": skipped, "failed": failed} {
		e.metrics.pods.add(float64(n), "strategy", j.req.strategy, "result", r)
	}
	res := result{req: j.req}
	if len(problems) == 0 {
		e.metrics.restarts.inc("strategy", j.req.strategy, "result", "ok")
		j.log.Info(line, "matched", j.matched, "restarted", restarted, "skipped", skipped, "failed", failed, "reactionSeconds", reaction)
		e.events.normal(j.req.src, "Restarted", what+": content changed")
		return res
	}
	e.metrics.restarts.inc("strategy", j.req.strategy, "result", "incomplete")
	j.log.Info(line, "matched", j.matched, "restarted", restarted, "skipped", skipped, "failed", failed, "reactionSeconds", reaction)
	e.events.warn(j.req.src, "RestartIncomplete", what+": content changed; "+joinProblems(problems))
	switch {
	case len(owed) > 0:
		res.owed = &owedWork{Hash: j.req.hash, Pods: owed}
	case j.matched == 0 && j.req.only != nil: // the owed pods could not be listed
		res.owed = &owedWork{Hash: j.req.hash, Pods: j.req.only}
	case j.matched == 0:
		res.owed = &owedWork{Hash: j.req.hash, All: true}
	}
	return res
}

// tally counts j's targets by how they went and lists the uids of those still owed.
func tally(j *job, targets []*target) (restarted, skipped, failed int, owed []string) {
	for _, t := range targets {
		switch {
		case !slices.Contains(t.jobs, j):
		case t.skipped:
			skipped++
		case t.done:
			restarted++
		default:
			failed++
			owed = append(owed, t.pod.Metadata.UID)
		}
	}
	slices.Sort(owed)
	return restarted, skipped, failed, owed
}
