// staging.go reads how a workload's restarts are staged: its wave for each object it
// uses, its wave timeout and maintenance window — from its own annotations, else the
// object's, else the flags' — and the record a restart leaves on it.

package reloader

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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
	decided  bool // its verdict was made in this check
	strategy string
	selector string
	window   string // the maintenance window that applies to it
	obs      waves.Observed
	status   json.RawMessage
	// err: its waves, timeout or window cannot be read: it is not restarted.
	err error
}

// memberOf reads the staging of w, which uses the objects of concerns, from its own
// annotations, those of the objects (objs) and the flags' defaults.
func (r *Mode) memberOf(w *workloadObj, concerns map[string]concern, objs sourceLookup) *member {
	a := w.Metadata.Annotations
	m := &member{w: w.ref(), selector: w.Spec.Selector.String(), status: w.Status}
	m.Name = m.w.String()
	m.Waves = map[string]int{}
	m.Resume = a[waves.ResumeAnnotation]
	m.strategy, _ = r.strategyOf(w)
	m.Since = restartedAt(a[waves.LastRestartAnnotation])
	m.obs.Metadata.Generation = w.Metadata.Generation
	m.obs.Spec.Replicas = w.Spec.Replicas
	if len(w.Spec.UpdateStrategy) > 0 {
		_ = json.Unmarshal(w.Spec.UpdateStrategy, &m.obs.Spec.UpdateStrategy)
	}
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
	m.window = cmp.Or(a[waves.WindowAnnotation], objWindow, r.cfg.Window)
	if _, err := window.Parse(m.window); err != nil && m.err == nil {
		m.err = fmt.Errorf("%s %q: %w", waves.WindowAnnotation, m.window, err)
	}
	if m.err != nil {
		for ref := range m.Waves {
			m.Waves[ref] = 0 // its place unknown: it holds every later wave
		}
	}
	return m
}

// changeOf names the change a workload owes: the views of the objects refs it owes a
// restart for, as they are now (the same in `cuscon plan`, so that the hold it shows is
// the one to resume).
func changeOf(refs []string, current workloadView) string {
	v := workloadView{}
	for _, ref := range refs {
		v[ref] = current[ref]
	}
	return v.String()
}

// restartedAt reads the time a last-restart record begins with (zero if none).
func restartedAt(record string) time.Time {
	at, _, _ := strings.Cut(record, " ")
	t, _ := time.Parse(time.RFC3339, at)
	return t
}

// lastRestart is the record written on a workload restarted in wave for why.
func lastRestart(now time.Time, wave int, why string) string {
	s := now.UTC().Format(time.RFC3339)
	if wave != waves.Rest {
		s += " wave " + waves.WaveName(wave) + ":"
	}
	return s + " " + why
}
