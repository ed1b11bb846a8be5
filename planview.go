// planview.go is the pure part of `cuscon plan` (plan.go): for each ConfigMap or Secret,
// what a change of it would restart, why, and what cuscon would refuse, decided by the
// controller's own functions (decide.go and selector.go for the annotation, optedIn and
// viewOf for the Reloader mode); and the plan written as a table or as JSON.

package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// planRow is one line of the plan: an object, and what a change of its content would
// restart.
type planRow struct {
	Namespace string `json:"namespace"`
	Object    string `json:"object"`             // configmap/NAME or secret/NAME
	Strategy  string `json:"strategy,omitempty"` // empty when refused
	// Restarts are what a change restarts: pod/NAME, or Deployment/NAME (and the like).
	Restarts []string `json:"restarts"`
	// Skipped are matching pods cuscon would leave alone, each with why.
	Skipped []string `json:"skipped,omitempty"`
	Why     string   `json:"why"`
	Refused string   `json:"refused,omitempty"`
	Note    string   `json:"note,omitempty"`
	// selector, when set, is the label selector whose pods are the restarts; rollout:
	// whether pods stand for their workloads (the annotation's rollout strategy).
	selector string
	rollout  bool
}

// changeHash stands for any new content: the plan asks what a change would do.
const changeHash = "(changed)"

// articleRow plans an object carrying the annotation: decide is asked what a change of
// its content would do, as if cuscon had applied the content before.
func articleRow(obj *source, annotation string, p policy) planRow {
	obs := (&controller{annotation: annotation}).observe(obj)
	obs.hash = changeHash
	row := planRow{Namespace: obj.Metadata.Namespace, Object: keysFor(obj.Resource).kind + "/" + obj.Metadata.Name,
		Why: annotation + ": " + strconv.Quote(obs.selector)}
	_, v := decide(objState{}, true, obs, p)
	switch v.kind {
	case refuseSelector, refuseStrategy:
		row.Refused = v.err.Error()
	case restartAll:
		row.Strategy, row.selector, row.rollout = v.req.strategy, v.req.selector, v.req.strategy == "rollout"
	}
	return row
}

// reloaderRows plans a workload that carries Reloader's annotations: one row for each
// object of the kinds watched that it opted in to, with how it uses it.
func reloaderRows(w *workloadObj, objs sourceLookup, lists *listCache, kinds []resource, overrides []string, me self) []planRow {
	t := w.target()
	value, set := w.Metadata.Annotations[strategyAnnotation]
	strategy, err := chooseStrategy(value, set, "rollout", overrides)
	refused, sel := "", ""
	switch {
	case t == me.workload:
		refused, strategy = t.String()+" runs cuscon itself; not restarted", ""
	case err != nil:
		refused = fmt.Sprintf("%s: %v", t, err)
	case strategy != "rollout":
		sel = w.Spec.Selector.String()
		if err := checkSelector(sel); err != nil {
			refused = fmt.Sprintf("the pods of %s, selected by %q: %v", t, sel, err)
			strategy, sel = "", ""
		}
	}
	var rows []planRow
	for _, res := range kinds {
		concerns, err := optedIn(w, res, objs, lists)
		if err != nil {
			rows = append(rows, planRow{Namespace: t.Namespace, Object: "-", Why: t.String(), Refused: err.Error()})
			continue
		}
		for ref, c := range concerns {
			row := planRow{Namespace: t.Namespace, Object: ref, Strategy: strategy, Why: t.String() + ": " + c.why, Refused: refused}
			info, _ := objs.get(res, c.name)
			switch {
			case refused != "":
			case info.d == nil && !c.use.optional:
				row.Strategy = ""
				row.Note = "does not exist, or --watch-selector leaves it out: nothing to compare; creating it restarts nothing (the pods wait for it)"
			case sel != "":
				row.selector = sel
			default:
				row.Restarts = []string{t.String()}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// podTargets adds the pods a row's selector matched: those restarted, and those skipped
// with why (skipReason, as the executor decides).
func podTargets(row *planRow, pods []pod, me self, deleteUnowned bool) {
	for i := range pods {
		p := &pods[i]
		if why := skipReason(p, me, deleteUnowned); why != "" {
			row.Skipped = append(row.Skipped, "pod/"+p.Metadata.Name+": "+why)
			continue
		}
		row.Restarts = append(row.Restarts, "pod/"+p.Metadata.Name)
	}
}

// sortPlan orders rows by namespace, object, then why.
func sortPlan(rows []planRow) {
	slices.SortFunc(rows, func(a, b planRow) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Object, b.Object), cmp.Compare(a.Why, b.Why))
	})
}

// writePlan writes rows as a table ("text") or as a JSON array ("json").
func writePlan(out io.Writer, rows []planRow, format string) error {
	if format == "json" {
		if rows == nil {
			rows = []planRow{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tOBJECT\tWHY\tSTRATEGY\tRESTARTS")
	for _, r := range rows { // the longest column last
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Object, r.Why, cmp.Or(r.Strategy, "-"), restartsCell(r))
	}
	return tw.Flush()
}

// restartsCell is what the table says a row restarts, refuses or leaves alone.
func restartsCell(r planRow) string {
	if r.Refused != "" {
		return "refused: " + r.Refused
	}
	s := strings.Join(r.Restarts, ", ")
	if s == "" {
		s = "nothing"
	}
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	if len(r.Skipped) > 0 {
		s += " (skips " + strings.Join(r.Skipped, "; ") + ")"
	}
	return s
}
