// decide.go is cuscon's decision, in pure functions: given what cuscon remembers of an
// annotated object and what it now observes, decide returns what to remember next and a
// verdict; the controller carries the verdict out. Whether a selector is safe is
// selector.go's part; which pods may be restarted and what an answer means, pods.go's.
// The README's decision tables are the test tables of these functions, row for row.

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// objState is what cuscon remembers of one annotated object.
type objState struct {
	// applied is the content hash whose restart is complete (or that was the baseline).
	applied string
	// pending is the content hash of a restart scheduled and not yet finished.
	pending string
	// refused is the attempt (hash, selector, strategy annotation) that was refused, so
	// that it is reported once; a new selector, strategy or content tries again.
	refused string
	// owed is an incomplete restart: the pods still to restart for a newer content.
	owed *owedWork
}

// owedWork is the part of a restart not done yet. It is recorded on the object, so a
// cuscon that restarts resumes it without restarting the pods already replaced.
type owedWork struct {
	Hash string `json:"hash"`
	// All: every matching pod is owed (the pods could not even be listed).
	All bool `json:"all,omitempty"`
	// Pods are the uids of the pods still to restart; pods created since run the new
	// content already.
	Pods []string `json:"pods,omitempty"`
	// tries counts the rounds so far; retries back off with it. Not recorded.
	tries int
	// fromRecord: read from the object at start, not retried by this process yet.
	fromRecord bool
	// req is the request whose round left this work, to retry it by. Not recorded.
	req restartRequest
}

// observation is what one list item or watch event says of a ConfigMap or Secret.
type observation struct {
	key       string
	ref       objectRef
	res       resource
	annotated bool
	selector  string
	// strategy is the strategy annotation's value; hasStrategy says whether it is set.
	strategy    string
	hasStrategy bool
	hash        string
	// recorded is what the object's own annotations say cuscon applied and still owes.
	recorded objState
}

// policy is the part of the configuration decisions depend on.
type policy struct {
	strategy string // the default strategy
	// overrides are the strategies an object's strategy annotation may choose instead.
	overrides   []string
	recordState bool // the applied hash is recorded on the object
}

// verdictKind names what the controller must do.
type verdictKind int

const (
	ignore         verdictKind = iota // not annotated and not known: none of cuscon's business
	forget                            // the annotation was removed
	baseline                          // first sight: remember the content, restart nothing
	unchanged                         // content as last applied
	alreadyPending                    // a restart for this content is scheduled or running
	stillOwed                         // refused before, or owed pods wait for their retry
	refuseSelector                    // the selector is invalid or would select too much
	refuseStrategy                    // the strategy annotation names no strategy
	restartAll                        // restart every matching pod
	resumeOwed                        // restart the pods an earlier round left
)

// verdict is decide's answer: what to do, why not, and the restart to schedule.
type verdict struct {
	kind verdictKind
	err  error
	req  restartRequest
	// record: the object's recorded state differs from what is remembered; write it.
	record bool
}

// decide returns the next state of an object and what to do about what was observed.
func decide(st objState, known bool, obs observation, p policy) (objState, verdict) {
	if !obs.annotated {
		if known {
			return objState{}, verdict{kind: forget}
		}
		return objState{}, verdict{kind: ignore}
	}
	if !known && p.recordState && obs.recorded.applied != "" {
		st, known = obs.recorded, true
	}
	attempt := obs.hash + " " + obs.selector + " " + obs.strategy
	switch {
	case !known:
		st.applied = obs.hash
		return st, verdict{kind: baseline, record: p.recordState}
	case st.applied == obs.hash && st.pending == "" && st.owed == nil:
		st.refused = ""
		return st, verdict{kind: unchanged, record: p.recordState && (obs.recorded.applied != st.applied || obs.recorded.owed != nil)}
	case st.pending == obs.hash:
		return st, verdict{kind: alreadyPending}
	case st.refused == attempt:
		return st, verdict{kind: stillOwed}
	case st.owed != nil && st.owed.Hash == obs.hash && !st.owed.fromRecord && st.owed.req.attempt == attempt:
		return st, verdict{kind: stillOwed} // a new selector or strategy goes on below, to be checked
	}
	if err := checkSelector(obs.selector); err != nil {
		st.refused = attempt
		return st, verdict{kind: refuseSelector, err: err}
	}
	strategy, err := chooseStrategy(obs.strategy, obs.hasStrategy, p.strategy, p.overrides)
	if err != nil {
		st.refused = attempt
		return st, verdict{kind: refuseStrategy, err: err}
	}
	req := restartRequest{src: obs.ref, res: obs.res, key: obs.key, selector: obs.selector,
		strategy: strategy, hash: obs.hash, attempt: attempt}
	kind := restartAll
	if st.owed != nil && st.owed.Hash == obs.hash && !st.owed.All {
		kind, req.only = resumeOwed, st.owed.Pods
	} else {
		st.owed = nil // superseded by a newer change, or owed in full
	}
	st.pending, st.refused = obs.hash, ""
	return st, verdict{kind: kind, req: req}
}

// restartRequest asks for the pods of one changed object to be restarted.
type restartRequest struct {
	src      objectRef
	res      resource
	key      string
	selector string
	strategy string
	hash     string
	// attempt is hash, selector and strategy annotation, to remember a refusal by.
	attempt string
	// only, when set, limits the restart to these pod uids: what an earlier round left.
	only []string
	// seen is when the change was observed (or the retry began).
	seen time.Time
	// workload, in the Reloader mode, is the workload to restart; view is what it will
	// have applied (recorded on it) and why says what changed (reloader.go).
	workload  *workload
	view, why string
}

// result is how a restart request ended: refused (the API refused the selector),
// dropped (this replica could not act), or carried out with owed nil (complete) or not
// (what is left).
type result struct {
	req     restartRequest
	refused error
	dropped bool
	owed    *owedWork
}

// settle returns the state of an object after one of its restarts ended. An ending that
// a newer change has overtaken changes nothing: the newer restart decides.
func settle(st objState, res result) objState {
	if st.pending != res.req.hash {
		return st
	}
	st.pending = ""
	switch {
	case res.dropped: // a new leader finds it from the record
	case res.refused != nil:
		st.refused = res.req.attempt
	case res.owed == nil:
		st.applied, st.owed, st.refused = res.req.hash, nil, ""
	default:
		owed := *res.owed
		if st.owed != nil && st.owed.Hash == owed.Hash {
			owed.tries = st.owed.tries
		}
		owed.tries++
		owed.req = res.req
		st.owed = &owed
	}
	return st
}

// retryDelay is how long owed pods wait before their next round: doubling from the
// policy's first delay, at most its cap (a minute by default).
func retryDelay(tries int, p backoffPolicy) time.Duration {
	d := p.Initial
	for i := 1; i < tries && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// chooseStrategy returns the strategy an object asks for with its strategy annotation
// (value, if set), or the default def. An object may choose only what the operator
// allowed (allowed, from --override-strategies): whoever may annotate a ConfigMap must not
// gain the rollout of a whole workload, whose pods reach beyond its selector, when the
// operator chose delete. Both modes and `cuscon plan` ask it.
func chooseStrategy(value string, set bool, def string, allowed []string) (string, error) {
	switch {
	case !set || value == def:
		return def, nil
	case !validStrategy(value):
		return "", fmt.Errorf("%s %q: want delete, evict or rollout; nothing restarted", strategyAnnotation, value)
	case !slices.Contains(allowed, value):
		return "", fmt.Errorf("%s %q: not a strategy objects may choose here (--override-strategies %q); nothing restarted",
			strategyAnnotation, value, strings.Join(allowed, ","))
	}
	return value, nil
}

// validStrategy reports whether s names a restart strategy.
func validStrategy(s string) bool { return s == "delete" || s == "evict" || s == "rollout" }
