// decide.go is cuscon's decision, in pure functions: given what cuscon remembers of an
// annotated object and what it now observes, decide returns what to remember next and a
// verdict; the controller carries the verdict out. Whether a selector is safe is
// labels.Check's part, which strategy an object may choose restart.ChooseStrategy's;
// which pods may be restarted, pods.go's. The README's decision tables are the test
// tables of these functions, row for row.

package main

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/labels"
	"cuscon/internal/restart"
	"cuscon/internal/waves"
	"cuscon/internal/window"
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
	// deferred is the content hash whose restart waits for the maintenance window, so
	// that it is reported once; window is the object's window annotation as it was when
	// its last restart was sent, which the retries of the pods it left wait for too.
	deferred, window string
}

// owedWork is the part of a restart not done yet. It is recorded on the object, so a
// cuscon that restarts resumes it without restarting the pods already replaced.
type owedWork struct {
	Hash string `json:"hash"`
	// Owed is every matching pod (they could not even be listed), or the uids of those
	// still to restart: pods created since run the new content already.
	restart.Owed
	// tries counts the rounds so far; retries back off with it. Not recorded.
	tries int
	// fromRecord: read from the object at start, not retried by this process yet.
	fromRecord bool
	// order is the order whose round left this work, to retry it by. Not recorded.
	order order
}

// observation is what one list item or watch event says of a ConfigMap or Secret.
type observation struct {
	key       string
	ref       kube.ObjectRef
	res       kube.Resource
	annotated bool
	selector  string
	// strategy is the strategy annotation's value; hasStrategy says whether it is set.
	strategy    string
	hasStrategy bool
	hash        string
	// window is the object's maintenance window annotation, if any; at is when it was
	// observed (what the window is read at).
	window string
	at     time.Time
	// recorded is what the object's own annotations say cuscon applied and still owes.
	recorded objState
}

// policy is the part of the configuration decisions depend on.
type policy struct {
	strategy string // the default strategy
	// overrides are the strategies an object's strategy annotation may choose instead.
	overrides   []string
	recordState bool // the applied hash is recorded on the object
	// window is --maintenance-window: the window of objects that name none.
	window string
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
	refuseWindow                      // the window (annotation or flag) cannot be read
	deferToWindow                     // outside its maintenance window: restart when it opens
	restartAll                        // restart every matching pod
	resumeOwed                        // restart the pods an earlier round left
)

// verdict is decide's answer: what to do, why not, and the restart to schedule.
type verdict struct {
	kind  verdictKind
	err   error
	order order
	// record: the object's recorded state differs from what is remembered; write it.
	record bool
	// opens is when the window of a deferred restart opens; quiet: that deferral was
	// reported already.
	opens time.Time
	quiet bool
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
	if obs.window != "" { // a new window tries a refused restart again
		attempt += " window=" + strconv.Quote(obs.window)
	}
	switch {
	case !known:
		st.applied = obs.hash
		return st, verdict{kind: baseline, record: p.recordState}
	case st.applied == obs.hash && st.pending == "" && st.owed == nil:
		st.refused, st.deferred = "", ""
		return st, verdict{kind: unchanged, record: p.recordState && (obs.recorded.applied != st.applied || obs.recorded.owed != nil)}
	case st.pending == obs.hash:
		return st, verdict{kind: alreadyPending}
	case st.refused == attempt:
		return st, verdict{kind: stillOwed}
	case st.owed != nil && st.owed.Hash == obs.hash && !st.owed.fromRecord && st.owed.order.attempt == attempt:
		return st, verdict{kind: stillOwed} // a new selector or strategy goes on below, to be checked
	}
	if err := labels.Check(obs.selector); err != nil {
		st.refused = attempt
		return st, verdict{kind: refuseSelector, err: err}
	}
	strategy, err := restart.ChooseStrategy(obs.strategy, obs.hasStrategy, p.strategy, p.overrides)
	if err != nil {
		st.refused = attempt
		return st, verdict{kind: refuseStrategy, err: err}
	}
	text := cmp.Or(obs.window, p.window)
	win, err := window.Parse(text)
	if err != nil {
		st.refused = attempt
		return st, verdict{kind: refuseWindow, err: fmt.Errorf("%s %q: %w", waves.WindowAnnotation, text, err)}
	}
	o := order{Request: restart.Request{Object: obs.ref, Key: obs.key, Selector: obs.selector, Strategy: strategy,
		Why: "content changed"}, hash: obs.hash, attempt: attempt}
	if open, opens := win.At(obs.at); !open {
		v := verdict{kind: deferToWindow, order: o, opens: opens, quiet: st.deferred == obs.hash}
		st.deferred = obs.hash // what was applied stays recorded: the change stays owed
		return st, v
	}
	st.deferred = ""
	kind := restartAll
	if st.owed != nil && st.owed.Hash == obs.hash && !st.owed.All {
		kind, o.Only = resumeOwed, st.owed.Pods
	} else {
		st.owed = nil // superseded by a newer change, or owed in full
	}
	st.pending, st.refused, st.window = obs.hash, "", obs.window
	return st, verdict{kind: kind, order: o}
}

// order is a restart decide asks for: the request to send (the controller adds whom to
// tell of its end), and the content hash and attempt it carries out.
type order struct {
	restart.Request
	hash    string
	attempt string // hash, selector and strategy annotation, to remember a refusal by
}

// settle returns the state of an object after one of its restarts ended. An ending that
// a newer change has overtaken changes nothing: the newer restart decides.
func settle(st objState, o order, res restart.Result) objState {
	if st.pending != o.hash {
		return st
	}
	st.pending = ""
	switch {
	case res.Dropped: // a new leader finds it from the record
	case res.Refused != nil:
		st.refused = o.attempt
	case res.Owed == nil:
		st.applied, st.owed, st.refused = o.hash, nil, ""
	default:
		owed := owedWork{Hash: o.hash, Owed: *res.Owed, order: o}
		if st.owed != nil && st.owed.Hash == owed.Hash {
			owed.tries = st.owed.tries
		}
		owed.tries++
		st.owed = &owed
	}
	return st
}

// retryDelay is how long owed pods wait before their next round: doubling from the
// policy's first delay, at most its cap (a minute by default).
func retryDelay(tries int, p backoff.Policy) time.Duration { return p.Nth(tries) }
