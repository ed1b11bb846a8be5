// report.go says how a job ended: in the log, in an Event on the object that changed, in
// metrics, and as the Result its request's Done is told, with the pods still owed.

package restart

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// report logs a job's summary, posts it as an Event, counts it, and returns how it
// ended: complete, or the pods still owed.
func (e *Executor) report(j *job, targets []*target) Result {
	restarted, skipped, failed, owed := tally(j, targets)
	problems := j.problems
	for _, t := range targets {
		if t.problem != "" && slices.Contains(t.jobs, j) {
			problems = append(problems, t.pod.Metadata.Name+": "+t.problem)
		}
	}
	what := fmt.Sprintf("Restarted %d of %d pods matching %s", restarted, j.matched, j.req.Selector)
	if len(j.rolled) > 0 {
		what += " by rolling " + joinNames(j.rolled)
	}
	line := what
	if e.opts.DryRun {
		line = "Dry run: " + what // the event recorder marks events itself
	}
	reaction := time.Since(j.req.Seen).Seconds()
	e.metrics.Reaction.Observe(reaction)
	for r, n := range map[string]int{"restarted": restarted, "skipped": skipped, "failed": failed} {
		e.metrics.Pods.Add(float64(n), "strategy", j.req.Strategy, "result", r)
	}
	// Counted before the line is logged, so whoever reads the line finds it counted.
	result := "ok"
	if len(problems) > 0 {
		result = "incomplete"
	}
	e.metrics.Restarts.Inc("strategy", j.req.Strategy, "result", result)
	var res Result
	j.log.Info(line, "matched", j.matched, "restarted", restarted, "skipped", skipped, "failed", failed, "reactionSeconds", reaction)
	if len(problems) == 0 {
		e.events.Normal(j.req.Object, "Restarted", what+": "+j.req.Why)
		return res
	}
	e.events.Warn(j.req.Object, "RestartIncomplete", what+": "+j.req.Why+"; "+joinProblems(problems))
	switch {
	case len(owed) > 0:
		res.Owed = &Owed{Pods: owed}
	case j.matched == 0 && j.req.Only != nil: // the owed pods could not be listed
		res.Owed = &Owed{Pods: j.req.Only}
	case j.matched == 0:
		res.Owed = &Owed{All: true}
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

// jobsOf lists the jobs that matched any of ts, each once.
func jobsOf(ts []*target) []*job {
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

// joinNames lists names for a log line or an Event.
func joinNames(names []string) string { return strings.Join(names, ", ") }

// joinProblems lists what went wrong, for a RestartIncomplete Event.
func joinProblems(problems []string) string { return strings.Join(problems, "; ") }
