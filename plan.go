// plan.go is `cuscon plan`, read-only: it lists the ConfigMaps and Secrets in scope as
// the controller's watchers do, and says for each object what a change would restart
// and why, or what cuscon would refuse, decided by the controller's own functions
// (decide, skipReason) and, for workloads that carry Reloader's annotations, by the
// Reloader mode's (reloader.Plan). It sends GETs only.

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"cuscon/internal/envflag"
	"cuscon/internal/kube"
	"cuscon/internal/reloader"
	"cuscon/internal/restart"
	"cuscon/internal/telemetry"
	"cuscon/internal/window"
)

// planConfig is what `cuscon plan` can be told: the flags that decide the controller's
// behaviour, how to reach the API, and how to write the plan.
type planConfig struct {
	config
	Output string
	// podName and podNamespace are cuscon's own pod (POD_NAME, POD_NAMESPACE), which
	// it never restarts, nor the workload that runs it.
	podName, podNamespace string
}

// planUsage is the first lines of `cuscon plan --help`.
const planUsage = `Usage:
  cuscon plan [-n NAMESPACE | --namespaces NS,NS | -A] [-o text|json] [flags]

Lists each ConfigMap and Secret the controller would act on, what a change of its
content would restart and why, and what it would refuse, as the controller told the same
flags would decide. It only reads (GETs and lists): it needs get and list on what it
shows, nothing more.`

// parsePlanConfig reads the plan's flags; -n and -A are kubectl's short forms.
func parsePlanConfig(args []string, getenv func(string) string, out io.Writer) (planConfig, error) {
	var c planConfig
	s := envflag.New("cuscon plan", planUsage, out, getenv)
	defineDecisionFlags(s, &c.config)
	s.Alias("n", "namespace")
	s.Alias("A", "all-namespaces")
	s.Group("Output")
	s.String(&c.Output, "o", "", "text", "text (a table) or json")
	s.Group("API access")
	c.Connection.DefineFlags(s)
	c.podName, c.podNamespace = getenv("POD_NAME"), getenv("POD_NAMESPACE")
	if err := s.Parse(args); err != nil {
		return c, err
	}
	if c.Output != "text" && c.Output != "json" {
		return c, fmt.Errorf("-o %q: want text or json", c.Output)
	}
	return c, c.checkDecisions()
}

// planMain runs `cuscon plan` and returns its exit code.
func planMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parsePlanConfig(args, getenv, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "cuscon plan:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rows, err := makePlan(ctx, cfg)
	if err == nil {
		err = writePlan(stdout, rows, cfg.Output)
	}
	if err != nil {
		fmt.Fprintln(stderr, "cuscon plan:", err)
		return 1
	}
	return 0
}

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
	// Wave (the Reloader mode's), Window and Owed: when a restart may run, what is owed.
	Wave   string `json:"wave,omitempty"`
	Window string `json:"window,omitempty"`
	Owed   string `json:"owed,omitempty"`
	// selector, when set, is the label selector whose pods are the restarts; rollout:
	// whether pods stand for their workloads (the annotation's rollout strategy).
	selector string
	rollout  bool
}

// makePlan lists what cfg puts in scope and plans every object cuscon would act on.
func makePlan(ctx context.Context, cfg planConfig) ([]planRow, error) {
	client, err := kube.Connect(cfg.Connection, telemetry.NewMetrics(version))
	if err != nil {
		return nil, err
	}
	podNamespace := cmp.Or(cfg.podNamespace, kube.ServiceAccountNamespace(cfg.Connection.ServiceAccountDir))
	me, err := findSelf(ctx, client, self{namespace: podNamespace, name: cfg.podName})
	if err != nil {
		return nil, err
	}
	// Secrets are digested with a key of the plan's own: it shows no digest.
	modeCfg := reloader.Config{Scopes: cfg.scopes(), Key: []byte("cuscon plan"), Overrides: cfg.overrides(), Options: cfg.Reloader,
		WaveTimeout: cfg.WaveTimeout, Window: cfg.MaintenanceWindow}
	var rows []planRow
	var objects []reloader.Seen
	for _, scope := range cfg.scopes() {
		q := url.Values{}
		if sel := cfg.watchSelector(); sel != "" {
			q.Set("labelSelector", sel)
		}
		_, err := kube.ListPages(ctx, client, kube.CollectionPath(scope.Resource, scope.Namespace), q, nil, func(obj *kube.Object) {
			obj.Resource = scope.Resource
			objects = append(objects, reloader.Summarize(obj, cfg.Reloader.Keys, modeCfg.Key, false))
			if _, ok := obj.Metadata.Annotations[cfg.Annotation]; ok {
				rows = append(rows, articleRow(obj, cfg.Annotation, cfg.policy()))
			}
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", scope, err)
		}
	}
	if cfg.ReloaderAnnotations {
		planned, err := reloader.Plan(ctx, client, modeCfg, objects, me.workload)
		if err != nil {
			return nil, err
		}
		for _, p := range planned {
			rows = append(rows, planRow{Namespace: p.Namespace, Object: p.Object, Strategy: p.Strategy, Restarts: p.Restarts,
				Why: p.Why, Refused: p.Refused, Note: p.Note, selector: p.Selector, Wave: p.Wave, Window: p.Window, Owed: p.Owed})
		}
	}
	podsOf := &pods{client: client, deleteUnowned: cfg.DeleteUnownedPods}
	for i := range rows {
		if err := planPods(ctx, podsOf, &rows[i], me); err != nil {
			return nil, err
		}
	}
	sortPlan(rows)
	return rows, nil
}

// changeHash stands for any new content: the plan asks what a change would do.
const changeHash = "(changed)"

// articleRow plans an object carrying the annotation: decide is asked what a change of
// its content would do, as if cuscon had applied the content before.
func articleRow(obj *kube.Object, annotation string, p policy) planRow {
	obs := observe(obj, annotation)
	owed := obs.recorded.applied != "" && obs.recorded.applied != obs.hash
	obs.hash, obs.at = changeHash, time.Now()
	row := planRow{Namespace: obj.Metadata.Namespace, Object: strings.ToLower(obj.Resource.Kind) + "/" + obj.Metadata.Name,
		Why: annotation + ": " + strconv.Quote(obs.selector)}
	_, v := decide(objState{}, true, obs, p)
	switch v.kind {
	case refuseSelector, refuseStrategy, refuseWindow:
		row.Refused = v.err.Error()
	case restartAll, deferToWindow:
		row.Strategy, row.selector, row.rollout = v.order.Strategy, v.order.Selector, v.order.Strategy == "rollout"
	}
	if win, err := window.Parse(cmp.Or(obs.window, p.window)); err == nil {
		row.Window = win.Describe(obs.at)
		if owed && v.kind == deferToWindow {
			row.Owed = "deferred to its maintenance window"
		}
	}
	return row
}

// planPods lists the pods of a row's selector, as a restart would: those restarted, and
// those skipped with why. With the rollout strategy each pod stands for the workload that
// rolls it, if it has one.
func planPods(ctx context.Context, podsOf *pods, row *planRow, me self) error {
	if row.selector == "" {
		return nil
	}
	list, err := podsOf.List(ctx, row.Namespace, row.selector)
	if err != nil {
		row.Note = "the pods could not be listed: " + err.Error()
		return ctx.Err()
	}
	restarted := podTargets(row, list, me, podsOf.deleteUnowned)
	if !row.rollout {
		return nil
	}
	row.Restarts = nil
	for _, p := range restarted {
		t := "pod/" + p.Metadata.Name // no workload to roll: deleted instead
		w, ok, err := restart.WorkloadOf(ctx, podsOf.client, p)
		switch {
		case err != nil: // this row cannot say more; the others can
			row.Note = cmp.Or(row.Note, fmt.Sprintf("the workload of %s could not be found: %v", p.Metadata.Name, err))
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		case ok && w == me.workload:
			continue
		case ok:
			t = w.String()
		}
		if !slices.Contains(row.Restarts, t) {
			row.Restarts = append(row.Restarts, t)
		}
	}
	return nil
}

// podTargets adds the pods a row's selector matched to the row: those restarted, and
// those skipped with why (skipReason, as the executor decides); it returns the former.
func podTargets(row *planRow, list []kube.Pod, me self, deleteUnowned bool) []*kube.Pod {
	var restarted []*kube.Pod
	for i := range list {
		p := &list[i]
		if why := skipReason(p, me, deleteUnowned); why != "" {
			row.Skipped = append(row.Skipped, "pod/"+p.Metadata.Name+": "+why)
			continue
		}
		row.Restarts = append(row.Restarts, "pod/"+p.Metadata.Name)
		restarted = append(restarted, p)
	}
	return restarted
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
	for _, x := range [][2]string{{"wave ", r.Wave}, {"window ", r.Window}, {"owed: ", r.Owed}} {
		if x[1] != "" {
			s += " (" + x[0] + x[1] + ")"
		}
	}
	return s
}
