// pacing.go restarts the pods of a group: several at a time, each when the rate limiter
// allows, by DELETE or eviction (retrying what may pass), logged in the script's words;
// with MaxUnavailable, a few at a time with a wait for replacements to be Ready between.

package restart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
)

// replace deletes or evicts todo, maxUnavailable at a time and up to parallel at once;
// between groups it waits for the replacements to be Ready, and stops (the pods left
// stay owed) if they are not within readyTimeout.
func (e *Executor) replace(lt Lifetime, strategy string, jobs []*job, todo []*target) {
	if len(todo) == 0 {
		return
	}
	step := e.opts.MaxUnavailable
	if step <= 0 || step > len(todo) {
		step = len(todo)
	}
	ns := todo[0].pod.Metadata.Namespace
	var readyBefore int
	if step < len(todo) {
		readyBefore = e.readyCount(lt.Send, ns, jobs, nil)
	}
	deadline := time.Now().Add(e.opts.EvictTimeout)
	acted := map[string]bool{}
	for i := 0; i < len(todo); i += step {
		if i > 0 && !e.opts.DryRun {
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

// inParallel calls fn for each target, at most e.parallel at a time, and waits. Tokens
// of the rate limiter are taken in order, before each call starts: the pods restart in
// the order found and the limit holds however many run at once.
func (e *Executor) inParallel(lt Lifetime, ts []*target, fn func(*target)) {
	slots := make(chan struct{}, e.opts.Parallel)
	var wg sync.WaitGroup
	for _, t := range ts {
		log := t.jobs[0].log.With("pod", t.pod.Metadata.Name)
		if err := e.throttle(lt, log); err != nil {
			log.Error(fmt.Sprintf("Could not restart %s: %v", t.pod.Metadata.Name, err))
			t.problem = err.Error()
			continue
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() { defer func() { <-slots; wg.Done() }(); fn(t) }()
	}
	wg.Wait()
}

// restartPod deletes or evicts one pod, logs the outcome and notes it on t. The rate
// limiter's token was taken before (see inParallel).
func (e *Executor) restartPod(lt Lifetime, strategy string, t *target, evictDeadline time.Time) {
	name := t.pod.Metadata.Name
	log := t.jobs[0].log.With("pod", name)
	var err error
	if strategy == "evict" {
		err = e.evictRetrying(lt, log, &t.pod, evictDeadline)
	} else {
		err = e.deleteRetrying(lt, &t.pod)
	}
	past := map[string]string{"delete": "deleted", "evict": "evicted"}[strategy]
	o := outcomeOf(err)
	t.done = o.done()
	switch {
	case o == restarted && e.opts.DryRun:
		log.Info(fmt.Sprintf("Dry run: %s would be %s", name, past))
	case o == restarted:
		log.Info(fmt.Sprintf("%s was %s successfully", name, past))
	case o == gone:
		log.Info(fmt.Sprintf("%s was already gone", name), "reason", "not found")
	case o == replaced:
		log.Info(fmt.Sprintf("%s was already replaced by a new pod of the same name; left alone", name), "reason", "uid precondition failed")
	default:
		log.Error(fmt.Sprintf("Could not %s %s: %v", strategy, name, err), "err", err)
		t.problem = err.Error()
		if o == blocked {
			for _, j := range t.jobs {
				e.events.Warn(j.req.Object, "EvictionBlocked", fmt.Sprintf("Could not evict %s before the deadline (%s): %v", name, e.opts.EvictTimeout, err))
			}
		}
	}
}

// throttle waits for the rate limiter's token, saying so if it has to; it fails if
// shutdown comes first, or if this replica may no longer act.
func (e *Executor) throttle(lt Lifetime, log *slog.Logger) error {
	if !e.acting() {
		return errors.New("no longer the leader")
	}
	d := e.limiter.take()
	if d <= 0 {
		return nil
	}
	log.Warn("Rate limit reached; waiting", "wait", d.Round(time.Millisecond).String(), "perMinute", e.limiter.perMinute)
	if !backoff.Sleep(lt.Wait, d) {
		return fmt.Errorf("rate limited until shutdown: %w", lt.Wait.Err())
	}
	if !e.acting() {
		return errors.New("no longer the leader")
	}
	return nil
}

// deleteRetrying deletes p, retrying a transient failure twice.
func (e *Executor) deleteRetrying(lt Lifetime, p *kube.Pod) error {
	const attempts = 3
	bo := e.opts.Backoff.Start()
	var err error
	for i := 0; i < attempts; i++ {
		if err = e.pods.Delete(lt.Send, p); err == nil || !kube.IsTransient(err) {
			return err
		}
		if i < attempts-1 && !bo.Wait(lt.Wait) {
			break
		}
	}
	return err
}

// evictRetrying evicts p. While a PodDisruptionBudget blocks it (429) it tries again
// after the server's Retry-After, or a backoff, until deadline; it never deletes instead.
func (e *Executor) evictRetrying(lt Lifetime, log *slog.Logger, p *kube.Pod, deadline time.Time) error {
	bo := e.opts.Backoff.Start()
	transient := 0
	for {
		err := e.pods.Evict(lt.Send, p)
		switch {
		case err == nil || !kube.IsTransient(err):
			return err
		case outcomeOf(err) != blocked:
			if transient++; transient >= 3 {
				return err
			}
		default:
			log.Info(fmt.Sprintf("Eviction of %s blocked for now, retrying", p.Metadata.Name), "reason", err.Error())
		}
		delay := bo.Delay()
		var ae *kube.APIError
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			delay = ae.RetryAfter
		}
		if time.Now().Add(delay).After(deadline) || !backoff.Sleep(lt.Wait, delay) {
			return err
		}
	}
}

// readyCount counts the Ready pods the jobs' selectors match, leaving out exclude.
func (e *Executor) readyCount(ctx context.Context, ns string, jobs []*job, exclude map[string]bool) int {
	seen := map[string]bool{}
	n := 0
	for _, j := range jobs {
		if j.refused {
			continue
		}
		pods, err := e.pods.List(ctx, ns, j.req.Selector)
		if err != nil {
			j.log.Warn("Could not list pods to check readiness", "err", err)
			continue
		}
		for i := range pods {
			uid := pods[i].Metadata.UID
			if !seen[uid] && !exclude[uid] && pods[i].Ready() {
				n++
			}
			seen[uid] = true
		}
	}
	return n
}

// waitReady waits until as many pods are Ready as before the restart began, not
// counting those restarted: their replacements are up.
func (e *Executor) waitReady(lt Lifetime, ns string, jobs []*job, acted map[string]bool, want int) error {
	deadline := time.Now().Add(e.opts.ReadyTimeout)
	for {
		got := e.readyCount(lt.Send, ns, jobs, acted)
		if got >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d pods Ready after %s", got, want, e.opts.ReadyTimeout)
		}
		if !backoff.Sleep(lt.Wait, e.opts.PollInterval) {
			return lt.Wait.Err()
		}
	}
}

// stopped notes the pods a paced restart left because replacements were not Ready:
// they stay owed.
func (e *Executor) stopped(left []*target, cause error) {
	var names []string
	for _, t := range left {
		names = append(names, t.pod.Metadata.Name)
	}
	for _, j := range jobsOf(left) {
		msg := fmt.Sprintf("Stopped restarting pods matching %s: %v; left %s", j.req.Selector, cause, joinNames(names))
		j.log.Warn(msg)
		j.problems = append(j.problems, msg)
	}
}
