// rollout.go is the rollout strategy: it finds the workload that controls a pod
// (ReplicaSet → Deployment, StatefulSet, DaemonSet) and restarts it the way
// `kubectl rollout restart` does, by stamping its pod template, so that the workload's
// own rolling update replaces the pods. A request that names its workload (the Reloader
// mode's) is rolled directly, with what it asks to record on the workload in the same
// patch.

package restart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"cuscon/internal/kube"
)

// RestartedAtAnnotation is the pod-template annotation `kubectl rollout restart` sets.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// appsObject is the part of a ReplicaSet or Deployment that rollout reads.
type appsObject struct {
	Metadata kube.ObjectMeta `json:"metadata"`
	Spec     struct {
		Paused bool `json:"paused"`
	} `json:"spec"`
}

// WorkloadOf finds the workload that rolls p's pods. ok is false when there is none
// that a template restart would help (a bare pod, a ReplicaSet with no Deployment, a
// Job...); such pods are deleted instead.
func WorkloadOf(ctx context.Context, c *kube.Client, p *kube.Pod) (w kube.Workload, ok bool, err error) {
	owner := kube.ControllerOf(&p.Metadata)
	if owner == nil {
		return w, false, nil
	}
	ns := p.Metadata.Namespace
	switch owner.Kind {
	case "StatefulSet", "DaemonSet":
		return kube.Workload{Kind: owner.Kind, Namespace: ns, Name: owner.Name}, true, nil
	case "ReplicaSet":
		var rs appsObject
		if err := c.Get(ctx, kube.AppsPath("ReplicaSet", ns, owner.Name), nil, &rs); err != nil {
			return w, false, fmt.Errorf("get replicaset %s: %w", owner.Name, err)
		}
		if d := kube.ControllerOf(&rs.Metadata); d != nil && d.Kind == "Deployment" {
			return kube.Workload{Kind: "Deployment", Namespace: ns, Name: d.Name}, true, nil
		}
	}
	return w, false, nil
}

// errPaused refuses to roll a paused Deployment, as kubectl rollout restart does.
var errPaused = errors.New("deployment is paused; resume it to roll it")

// roll stamps w's pod template with the time, which starts a rolling update, and sets
// annotations (if any) on w's own metadata in the same patch. A paused Deployment is
// refused with errPaused.
func roll(ctx context.Context, c *kube.Client, w kube.Workload, annotations map[string]string, now time.Time, dryRun bool) error {
	if w.Kind == "Deployment" {
		var d appsObject
		if err := c.Get(ctx, w.Path(), nil, &d); err != nil {
			return fmt.Errorf("get %s: %w", w, err)
		}
		if d.Spec.Paused {
			return errPaused
		}
	}
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{RestartedAtAnnotation: now.Format(time.RFC3339Nano)}}}}}
	if len(annotations) > 0 {
		patch["metadata"] = map[string]any{"annotations": annotations}
	}
	if err := c.Patch(ctx, w.Path(), "application/strategic-merge-patch+json", patch, dryRun); err != nil {
		return fmt.Errorf("patch %s: %w", w, err)
	}
	return nil
}

// rollout restarts the workloads behind todo, each once, and returns the pods that have
// no workload to roll (they are deleted instead).
func (e *Executor) rollout(lt Lifetime, guard Guard, todo []*target) []*target {
	var order []kube.Workload
	pods := map[kube.Workload][]*target{}
	var rest []*target
	for _, t := range todo {
		w, ok, err := WorkloadOf(lt.Send, e.client, &t.pod)
		switch {
		case err != nil:
			t.jobs[0].log.Error(fmt.Sprintf("Could not find the workload of %s: %v", t.pod.Metadata.Name, err), "pod", t.pod.Metadata.Name)
			t.problem = err.Error()
		case !ok:
			t.jobs[0].log.Info(fmt.Sprintf("%s has no Deployment, StatefulSet or DaemonSet to roll; deleting it instead", t.pod.Metadata.Name), "pod", t.pod.Metadata.Name)
			rest = append(rest, t)
		case w == guard.Self:
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
		jobs := jobsOf(pods[w])
		first := jobs[0].req
		problem := e.rollOne(lt, w, nil, jobs[0].log.With("workload", w.String()), first.Object.Kind+" "+first.Object.Name+" "+first.Why)
		for _, t := range pods[w] {
			t.done, t.problem = problem == "", problem
		}
		for _, j := range jobs {
			if problem == "" {
				j.rolled = append(j.rolled, w.String())
			} else if problem == pausedProblem(w) {
				e.events.Warn(j.req.Object, "DeploymentPaused", problem)
			}
		}
	}
	return rest
}

// rollDirectly rolls the workload a request names, and tells the request how it ended.
func (e *Executor) rollDirectly(lt Lifetime, req Request) {
	w := req.Roll.Workload
	log := e.requestLog(req).With("workload", w.String())
	res := Result{}
	guard, err := e.pods.Guard(lt.Send, w.Namespace)
	problem := ""
	switch {
	case err != nil:
		problem = err.Error()
		log.Warn("Could not restart yet", "err", err)
	case w == guard.Self:
		problem = fmt.Sprintf("%s runs cuscon itself; not restarted", w)
		log.Error(problem)
	case req.Roll.Apply != nil:
		problem = e.apply(lt, w, req.Roll.Apply, log, req.Why)
	default:
		problem = e.rollOne(lt, w, req.Roll.Annotations, log, req.Why)
	}
	if problem == "" {
		how := " by rolling it"
		if req.Roll.Apply != nil {
			how = ""
		}
		e.events.Normal(req.Object, "Restarted", fmt.Sprintf("Restarted %s%s: %s", w, how, req.Why))
		e.metrics.Restarts.Inc("strategy", req.Strategy, "result", "ok")
		e.metrics.Reaction.Observe(time.Since(req.Seen).Seconds())
	} else {
		e.events.Warn(req.Object, "RestartIncomplete", problem)
		e.metrics.Restarts.Inc("strategy", req.Strategy, "result", "incomplete")
		res.Owed = &Owed{All: true}
	}
	req.Done(lt.Send, res)
}

// apply restarts one workload as the request's Apply says, within the rate limit, logs
// and reports it on the workload, and returns what went wrong ("" if it was done).
func (e *Executor) apply(lt Lifetime, w kube.Workload, apply func(context.Context, bool) (string, error), log *slog.Logger, why string) string {
	done, err := "", e.throttle(lt, log)
	if err == nil {
		done, err = apply(lt.Send, e.opts.DryRun)
	}
	if err != nil {
		msg := fmt.Sprintf("Could not restart %s: %v", w, err)
		log.Error(msg, "err", err)
		return msg
	}
	if e.opts.DryRun {
		done += " (dry run)"
	}
	log.Info(fmt.Sprintf("%s was restarted: %s", w, done), "reason", why)
	e.events.Normal(w.Ref(), "Restarted", "Restarted ("+done+"): "+why)
	return ""
}

// pausedProblem is what a paused Deployment leaves owed.
func pausedProblem(w kube.Workload) string {
	return fmt.Sprintf("%s is paused; not restarted (resume it, or restart it yourself)", w)
}

// rollOne rolls one workload within the rate limit, logs and reports it on the workload,
// and returns what went wrong ("" if it rolled). Pods of a paused Deployment, or of a
// failed roll, stay owed.
func (e *Executor) rollOne(lt Lifetime, w kube.Workload, annotations map[string]string, log *slog.Logger, why string) string {
	err := e.throttle(lt, log)
	if err == nil {
		err = roll(lt.Send, e.client, w, annotations, time.Now(), e.opts.DryRun)
	}
	switch {
	case errors.Is(err, errPaused):
		log.Warn(pausedProblem(w))
		e.events.Warn(w.Ref(), "DeploymentPaused", "cuscon did not restart this paused Deployment after a configuration change")
		return pausedProblem(w)
	case err != nil:
		msg := fmt.Sprintf("Could not roll out %s: %v", w, err)
		log.Error(msg, "err", err)
		return msg
	}
	verb := "was restarted (rollout)"
	if e.opts.DryRun {
		verb = "would be restarted (rollout, dry run)"
	}
	log.Info(fmt.Sprintf("%s %s", w, verb), "reason", why)
	e.events.Normal(w.Ref(), "Restarted", "Rolling restart: "+why)
	return ""
}
