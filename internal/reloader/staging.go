// staging.go reads how a workload's restarts are staged: its wave for each object it
// uses, its wave timeout and maintenance window — from its own annotations, else the
// object's, else the flags' — and what a restart says of itself: the keys that changed
// and the references that made them matter, and the record it leaves on the workload.

package reloader

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/waves"
	"cuscon/internal/window"
)

// staging is an object's annotations that stage its restarts.
type staging struct{ waves, window, timeout string }

// stagingOf reads them from an object's annotations; nil when it has none.
func stagingOf(a map[string]string) *staging {
	s := staging{waves: a[waves.WavesAnnotation], window: a[waves.WindowAnnotation], timeout: a[waves.TimeoutAnnotation]}
	if s == (staging{}) {
		return nil
	}
	return &s
}

// member is what a check keeps of one opted-in workload for the gates.
type member struct {
	waves.Member
	w        kube.Workload
	key      string // workloadKey(w)
	strategy string
	selector string
	win      window.Window // the maintenance window that applies to it
	obs      waves.Observed
	// status and strategy are the workload's as listed, decoded only if its health is
	// read (most checks read none).
	status, updateStrategy json.RawMessage
	// err: its waves, timeout or window cannot be read: it is not restarted, and stands
	// in no wave (it takes no change, so the waves after it risk nothing from it).
	err error
}

// memberOf reads the staging of w, which uses the objects of concerns, from its own
// annotations, those of the objects (objs) and the flags' defaults.
func (r *Mode) memberOf(w *workloadObj, concerns map[string]concern, objs sourceLookup) *member {
	a := w.Metadata.Annotations
	m := &member{w: w.ref(), selector: w.Spec.Selector.String(), status: w.Status}
	m.Name, m.key = m.w.String(), workloadKey(m.w)
	m.Waves = map[string]int{}
	m.Resume = a[waves.ResumeAnnotation]
	m.strategy, _ = r.strategyOf(w)
	m.Record = a[waves.LastRestartAnnotation]
	if m.Since = restartedAt(m.Record); m.Since.After(time.Now()) {
		m.Since = time.Time{} // written by hand, in the future: not a time to count from
	}
	m.obs.Metadata.Generation = w.Metadata.Generation
	m.obs.Spec.Replicas = w.Spec.Replicas
	m.updateStrategy = w.Spec.UpdateStrategy
	timeout, objWindow := "", ""
	refs := make([]string, 0, len(concerns))
	for ref := range concerns {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	for _, ref := range refs {
		c := concerns[ref]
		info, _ := objs.get(c.res, c.name)
		st := cmp.Or(info.staging, &staging{})
		wave, err := waves.WaveOf(a, w.Metadata.Labels, st.waves)
		if err != nil && m.err == nil {
			m.err = fmt.Errorf("%s: %w", ref, err)
		}
		m.Waves[ref] = wave
		timeout, objWindow = cmp.Or(timeout, st.timeout), cmp.Or(objWindow, st.window)
	}
	var err error
	if m.Timeout, err = waves.Timeout(cmp.Or(a[waves.TimeoutAnnotation], timeout), r.cfg.WaveTimeout); err != nil && m.err == nil {
		m.err = err
	}
	text := cmp.Or(a[waves.WindowAnnotation], objWindow, r.cfg.Window)
	if m.win, err = r.windows.parse(text); err != nil && m.err == nil {
		m.err = fmt.Errorf("%s %q: %w", waves.WindowAnnotation, text, err)
	}
	if m.err != nil {
		m.Waves = map[string]int{}
	}
	return m
}

// restartedAt reads the time a last-restart record begins with (zero if none).
func restartedAt(record string) time.Time {
	at, _, _ := strings.Cut(record, " ")
	t, _ := time.Parse(time.RFC3339, at)
	return t
}

// maxRecord bounds the last-restart record: the explanation of a change of many keys of
// many objects is cut, so that it cannot push the workload's annotations past the API's
// bound (and the restart's write be refused for ever).
const maxRecord = 1024

// lastRestart is the record written on a workload restarted in wave for why.
func lastRestart(now time.Time, wave int, why string) string {
	s := now.UTC().Format(time.RFC3339)
	if wave != waves.Rest {
		s += " wave " + waves.WaveName(wave) + ":"
	}
	s += " " + why
	if len(s) > maxRecord {
		s = strings.ToValidUTF8(s[:maxRecord-len("…")], "") + "…"
	}
	return s
}

// windowCache parses each distinct window once (a zone is read from the zone data each
// time it is loaded); it holds at most maxCachedWindows, and a nil one parses every time.
type windowCache struct {
	mu sync.Mutex
	m  map[string]parsedWindow
}

type parsedWindow struct {
	w   window.Window
	err error
}

const maxCachedWindows = 256

func newWindowCache() *windowCache { return &windowCache{m: map[string]parsedWindow{}} }

func (c *windowCache) parse(text string) (window.Window, error) {
	if c == nil || text == "" {
		return window.Parse(text)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.m[text]; ok {
		return p.w, p.err
	}
	w, err := window.Parse(text)
	if len(c.m) >= maxCachedWindows {
		clear(c.m) // a tenant churning annotations refills it; nothing else grows
	}
	c.m[text] = parsedWindow{w, err}
	return w, err
}

// explain says what changed of each object a workload is restarted for, and how the
// workload uses it: the keys (names only) and the references that made them matter.
func explain(v workloadVerdict, concerns map[string]concern) string {
	parts := make([]string, 0, len(v.changed))
	for _, changed := range v.changed {
		ref, _, _ := strings.Cut(changed, " ")
		if c, ok := concerns[ref]; ok && len(c.use.via) > 0 {
			changed += " (" + strings.Join(c.use.via, ", ") + ")"
		} else if ok {
			changed += " (" + c.why + ")" // named by a reload list, not used by the pods
		}
		parts = append(parts, changed)
	}
	return strings.Join(parts, "; ") + " changed"
}

// lowestWave is m's first wave among the objects it owes a restart for.
func lowestWave(m *member) int {
	w := waves.Rest
	for _, ref := range m.Owed {
		w = min(w, m.Waves[ref])
	}
	return w
}

// recordOf is what a restart writes on the workload's own metadata: the view it
// applied, and the record of what restarted it.
func recordOf(view, stamp string) map[string]string {
	return map[string]string{AppliedConfigsAnnotation: view, waves.LastRestartAnnotation: stamp}
}
