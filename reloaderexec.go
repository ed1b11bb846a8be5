// reloaderexec.go rolls the workloads of the Reloader mode's restart requests directly,
// with no pod list: one patch stamps the pod template, as `kubectl rollout restart`
// does, and records on the workload what it now applies, so both happen or neither.
// Requests with the delete or evict strategy go the usual way, by the workload's
// selector.

package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// rollWorkloads rolls the batch's workload rollouts and returns the other requests.
func (e *executor) rollWorkloads(lt lifetime, batch []restartRequest) []restartRequest {
	var rest []restartRequest
	for _, req := range batch {
		if req.workload == nil || req.strategy != "rollout" {
			rest = append(rest, req)
			continue
		}
		e.rollOne(lt, req)
	}
	return rest
}

// rollOne rolls one workload and reports the end to the controller.
func (e *executor) rollOne(lt lifetime, req restartRequest) {
	w := *req.workload
	log := e.log.With("namespace", w.Namespace, "workload", w.String(), kindField(req.res), req.src.Name, "strategy", req.strategy)
	res := result{req: req}
	fail := func(msg string) {
		log.Error(msg)
		e.events.warn(req.src, "RestartIncomplete", msg)
		e.metrics.restarts.inc("strategy", req.strategy, "result", "incomplete")
		res.owed = &owedWork{Hash: req.hash, All: true}
	}
	err := e.throttle(lt, log)
	if err == nil {
		err = rollRecording(lt, e.api, req, time.Now(), e.dryRun)
	}
	switch {
	case errors.Is(err, errPaused):
		msg := fmt.Sprintf("%s is paused; not restarted (resume it, or restart it yourself)", w)
		e.events.warn(w.ref(), "DeploymentPaused", "cuscon did not restart this paused Deployment after a configuration change")
		fail(msg)
	case err != nil:
		fail(fmt.Sprintf("Could not roll out %s: %v", w, err))
	default:
		verb := "was restarted (rollout)"
		if e.dryRun {
			verb = "would be restarted (rollout, dry run)"
		}
		log.Info(fmt.Sprintf("%s %s", w, verb), "reason", req.why, "reactionSeconds", time.Since(req.seen).Seconds())
		e.events.normal(w.ref(), "Restarted", "Rolling restart: "+req.why)
		e.events.normal(req.src, "Restarted", fmt.Sprintf("Restarted %s by rolling it: %s", w, req.why))
		e.metrics.restarts.inc("strategy", req.strategy, "result", "ok")
		e.metrics.reaction.observe(time.Since(req.seen).Seconds())
	}
	e.done(lt.send, res)
}

// rollRecording stamps the workload's pod template and records req.view on it in one
// strategic merge patch. A paused Deployment is refused with errPaused.
func rollRecording(lt lifetime, api *apiClient, req restartRequest, now time.Time, dryRun bool) error {
	w := *req.workload
	if w.Kind == "Deployment" {
		var d appsObject
		if err := api.get(lt.send, w.path(), nil, &d); err != nil {
			return fmt.Errorf("get %s: %w", w, err)
		}
		if d.Spec.Paused {
			return errPaused
		}
	}
	patch := map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{appliedConfigsAnnotation: req.view}},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{restartedAtAnnotation: now.Format(time.RFC3339Nano)}}}},
	}
	if err := api.call(lt.send, http.MethodPatch, w.path(), dryRunQuery(dryRun), "application/strategic-merge-patch+json", patch, nil); err != nil {
		return fmt.Errorf("patch %s: %w", w, err)
	}
	return nil
}
