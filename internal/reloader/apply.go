// apply.go carries out one workload's restart, as the executor's Roll.Apply: the marker
// written on a Deployment's, StatefulSet's, DaemonSet's or Rollout's pod template (the
// workload's own rollout replaces the pods), an Argo Rollout's spec.restartAt, a
// CronJob's Job run now, a Job re-created. Each reads the workload afresh and writes
// only if it did not change since (or was replaced: then there is nothing left to do).

package reloader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cuscon/internal/kube"
)

// restartPlan is what a restart of one workload writes, decided by the check.
type restartPlan struct {
	w        kube.Workload
	uid      string
	strategy string
	sources  []markSource
	// using are the Reloader variables of every object the workload is restarted for.
	using []string
	// record is the view to record on the workload in the same write, and stamp the
	// record of what restarted it (waves.LastRestartAnnotation).
	record, stamp string
	// restartAt: an Argo Rollout whose rollout-strategy is restart.
	restartAt bool
	// pause: a Deployment's pause-period; pauseErr, why its value was not read.
	pause    time.Duration
	pauseErr string
}

// planFor is the restart of w by strategy for the objects refs (sorted) among concerns.
func (r *Mode) planFor(w *workloadObj, strategy string, refs []string, concerns map[string]concern, objs nsObjects, view string) restartPlan {
	p := restartPlan{w: w.ref(), uid: w.Metadata.UID, strategy: strategy, record: view}
	for _, ref := range refs {
		c := concerns[ref]
		s := markSource{res: c.res, name: c.name, hash: deletedHash, containers: c.use.containers}
		if info, _ := objs.get(c.res, c.name); info.d != nil {
			s.hash = hexHash(info.d.mark)
		}
		p.sources = append(p.sources, s)
	}
	for _, c := range concerns {
		p.using = append(p.using, EnvName(c.res, c.name))
	}
	keys := r.rules.keys
	switch w.Kind {
	case "Rollout":
		p.restartAt = w.Metadata.Annotations[keys.RolloutStrategy] == "restart"
	case "Deployment":
		if v, ok := w.Metadata.Annotations[keys.PausePeriod]; ok {
			d, err := time.ParseDuration(v)
			switch {
			case err != nil:
				p.pauseErr = fmt.Sprintf("%s %q: %v", keys.PausePeriod, v, err)
			case d <= 0:
				p.pauseErr = fmt.Sprintf("%s %q: not a positive duration", keys.PausePeriod, v)
			default:
				p.pause = d
			}
		}
	}
	return p
}

// annotations are what p writes on the workload's own metadata.
func (p restartPlan) annotations() map[string]string {
	if p.stamp == "" {
		return map[string]string{AppliedConfigsAnnotation: p.record}
	}
	return recordOf(p.record, p.stamp)
}

// applier is the Roll.Apply of p.
func (r *Mode) applier(p restartPlan) func(context.Context, bool) (string, error) {
	switch p.w.Kind {
	case "Job":
		j := &jobRecreation{plan: p}
		return func(ctx context.Context, dryRun bool) (string, error) { return r.recreateJob(ctx, j, dryRun) }
	case "CronJob":
		return func(ctx context.Context, dryRun bool) (string, error) { return r.runCronJob(ctx, p, dryRun) }
	}
	return func(ctx context.Context, dryRun bool) (string, error) { return r.mark(ctx, p, dryRun) }
}

// errReplaced: the workload was deleted or replaced since the check: its pods (if any)
// read the content as it is now, and there is nothing to restart.
var errReplaced = errors.New("replaced since it was checked")

// fetchedWorkload is a workload as read before a write.
type fetchedWorkload struct {
	Metadata kube.ObjectMeta `json:"metadata"`
	Spec     struct {
		Paused      bool     `json:"paused"`
		Suspend     bool     `json:"suspend"`
		Template    template `json:"template"`
		JobTemplate struct {
			Spec struct {
				Template template `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
}

// fetch reads w afresh; errReplaced if it is gone or is another object than uid.
func (r *Mode) fetch(ctx context.Context, w kube.Workload, uid string) (*fetchedWorkload, error) {
	var f fetchedWorkload
	err := r.client.Get(ctx, w.Path(), nil, &f)
	switch {
	case kube.Code(err) == http.StatusNotFound:
		return nil, errReplaced
	case err != nil:
		return nil, fmt.Errorf("get %s: %w", w, err)
	case uid != "" && f.Metadata.UID != uid:
		return nil, errReplaced
	}
	return &f, nil
}

// conflicted reports whether a write failed because the workload changed since it was
// read: a resourceVersion conflict, or the JSON patch's test of it.
func conflicted(err error) bool {
	code := kube.Code(err)
	return code == http.StatusConflict || code == http.StatusUnprocessableEntity && strings.Contains(err.Error(), "test")
}

// mark writes p's marker on its workload's pod template (with the view recorded, and a
// pause begun, in the same patch), reading it again if it changed meanwhile.
func (r *Mode) mark(ctx context.Context, p restartPlan, dryRun bool) (string, error) {
	for attempt := 0; ; attempt++ {
		f, err := r.fetch(ctx, p.w, p.uid)
		if errors.Is(err, errReplaced) {
			return "nothing to do: " + errReplaced.Error(), nil
		}
		if err != nil {
			return "", err
		}
		now := time.Now()
		if p.restartAt {
			patch := map[string]any{"metadata": map[string]any{"annotations": p.annotations()},
				"spec": map[string]any{"restartAt": now.UTC().Format(time.RFC3339)}}
			if err := r.client.Patch(ctx, p.w.Path(), "application/merge-patch+json", patch, dryRun); err != nil {
				return "", fmt.Errorf("patch %s: %w", p.w, err)
			}
			return "spec.restartAt set (rollout-strategy restart)", nil
		}
		if p.strategy == StrategyRollout && f.Spec.Paused && f.Metadata.Annotations[r.rules.keys.PausedAt] == "" {
			return "", fmt.Errorf("%s is paused; resume it to roll it", p.w)
		}
		e := markFor(p.strategy, p.w.Namespace, p.sources, containerNames(&f.Spec.Template), p.using, now)
		e.meta = p.annotations()
		done := "rolled with the " + p.strategy + " strategy"
		paused := p.pause > 0 && !f.Spec.Paused
		if paused {
			e.meta[r.rules.keys.PausedAt] = now.UTC().Format(time.RFC3339)
			done += fmt.Sprintf(", paused for %s (%s)", p.pause, r.rules.keys.PausePeriod)
		}
		if p.pauseErr != "" {
			done += "; not paused: " + p.pauseErr
		}
		if f.Spec.Paused && !paused {
			done += "; it is paused: its pods are replaced once it is resumed"
		}
		ops := patchFor(e, f.Metadata.ResourceVersion, f.Metadata.Annotations, "/spec/template", &f.Spec.Template)
		if paused {
			ops = append(ops, patchOp{Op: "add", Path: "/spec/paused", Value: true})
		}
		err = r.client.Patch(ctx, p.w.Path(), "application/json-patch+json", ops, dryRun)
		if conflicted(err) && attempt < 4 {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("patch %s: %w", p.w, err)
		}
		if paused && !dryRun {
			r.resumeAfter(p.w, p.pause)
		}
		return done, nil
	}
}

// containerNames lists a template's containers, in order.
func containerNames(t *template) []string {
	var out []string
	for _, c := range t.Spec.Containers {
		out = append(out, c.Name)
	}
	return out
}
