// Package waves orders the restarts that one change of a ConfigMap or Secret calls for
// in waves, and gates each wave on the health of the waves before it: a workload of
// wave 2 is restarted only once every workload of waves 0 and 1 that uses the same
// object took the change and is healthy again (health.go). A wave that is not healthy
// within its timeout holds the later ones until a newer change, or a resume. Pure: the
// caller lists the workloads, reads their status and says what time it is; what is
// decided lives in the workloads' own records, so a new leader decides the same.
package waves

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Member is one workload that uses an object of a change: its wave for each object it
// uses, whether it still owes a restart for any, and how it stands.
type Member struct {
	Name string // e.g. "Deployment/api"
	// Waves are its wave for each object it uses ("configmap/NAME").
	Waves map[string]int
	// Owed are the objects it still owes a restart for; InFlight: a restart of it is
	// under way.
	Owed     []string
	InFlight bool
	// Refused says why it cannot be restarted, if it cannot.
	Refused string
	Health  Status
	// Since is when its record says it was last restarted (zero: unknown): the timeout
	// of its health counts from there, which `cuscon plan` and a new leader read alike.
	// Waited is since when a later wave has been waiting for it (zero: not yet): the
	// timeout counts from there while it has not taken the change, and for its health
	// when Since is not known.
	Since, Waited time.Time
	Timeout       time.Duration
	// Deferred is when its maintenance window opens, while it is outside it: the waves
	// after it wait for that, with no timeout.
	Deferred time.Time
	// Resume is its resume annotation's value.
	Resume string
	// Record is its last-restart record: a hold's ID is of the holding workload's
	// record, so that a resume is for the restart that held it, and not for the next.
	Record string
}

// Kind of a gate's verdict.
type Kind int

const (
	Go   Kind = iota // restart it now
	Wait             // an earlier wave is not restarted, or not healthy yet: check again soon
	Held             // an earlier wave failed, or was not healthy within its timeout: hold
)

func (k Kind) String() string { return [...]string{"go", "wait", "held"}[k] }

// Verdict is what the gate says of one owed workload, and why: the workload of the
// earlier wave that holds it (Blocker) and its wave; Until, when waiting for a window,
// when that opens.
type Verdict struct {
	Kind    Kind
	Wave    int
	Blocker string
	Reason  string
	Until   time.Time
	// ID names a hold for a resume: the same for as long as the same workloads hold
	// the same change.
	ID string
	// Resumed: held, but its resume annotation names this hold.
	Resumed bool
}

// Gate decides, for each member that owes a restart and is not under way, whether it may
// be restarted now: only when every member of an earlier wave (for an object it owes)
// has taken the change and is healthy. One that has not taken it yet, or is not healthy,
// makes it wait until that one's timeout, past which — or at once, when it failed or
// cannot be restarted — it is held; one deferred to its maintenance window makes it wait
// for the window, with no timeout. A held member whose resume annotation names the hold
// goes: a hold's ID is of the held workload and the workload that holds it with its
// last-restart record (what both `cuscon plan` and the controller read), so that a
// resume lasts until that one is restarted again. now is the time of the decision.
func Gate(members []Member, now time.Time) map[string]Verdict {
	users := map[string][]*Member{} // by object, sorted by name: the reason given is the same every time
	ordered := make([]*Member, len(members))
	for i := range members {
		ordered[i] = &members[i]
	}
	slices.SortFunc(ordered, func(a, b *Member) int { return strings.Compare(a.Name, b.Name) })
	for _, m := range ordered {
		for ref := range m.Waves {
			users[ref] = append(users[ref], m)
		}
	}
	// Earlier waves first: a workload that waits for, or is held by, an earlier one
	// passes that on to the waves after it.
	slices.SortStableFunc(ordered, func(a, b *Member) int { return lowest(a.Waves, a.Owed) - lowest(b.Waves, b.Owed) })
	out := map[string]Verdict{}
	for _, x := range ordered {
		if len(x.Owed) == 0 || x.InFlight || x.Refused != "" {
			continue
		}
		v := Verdict{Kind: Go, Wave: lowest(x.Waves, x.Owed)}
		var blocker *Member
		for _, ref := range x.Owed {
			for _, y := range users[ref] {
				yw := y.Waves[ref]
				if y == x || yw >= x.Waves[ref] {
					continue
				}
				yv, decided := out[y.Name]
				kind, until := stands(y, ref, now, yv, decided)
				if kind > v.Kind || kind == Wait && v.Kind == Wait && until.After(v.Until) {
					v, blocker = block(y, ref, yw, now, yv, decided), y
				}
			}
		}
		if v.Kind == Held {
			sum := sha256.Sum256([]byte(x.Name + "\x00" + v.Blocker + "\x00" + blocker.Record + "\x00" + strconv.Itoa(v.Wave)))
			v.ID = hex.EncodeToString(sum[:5])
			v.Resumed = x.Resume != "" && x.Resume == v.ID
		}
		out[x.Name] = v
	}
	return out
}

// stands is how y, of an earlier wave for ref, stands in the way, cheaply: the kind of
// verdict it makes, and until when (a window). yv is the gate's verdict on y itself, if
// it owes a restart and was decided.
func stands(y *Member, ref string, now time.Time, yv Verdict, decided bool) (Kind, time.Time) {
	owes := y.InFlight || slices.Contains(y.Owed, ref)
	switch {
	case y.Refused != "":
		return Held, time.Time{}
	case owes && !y.Deferred.IsZero():
		return Wait, y.Deferred
	case owes && decided && !y.InFlight && yv.Kind == Held && !yv.Resumed:
		return Held, time.Time{}
	case owes && decided && !y.InFlight && yv.Kind == Wait:
		return Wait, yv.Until
	case owes && past(y.Waited, y.Timeout, now):
		return Held, time.Time{}
	case owes:
		return Wait, time.Time{}
	case y.Health.Health == Failed:
		return Held, time.Time{}
	case y.Health.Health == Progressing && past(cmp.Or(y.Since, y.Waited), y.Timeout, now):
		return Held, time.Time{}
	case y.Health.Health == Progressing:
		return Wait, time.Time{}
	}
	return Go, time.Time{}
}

// block is the verdict y makes, with its reason.
func block(y *Member, ref string, wave int, now time.Time, yv Verdict, decided bool) Verdict {
	kind, until := stands(y, ref, now, yv, decided)
	v := Verdict{Kind: kind, Until: until, Wave: wave, Blocker: y.Name}
	owes := y.InFlight || slices.Contains(y.Owed, ref)
	w := WaveName(wave)
	switch {
	case kind == Go:
	case y.Refused != "":
		v.Reason = fmt.Sprintf("wave %s: %s cannot be restarted: %s", w, y.Name, y.Refused)
	case owes && !y.Deferred.IsZero():
		v.Reason = fmt.Sprintf("wave %s: %s is deferred to its maintenance window, which opens at %s", w, y.Name, y.Deferred.UTC().Format(time.RFC3339))
	case owes && decided && !y.InFlight && yv.Kind != Go && !yv.Resumed:
		v.Reason = fmt.Sprintf("wave %s: %s is %s: %s", w, y.Name, map[Kind]string{Wait: "waiting", Held: "held"}[yv.Kind], yv.Reason)
	case owes && kind == Held:
		v.Reason = fmt.Sprintf("wave %s: %s has not taken the change within %s", w, y.Name, y.Timeout)
	case owes:
		v.Reason = fmt.Sprintf("wave %s: %s has not taken the change yet", w, y.Name)
	case y.Health.Health == Failed:
		v.Reason = fmt.Sprintf("wave %s: %s failed: %s", w, y.Name, y.Health.Reason)
	case kind == Held:
		v.Reason = fmt.Sprintf("wave %s: %s not healthy within %s: %s", w, y.Name, y.Timeout, y.Health.Reason)
	default:
		v.Reason = fmt.Sprintf("wave %s: %s not healthy yet: %s", w, y.Name, y.Health.Reason)
	}
	return v
}

// past reports whether timeout has passed since from (never, when from is not known).
func past(from time.Time, timeout time.Duration, now time.Time) bool {
	return !from.IsZero() && now.Sub(from) >= timeout
}

// lowest is x's lowest wave among the objects it owes.
func lowest(waves map[string]int, owed []string) int {
	w := Rest
	for _, ref := range owed {
		if n, ok := waves[ref]; ok && n < w {
			w = n
		}
	}
	return w
}
