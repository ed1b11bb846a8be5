// plan.go is the mode's part of `cuscon plan`: for each workload that carries Reloader's
// annotations, what a change of each object it opted in to would restart, and why, as
// the mode itself would decide it. It sends GETs only.

package reloader

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"cuscon/internal/kube"
	"cuscon/internal/labels"
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
	m := &Mode{cfg: cfg, rules: cfg.Options.rules(), kinds: cfg.Options.kinds(), lists: newListCache(), filter: newNSFilter(cfg.Options)}
	var out []Planned
	for _, scope := range cfg.Scopes {
		if scope.Resource != kube.ConfigMaps && slices.ContainsFunc(cfg.Scopes, func(s kube.Scope) bool {
			return s.Resource == kube.ConfigMaps && s.Namespace == scope.Namespace
		}) {
			continue // every namespace once
		}
		err := listWorkloads(ctx, c, scope.Namespace, m.kinds, false, nil, func(w *workloadObj) {
			if m.optsIn(w) && !m.filter.ignore[w.Metadata.Namespace] {
				out = append(out, m.planWorkload(w, index[w.Metadata.Namespace], kinds, self)...)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// planWorkload plans one workload: one row for each object of the kinds watched that
// it opted in to, with how it uses it.
func (m *Mode) planWorkload(w *workloadObj, objs sourceLookup, kinds []kube.Resource, self kube.Workload) []Planned {
	t := w.ref()
	if w.Kind == "Job" && kube.ControllerOf(&w.Metadata) != nil {
		return nil
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
	for _, res := range kinds {
		rec, _ := parseView(w.Metadata.Annotations[AppliedConfigsAnnotation])
		concerns, err := optedIn(w, res, objs, m.lists, m.rules, rec)
		if err != nil {
			rows = append(rows, Planned{Namespace: t.Namespace, Object: "-", Why: t.String(), Refused: err.Error()})
			continue
		}
		for ref, c := range concerns {
			row := Planned{Namespace: t.Namespace, Object: ref, Strategy: strategy, Why: t.String() + ": " + c.why, Refused: refused}
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
	return rows
}
