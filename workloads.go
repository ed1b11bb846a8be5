// workloads.go implements the rollout strategy: it finds the workload that controls a
// pod (ReplicaSet → Deployment, StatefulSet, DaemonSet) and restarts it the way
// `kubectl rollout restart` does, by stamping its pod template, so that the workload's
// own rolling update replaces the pods.

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// restartedAtAnnotation is the pod-template annotation kubectl rollout restart sets.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// workload is a Deployment, StatefulSet or DaemonSet in a namespace.
type workload struct {
	Kind, Namespace, Name string
}

// String is Kind/Name, as kubectl writes it.
func (w workload) String() string { return w.Kind + "/" + w.Name }

// ref is the object reference of w, for Events.
func (w workload) ref() objectRef {
	return objectRef{APIVersion: "apps/v1", Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}
}

// path is w's URL.
func (w workload) path() string { return workloadPath(w.Kind, w.Namespace, w.Name) }

// appsObject is the part of a ReplicaSet or Deployment that rollout reads.
type appsObject struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Paused bool `json:"paused"`
	} `json:"spec"`
}

// workloadOf finds the workload that rolls p's pods. ok is false when there is none that
// a template restart would help (a bare pod, a ReplicaSet with no Deployment, a Job...);
// such pods are deleted instead.
func workloadOf(ctx context.Context, api *apiClient, p *pod) (w workload, ok bool, err error) {
	owner := controllerOf(&p.Metadata)
	if owner == nil {
		return w, false, nil
	}
	ns := p.Metadata.Namespace
	switch owner.Kind {
	case "StatefulSet", "DaemonSet":
		return workload{Kind: owner.Kind, Namespace: ns, Name: owner.Name}, true, nil
	case "ReplicaSet":
		var rs appsObject
		if err := api.get(ctx, workloadPath("ReplicaSet", ns, owner.Name), nil, &rs); err != nil {
			return w, false, fmt.Errorf("get replicaset %s: %w", owner.Name, err)
		}
		if d := controllerOf(&rs.Metadata); d != nil && d.Kind == "Deployment" {
			return workload{Kind: "Deployment", Namespace: ns, Name: d.Name}, true, nil
		}
	}
	return w, false, nil
}

// errPaused refuses to roll a paused Deployment, as kubectl rollout restart does.
var errPaused = fmt.Errorf("deployment is paused; resume it to roll it")

// rollWorkload stamps w's pod template with the time, which starts a rolling update. A
// paused Deployment is refused with errPaused.
func rollWorkload(ctx context.Context, api *apiClient, w workload, now time.Time, dryRun bool) error {
	if w.Kind == "Deployment" {
		var d appsObject
		if err := api.get(ctx, w.path(), nil, &d); err != nil {
			return fmt.Errorf("get %s: %w", w, err)
		}
		if d.Spec.Paused {
			return errPaused
		}
	}
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{restartedAtAnnotation: now.Format(time.RFC3339Nano)}}}}}
	if err := api.call(ctx, http.MethodPatch, w.path(), dryRunQuery(dryRun), "application/strategic-merge-patch+json", patch, nil); err != nil {
		return fmt.Errorf("patch %s: %w", w, err)
	}
	return nil
}

// rollout restarts the workloads behind todo, each once, and returns the pods that have
// no workload to roll (they are deleted instead).
func (e *executor) rollout(lt lifetime, me self, todo []*target) []*target {
	var order []workload
	pods := map[workload][]*target{}
	var rest []*target
	for _, t := range todo {
		w, ok, err := workloadOf(lt.send, e.api, &t.pod)
		switch {
		case err != nil:
			t.jobs[0].log.Error(fmt.Sprintf("Could not find the workload of %s: %v", t.pod.Metadata.Name, err), "pod", t.pod.Metadata.Name)
			t.problem = err.Error()
		case !ok:
			t.jobs[0].log.Info(fmt.Sprintf("%s has no Deployment, StatefulSet or DaemonSet to roll; deleting it instead", t.pod.Metadata.Name), "pod", t.pod.Metadata.Name)
			rest = append(rest, t)
		case w == me.workload:
			t.jobs[0].log.Info(fmt.Sprintf("Skipping %s: %s runs cuscon itself", t.pod.Metadata.Name, w), "pod", t.pod.Metadata.Name)
			t.skipped = true
		default:
			if _, seen := pods[w]; !seen {
				order = append(order, w)
			}
			pods[w] = append(pods[w], t)
		}
	}
	for _, w := range order {
		e.roll(lt, w, pods[w])
	}
	return rest
}

// roll restarts one workload and notes the outcome on its pods. Pods of a paused
// Deployment or of a failed roll stay owed.
func (e *executor) roll(lt lifetime, w workload, ts []*target) {
	jobs := jobsOf(ts)
	log := jobs[0].log.With("workload", w.String())
	note := func(done bool, problem string) {
		for _, t := range ts {
			t.done, t.problem = done, problem
		}
	}
	if err := e.throttle(lt, log); err != nil {
		log.Error(fmt.Sprintf("Could not roll out %s: %v", w, err))
		note(false, err.Error())
		return
	}
	err := rollWorkload(lt.send, e.api, w, time.Now(), e.dryRun)
	switch {
	case errors.Is(err, errPaused):
		msg := fmt.Sprintf("%s is paused; not restarted (resume it, or restart it yourself)", w)
		log.Warn(msg)
		e.events.warn(w.ref(), "DeploymentPaused", "cuscon did not restart this paused Deployment after a configuration change")
		for _, j := range jobs {
			e.events.warn(j.req.src, "DeploymentPaused", msg)
		}
		note(false, msg)
	case err != nil:
		log.Error(fmt.Sprintf("Could not roll out %s: %v", w, err), "err", err)
		note(false, err.Error())
	default:
		verb := "was restarted (rollout)"
		if e.dryRun {
			verb = "would be restarted (rollout, dry run)"
		}
		log.Info(fmt.Sprintf("%s %s", w, verb), "pods", len(ts))
		for _, j := range jobs {
			j.rolled = append(j.rolled, w.String())
			e.events.normal(w.ref(), "Restarted", fmt.Sprintf("Rolling restart: %s %s content changed", j.req.src.Kind, j.req.src.Name))
		}
		note(true, "")
	}
}

// jobsOf lists the jobs that matched any of ts, each once.
func jobsOf(ts []*target) []*job {
	var out []*job
	seen := map[*job]bool{}
	for _, t := range ts {
		for _, j := range t.jobs {
			if !seen[j] {
				seen[j] = true
				out = append(out, j)
			}
		}
	}
	return out
}
