// plan.go is `cuscon plan`, read-only: it lists the ConfigMaps and Secrets in scope as
// the controller's watchers do, and the workloads as the Reloader mode does, and says
// for each object what a change would restart and why, or what cuscon would refuse
// (planview.go decides). It sends GETs only.

package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
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

// parsePlanConfig reads the plan's flags; -n and -A are kubectl's short forms.
func parsePlanConfig(args []string, getenv func(string) string, out io.Writer) (planConfig, error) {
	var c planConfig
	e := newEnvFlags("cuscon plan", "Usage: cuscon plan [-n NAMESPACE | -A] [-o text|json] [flags]\n\n"+
		"Lists each ConfigMap and Secret cuscon would act on, what a change of it would restart and why, and what cuscon would refuse. Changes nothing.", out, getenv)
	e.connection(&c.commonConfig)
	e.decisionFlags(&c.config)
	e.fs.StringVar(&c.Namespace, "n", c.Namespace, "short for --namespace")
	e.fs.BoolVar(&c.AllNamespaces, "A", c.AllNamespaces, "short for --all-namespaces")
	e.fs.StringVar(&c.Output, "o", "text", "output: text (a table) or json")
	c.podName, c.podNamespace = getenv("POD_NAME"), getenv("POD_NAMESPACE")
	if err := e.fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case e.err != nil:
		return c, e.err
	case e.fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %q", e.fs.Args())
	case c.Output != "text" && c.Output != "json":
		return c, fmt.Errorf("-o %q: want text or json", c.Output)
	}
	return c, c.checkDecisions()
}

// planMain runs `cuscon plan` and returns its exit code.
func planMain(args []string) int {
	cfg, err := parsePlanConfig(args, os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, "cuscon plan:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rows, err := makePlan(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err == nil {
		err = writePlan(os.Stdout, rows, cfg.Output)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cuscon plan:", err)
		return 1
	}
	return 0
}

// makePlan lists what cfg puts in scope and plans every object cuscon would act on.
func makePlan(ctx context.Context, cfg planConfig, log *slog.Logger) ([]planRow, error) {
	api, _, err := connect(cfg.APIURL, cfg.InCluster, cfg.ServiceAccountDir, newMetrics())
	if err != nil {
		return nil, err
	}
	if cfg.podNamespace == "" {
		cfg.podNamespace = serviceAccountNamespace(cfg.ServiceAccountDir)
	}
	me, err := findSelf(ctx, api, self{namespace: cfg.podNamespace, name: cfg.podName})
	if err != nil {
		return nil, err
	}
	p := policy{strategy: cfg.Strategy, overrides: cfg.overrides()}
	scopes := cfg.scopes()
	// its index is what the Reloader mode would know; the plan shows no digest, so a key
	// of its own does
	r := newReloaderMode(api, log, scopes, []byte("cuscon plan"))
	var rows []planRow
	for _, scope := range scopes {
		w := newWatcher(api, scope, log, nil, nil, nil)
		w.labelSelector = cfg.WatchSelector
		w.prepare = func(obj *source) { d := digestsOf(obj, r.key); obj.Keys = &d }
		items, _, err := w.list(ctx)
		if err != nil {
			return nil, err
		}
		for i := range items {
			info := infoOf(&items[i])
			r.putLocked(&items[i], &info)
			if _, ok := items[i].Metadata.Annotations[cfg.Annotation]; ok {
				rows = append(rows, articleRow(&items[i], cfg.Annotation, p))
			}
		}
	}
	if cfg.ReloaderAnnotations {
		var kinds []resource
		for _, res := range []resource{configMaps, secrets} {
			if r.watched(res) {
				kinds = append(kinds, res)
			}
		}
		for _, scope := range scopes {
			if scope.resource != configMaps {
				continue // every namespace once
			}
			err := listWorkloads(ctx, api, scope.namespace, func(w *workloadObj) {
				if hasReloaderAnnotation(w) {
					rows = append(rows, reloaderRows(w, r.index[w.Metadata.Namespace], r.lists, kinds, p.overrides, me)...)
				}
			})
			if err != nil {
				return nil, err
			}
		}
	}
	for i := range rows {
		if err := planPods(ctx, api, &rows[i], me, cfg.DeleteUnownedPods); err != nil {
			return nil, err
		}
	}
	sortPlan(rows)
	return rows, nil
}

// planPods lists the pods of a row's selector, as a restart would; with the rollout
// strategy each pod stands for the workload that rolls it, if it has one.
func planPods(ctx context.Context, api *apiClient, row *planRow, me self, deleteUnowned bool) error {
	if row.selector == "" {
		return nil
	}
	pods, err := listPods(ctx, api, row.Namespace, row.selector)
	if err != nil {
		row.Note = "the pods could not be listed: " + err.Error()
		return ctx.Err()
	}
	podTargets(row, pods, me, deleteUnowned)
	if !row.rollout {
		return nil
	}
	var targets []string
	for i := range pods {
		if skipReason(&pods[i], me, deleteUnowned) != "" {
			continue
		}
		t := "pod/" + pods[i].Metadata.Name // no workload to roll: deleted instead
		w, ok, err := workloadOf(ctx, api, &pods[i])
		switch {
		case err != nil: // this row cannot say more; the others can
			row.Note = cmp.Or(row.Note, fmt.Sprintf("the workload of %s could not be found: %v", pods[i].Metadata.Name, err))
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		case ok && w == me.workload:
			continue
		case ok:
			t = w.String()
		}
		if !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
	}
	row.Restarts = targets
	return nil
}
