// Package waves orders the restarts that one change of a ConfigMap or Secret calls for
// in waves, and gates each wave on the health of the waves before it: a workload of
// wave 2 is restarted only once every workload of waves 0 and 1 that uses the same
// object took the change and is healthy again (health.go). A wave that is not healthy
// within its timeout holds the later ones until a newer change, or a resume. Pure: the
// caller lists the workloads, reads their status and says what time it is; what is
// decided lives in the workloads' own records, so a new leader decides the same.
package waves

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cuscon/internal/labels"
)

// The annotations of waves, gates and windows.
const (
	// WaveAnnotation on a workload is its wave: a number from 0 to MaxWave.
	WaveAnnotation = "cuscon.dev/wave"
	// WavesAnnotation on a ConfigMap or Secret orders its consumers: label selectors
	// separated by ";", the first that a workload's labels match is its wave (1, 2, …).
	WavesAnnotation = "cuscon.dev/waves"
	// TimeoutAnnotation on a workload (or on the object) is how long its wave may take
	// to get healthy before the later ones are held (a Go duration).
	TimeoutAnnotation = "cuscon.dev/wave-timeout"
	// ResumeAnnotation on a held workload, set to the hold's id, restarts it without
	// waiting for the waves before it, once.
	ResumeAnnotation = "cuscon.dev/resume"
	// WindowAnnotation on a workload (or on the object) is its maintenance window
	// (package window).
	WindowAnnotation = "cuscon.dev/maintenance-window"
	// LastRestartAnnotation is written on a workload when cuscon restarts it: when, in
	// which wave, and for which keys of which object, used how.
	LastRestartAnnotation = "cuscon.dev/last-restart"
)

// Bounds on what a tenant writes: a wave number, and the selectors of an object's waves.
const (
	MaxWave      = 1000
	maxSelectors = 20
	maxWavesText = 2048
	// Rest is the wave of a workload no annotation places: after every numbered wave.
	Rest = MaxWave + 1
)

// WaveOf is the wave of a workload with labels and annotations (its own metadata's)
// for a change of an object whose waves annotation is objWaves: its own wave
// annotation, else the first of the object's selectors that its labels match, else
// Rest. An annotation that cannot be read is an error naming it.
func WaveOf(annotations, workloadLabels map[string]string, objWaves string) (int, error) {
	if v, ok := annotations[WaveAnnotation]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > MaxWave {
			return 0, fmt.Errorf("%s %q: want a number from 0 to %d", WaveAnnotation, v, MaxWave)
		}
		return n, nil
	}
	sels, err := ParseWaves(objWaves)
	if err != nil {
		return 0, err
	}
	for i, sel := range sels {
		if ok, _ := labels.Matches(sel, workloadLabels); ok {
			return i + 1, nil
		}
	}
	return Rest, nil
}

// ParseWaves reads an object's waves annotation: label selectors separated by ";"
// ("*" matches every workload).
func ParseWaves(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	if len(v) > maxWavesText {
		return nil, fmt.Errorf("%s: %d bytes, over the bound of %d", WavesAnnotation, len(v), maxWavesText)
	}
	parts := strings.Split(v, ";")
	if len(parts) > maxSelectors {
		return nil, fmt.Errorf("%s: %d selectors, over the bound of %d", WavesAnnotation, len(parts), maxSelectors)
	}
	var out []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "*" {
			p = ""
		} else if err := labels.Check(p); err != nil || p == "" {
			return nil, fmt.Errorf("%s: selector %q: want a label selector, or * for the rest", WavesAnnotation, p)
		}
		out = append(out, p)
	}
	return out, nil
}

// Timeout reads a wave timeout annotation; def when it is not set.
func Timeout(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive duration such as 10m", TimeoutAnnotation, v)
	}
	return d, nil
}

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
	// Since is when it was last restarted (or, if that is not known, since when it has
	// been waited for): its timeout counts from there.
	Since   time.Time
	Timeout time.Duration
	// Resume is its resume annotation's value.
	Resume string
	// Change names what it owes (e.g. a digest of the record it will carry): a hold's ID
	// is of the change too, so that a resume is for one change only.
	Change string
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
// earlier wave that holds it (Blocker) and its wave.
type Verdict struct {
	Kind    Kind
	Wave    int
	Blocker string
	Reason  string
	// ID names a hold for a resume: the same for as long as the same workloads hold
	// the same change.
	ID string
	// Resumed: held, but its resume annotation names this hold.
	Resumed bool
}

// Gate decides, for each member that owes a restart and is not under way, whether it may
// be restarted now: only when every member of an earlier wave (for an object it owes)
// has taken the change and is healthy. One that has not taken it yet makes it wait; one
// that is not healthy makes it wait until its timeout, past which, or when it failed or
// cannot be restarted, it is held. A held member whose resume annotation names the
// hold goes. now is the time of the decision.
func Gate(members []Member, now time.Time) map[string]Verdict {
	out := map[string]Verdict{}
	for _, x := range members {
		if len(x.Owed) == 0 || x.InFlight || x.Refused != "" {
			continue
		}
		v := Verdict{Kind: Go, Wave: lowest(x.Waves, x.Owed)}
		for _, y := range sorted(members) {
			if y.Name == x.Name {
				continue
			}
			for _, ref := range x.Owed {
				yw, uses := y.Waves[ref]
				if !uses || yw >= x.Waves[ref] {
					continue
				}
				if b := block(y, ref, yw, now); b.Kind > v.Kind {
					v = b
				}
			}
		}
		if v.Kind == Held {
			v.ID = holdID(x, v)
			v.Resumed = x.Resume != "" && x.Resume == v.ID
		}
		out[x.Name] = v
	}
	return out
}

// block is how y, of an earlier wave for ref, stands in the way.
func block(y Member, ref string, wave int, now time.Time) Verdict {
	v := Verdict{Wave: wave, Blocker: y.Name}
	switch {
	case y.Refused != "":
		v.Kind, v.Reason = Held, fmt.Sprintf("wave %s: %s cannot be restarted: %s", WaveName(wave), y.Name, y.Refused)
	case y.InFlight || slices.Contains(y.Owed, ref):
		v.Kind, v.Reason = Wait, fmt.Sprintf("wave %s: %s has not taken the change yet", WaveName(wave), y.Name)
	case y.Health.Health == Failed:
		v.Kind, v.Reason = Held, fmt.Sprintf("wave %s: %s failed: %s", WaveName(wave), y.Name, y.Health.Reason)
	case y.Health.Health == Progressing && !y.Since.IsZero() && now.Sub(y.Since) >= y.Timeout:
		v.Kind, v.Reason = Held, fmt.Sprintf("wave %s: %s not healthy within %s: %s", WaveName(wave), y.Name, y.Timeout, y.Health.Reason)
	case y.Health.Health == Progressing:
		v.Kind, v.Reason = Wait, fmt.Sprintf("wave %s: %s not healthy yet: %s", WaveName(wave), y.Name, y.Health.Reason)
	}
	return v
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

// sorted orders members by name, so that the reason given is the same every time.
func sorted(ms []Member) []Member {
	out := slices.Clone(ms)
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// holdID names a hold: which workload, held for which change, by which, in which
// wave; short enough to type.
func holdID(x Member, v Verdict) string {
	sum := sha256.Sum256([]byte(x.Name + "\x00" + x.Change + "\x00" + v.Blocker + "\x00" + strconv.Itoa(v.Wave)))
	return hex.EncodeToString(sum[:5])
}

// WaveName is a wave as the annotations say it ("rest" for Rest).
func WaveName(w int) string {
	if w == Rest {
		return "rest"
	}
	return strconv.Itoa(w)
}
