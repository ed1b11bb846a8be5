// pacing.go restarts one pod at a time within the executor's batch: it waits for the
// rate limiter, sends the DELETE or eviction (retrying what may pass), logs the outcome
// in the script's words, and, with --max-unavailable, waits for replacements to be Ready.

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// inParallel calls fn for each target, at most e.parallel at a time, and waits. Tokens
// of the rate limiter are taken in order, before each call starts: the pods restart in
// the order found and the limit holds however many run at once.
func (e *executor) inParallel(lt lifetime, ts []*target, fn func(*target)) {
	slots := make(chan struct{}, max(e.parallel, 1))
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
func (e *executor) restartPod(lt lifetime, strategy string, t *target, evictDeadline time.Time) {
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
	case o == restarted && e.dryRun:
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
				e.events.warn(j.req.src, "EvictionBlocked", fmt.Sprintf("Could not evict %s before the deadline (%s): %v", name, e.evictTimeout, err))
			}
		}
	}
}

// throttle waits for the rate limiter's token, saying so if it has to; it fails if
// shutdown comes first, or if this replica may no longer act.
func (e *executor) throttle(lt lifetime, log *slog.Logger) error {
	if !e.acting() {
		return errors.New("no longer the leader")
	}
	d := e.limiter.take()
	if d <= 0 {
		return nil
	}
	log.Warn("Rate limit reached; waiting", "wait", d.Round(time.Millisecond).String(), "perMinute", e.limiter.perMinute)
	if !sleep(lt.wait, d) {
		return fmt.Errorf("rate limited until shutdown: %w", lt.wait.Err())
	}
	if !e.acting() {
		return errors.New("no longer the leader")
	}
	return nil
}

// deleteRetrying deletes p, retrying a transient failure twice.
func (e *executor) deleteRetrying(lt lifetime, p *pod) error {
	const attempts = 3
	bo := e.backoff.start()
	var err error
	for i := 0; i < attempts; i++ {
		if err = deletePod(lt.send, e.api, p, e.dryRun); err == nil || !isTransient(err) {
			return err
		}
		if i < attempts-1 && !bo.wait(lt.wait) {
			break
		}
	}
	return err
}

// evictRetrying evicts p. While a PodDisruptionBudget blocks it (429) it tries again
// after the server's Retry-After, or a backoff, until deadline; it never deletes instead.
func (e *executor) evictRetrying(lt lifetime, log *slog.Logger, p *pod, deadline time.Time) error {
	bo := e.backoff.start()
	transient := 0
	for {
		err := evictPod(lt.send, e.api, p, e.dryRun)
		switch {
		case err == nil || !isTransient(err):
			return err
		case outcomeOf(err) != blocked:
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
		if time.Now().Add(delay).After(deadline) || !sleep(lt.wait, delay) {
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
func (e *executor) waitReady(lt lifetime, ns string, jobs []*job, acted map[string]bool, want int) error {
	deadline := time.Now().Add(e.readyTimeout)
	for {
		got := e.readyCount(lt.send, ns, jobs, acted)
		if got >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d pods Ready after %s", got, want, e.readyTimeout)
		}
		if !sleep(lt.wait, e.pollInterval) {
			return lt.wait.Err()
		}
	}
}

// stopped notes the pods a paced restart left because replacements were not Ready:
// they stay owed.
func (e *executor) stopped(left []*target, cause error) {
	var names []string
	for _, t := range left {
		names = append(names, t.pod.Metadata.Name)
	}
	for _, j := range jobsOf(left) {
		msg := fmt.Sprintf("Stopped restarting pods matching %s: %v; left %s", j.req.selector, cause, joinNames(names))
		j.log.Warn(msg)
		j.problems = append(j.problems, msg)
	}
}

// joinNames lists names for a log line or an Event.
func joinNames(names []string) string { return strings.Join(names, ", ") }

// joinProblems lists what went wrong, for a RestartIncomplete Event.
func joinProblems(problems []string) string { return strings.Join(problems, "; ") }
