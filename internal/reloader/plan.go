// plan.go is the mode's part of `cuscon plan`: for each workload that carries Reloader's
// annotations, what a change of each object it opted in to would restart, and why, as
// the mode itself would decide it. It sends GETs only.

package reloader

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/labels"
	"cuscon/internal/waves"
)

// Planned is what a change of one object would do to one workload.
type Planned struct {
	Namespace string
	Object    string // configmap/NAME or secret/NAME; "-" when the workload is refused whole
	Strategy  string // empty when nothing would be restarted
	// Restarts is the workload, when it is rolled; with delete or evict, Selector
	// selects the pods that stand for it instead.
	Restarts []string
	Selector string
	Why      string
	Refused  string
	Note     string
	// Wave is the workload's wave for the object ("" when no annotation places it);
	// Window its maintenance window, open or closed now; Owed what it owes now and
	// what stands in the way (a window, an earlier wave, a hold and its resume).
	Wave, Window, Owed string
	workload           string // kind/name
}

// Plan lists the workloads of the scopes' namespaces that carry Reloader's annotations
// and plans each as a mode told cfg would decide, from objects: what a list of the
// scopes saw, summarized by Summarize. self is cuscon's own workload.
func Plan(ctx context.Context, c *kube.Client, cfg Config, objects []Seen, self kube.Workload) ([]Planned, error) {
	index := map[string]nsObjects{}
	for _, s := range objects {
		if index[s.namespace] == nil {
			index[s.namespace] = nsObjects{}
		}
		index[s.namespace][s.res.Plural+"/"+s.name] = s.info
	}
	var kinds []kube.Resource
	for _, scope := range cfg.Scopes {
		if !slices.Contains(kinds, scope.Resource) {
			kinds = append(kinds, scope.Resource)
		}
	}
	cfg.Options.Strategy = cmp.Or(cfg.Options.Strategy, StrategyEnvVars)
	cfg.WaveTimeout = cmp.Or(cfg.WaveTimeout, 10*time.Minute)
	m := &Mode{client: c, cfg: cfg, rules: cfg.Options.rules(), kinds: cfg.Options.kinds(), lists: newListCache(), filter: newNSFilter(cfg.Options),
		waited: map[string]time.Time{}}
	var out []Planned
	for _, scope := range cfg.Scopes {
		if scope.Resource != kube.ConfigMaps && slices.ContainsFunc(cfg.Scopes, func(s kube.Scope) bool {
			return s.Resource == kube.ConfigMaps && s.Namespace == scope.Namespace
		}) {
			continue // every namespace once
		}
		var rows []Planned
		var members []*member
		err := listWorkloads(ctx, c, scope.Namespace, m.kinds, false, m.optsIn, nil, func(w *workloadObj) {
			if !m.filter.ignore[w.Metadata.Namespace] {
				planned, mem := m.planWorkload(w, index[w.Metadata.Namespace], kinds, self)
				rows = append(rows, planned...)
				if mem != nil {
					members = append(members, mem)
				}
			}
		})
		if err != nil {
			return nil, err
		}
		out = append(out, m.planStaging(ctx, rows, members, time.Now())...)
	}
	return out, nil
}

// planStaging adds to rows each workload's wave and window, and what it owes now and
// what stands in the way, as the gates would decide it at now.
func (m *Mode) planStaging(ctx context.Context, rows []Planned, members []*member, now time.Time) []Planned {
	byName := map[string]*member{}
	peers := map[string][]*member{}
	for _, x := range members {
		byName[x.w.Namespace+"/"+x.Name] = x
		peers[x.w.Namespace] = append(peers[x.w.Namespace], x)
	}
	verdicts := map[string]waves.Verdict{}
	for ns, xs := range peers {
		for _, x := range xs {
			if open, opens := x.win.At(now); len(x.Owed) > 0 && !open {
				x.Deferred = opens // the waves after it wait for its window
			}
		}
		for name, v := range m.gate(ctx, xs, now) {
			verdicts[ns+"/"+name] = v
		}
	}
	for i := range rows {
		row := &rows[i]
		x := byName[row.Namespace+"/"+row.workload]
		if x == nil {
			continue
		}
		if wave, ok := x.Waves[row.Object]; ok && wave != waves.Rest {
			row.Wave = waves.WaveName(wave)
		}
		open, _ := x.win.At(now)
		row.Window = x.win.Describe(now)
		if !slices.Contains(x.Owed, row.Object) {
			continue
		}
		v, gated := verdicts[row.Namespace+"/"+row.workload]
		switch {
		case !open:
			row.Owed = "deferred to its maintenance window"
		case !gated || v.Kind == waves.Go:
			row.Owed = "restarts at the next check"
		case v.Kind == waves.Held && v.Resumed:
			row.Owed = "held, resumed: restarts at the next check"
		case v.Kind == waves.Wait:
			row.Owed = "waits: " + v.Reason
		default:
			row.Owed = fmt.Sprintf("held: %s; resume: kubectl annotate %s -n %s %s=%s", v.Reason, strings.ToLower(x.w.String()), x.w.Namespace, waves.ResumeAnnotation, v.ID)
		}
	}
	return rows
}

// planWorkload plans one workload: one row for each object of the kinds watched that
// it opted in to, with how it uses it; and what the gates know of it, with the objects
// it owes a restart for (what it uses of them is not what its record holds).
func (m *Mode) planWorkload(w *workloadObj, objs sourceLookup, kinds []kube.Resource, self kube.Workload) ([]Planned, *member) {
	t := w.ref()
	if w.Kind == "Job" && kube.ControllerOf(&w.Metadata) != nil {
		return nil, nil
	}
	strategy, err := m.strategyOf(w)
	refused, sel := "", ""
	switch {
	case t == self:
		refused, strategy = t.String()+" runs cuscon itself; not restarted", ""
	case err != nil:
		refused = fmt.Sprintf("%s: %v", t, err)
	case strategy == "delete" || strategy == "evict":
		sel = w.Spec.Selector.String()
		if err := labels.Check(sel); err != nil {
			refused = fmt.Sprintf("the pods of %s, selected by %q: %v", t, sel, err)
			strategy, sel = "", ""
		}
	}
	var rows []Planned
	all := map[string]concern{}
	rec, recorded := parseView(w.Metadata.Annotations[AppliedConfigsAnnotation])
	for _, res := range kinds {
		concerns, err := optedIn(w, res, objs, m.lists, m.rules, rec)
		if err != nil {
			rows = append(rows, Planned{Namespace: t.Namespace, Object: "-", Why: t.String(), Refused: err.Error()})
			continue
		}
		maps.Copy(all, concerns)
		for ref, c := range concerns {
			row := Planned{Namespace: t.Namespace, Object: ref, Strategy: strategy, Why: t.String() + ": " + c.why, Refused: refused, workload: t.String()}
			info, _ := objs.get(res, c.name)
			switch {
			case refused != "":
			case info.d == nil && !c.use.optional:
				row.Strategy = ""
				row.Note = "does not exist, or --watch-selector leaves it out: nothing to compare; creating it restarts nothing (the pods wait for it)"
			case info.d == nil && c.named && !m.rules.onCreate:
				row.Strategy = ""
				row.Note = "does not exist: creating it restarts nothing (--reload-on-create is off)"
			case info.d == nil && c.named:
				row.Restarts = []string{t.String()}
				row.Note = "does not exist yet: creating it restarts the workload (--reload-on-create)"
			case sel != "":
				row.Selector = sel
			default:
				row.Restarts = []string{t.String()}
			}
			rows = append(rows, row)
		}
	}
	if t == self || len(all) == 0 {
		return rows, nil
	}
	x := m.memberOf(w, all, objs)
	for ref, c := range all {
		info, _ := objs.get(c.res, c.name)
		// A Secret's record is keyed with the controller's digest key, which the plan does
		// not read: only ConfigMaps are known to be owed.
		if now, ok := viewOf(c.use, info.d); ok && recorded && !info.unknown && c.res != kube.Secrets && changedKeys(rec[ref], now, nil) != nil {
			x.Owed = append(x.Owed, ref)
		}
	}
	slices.Sort(x.Owed)
	if len(x.Owed) > 0 && (refused != "" || x.err != nil) { // as the controller: refused when it owes a restart
		x.Refused = cmp.Or(refused, fmt.Sprint(x.err))
	}
	return rows, x
}
