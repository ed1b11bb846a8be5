// finish.go is what follows a check: the record of what a workload uses, written on
// its own metadata; how a restart ended (recorded, or retried for what is owed); and the
// report of each restart as Reloader makes it (its log line, metric and alert).

package reloader

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/restart"
)

// record writes view on w's own metadata, which does not roll its pods, with stamp (if
// any), the record of what restarted it.
func (r *Mode) record(ctx context.Context, w kube.Workload, view workloadView, stamp string) {
	annotations := map[string]string{AppliedConfigsAnnotation: view.String()}
	if stamp != "" {
		annotations = recordOf(view.String(), stamp)
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": annotations}}
	err := r.client.Patch(ctx, w.Path(), "application/merge-patch+json", patch, r.cfg.DryRun)
	switch {
	case kube.Code(err) == http.StatusForbidden:
		r.warnOnce("patch/"+w.Kind, "Could not record what "+strings.ToLower(w.Kind)+"s use (grant patch on them): each is compared with the content before each change only", err)
	case err != nil:
		r.log.Warn("Could not record what the workload uses (needs patch on "+strings.ToLower(w.Kind)+"s)", "namespace", w.Namespace, "workload", w.String(), "err", err)
	}
}

// finished is told how a workload's restart ended. A complete one is recorded (a
// rollout recorded it in the same patch); pods left are retried later.
func (r *Mode) finished(ctx context.Context, req restart.Request, view, stamp string, res restart.Result) {
	r.mu.Lock()
	if r.pending[req.Key] == view {
		delete(r.pending, req.Key)
	}
	tries := 0
	// A newer change of the workload under way, or staged (deferred, waiting, held),
	// supersedes what this round left: its own restart, gated, takes the pods.
	_, staged := r.held[req.Key]
	superseded := staged || r.pending[req.Key] != "" && r.pending[req.Key] != view
	if res.Owed != nil && !superseded {
		r.tries[req.Key]++
		tries = r.tries[req.Key]
		r.pending[req.Key] = view
	} else {
		delete(r.tries, req.Key)
	}
	r.mu.Unlock()
	w, _ := workloadOfKey(req.Key)
	if !res.Dropped {
		r.reported(req, w, res.Refused == nil && res.Owed == nil)
	}
	switch {
	case res.Refused != nil, res.Dropped: // a dropped batch is found again by the next leader
	case res.Owed == nil && req.Roll == nil:
		var v workloadView
		_ = json.Unmarshal([]byte(view), &v)
		r.record(ctx, w, v, stamp)
	case res.Owed != nil && superseded:
		r.log.Info("Restart incomplete; its pods are left to the newer change's restart", "namespace", req.Object.Namespace, "workload", w.String())
	case res.Owed != nil:
		d := r.retry.Nth(tries)
		r.log.Warn("Restart incomplete; retrying later", "namespace", req.Object.Namespace, "workload", w.String(), "retryIn", d.String())
		time.AfterFunc(d, func() {
			r.mu.Lock()
			_, staged := r.held[req.Key]
			superseded := staged || r.pending[req.Key] != view // a newer change owes a restart of its own, staged anew
			r.mu.Unlock()
			if !r.leading() || superseded {
				return
			}
			again := req
			again.Only, again.Seen = nil, time.Now()
			if !res.Owed.All {
				again.Only = res.Owed.Pods
			}
			r.sched.Add(again)
		})
	}
}

// reported tells of one restart as Reloader does: its log line, its metric, and (on
// success) its alert.
func (r *Mode) reported(req restart.Request, w kube.Workload, ok bool) {
	r.metrics.ReloaderReloads.Inc("success", fmt.Sprint(ok))
	if !ok {
		return
	}
	typ := strings.ToUpper(req.Object.Kind)
	r.log.Info(fmt.Sprintf("Changes detected in '%s' of type '%s' in namespace '%s'; updated '%s' of type '%s' in namespace '%s'",
		req.Object.Name, typ, req.Object.Namespace, w.Name, w.Kind, w.Namespace))
	if r.cfg.Notify != nil {
		r.cfg.Notify.Reloaded(typ, req.Object.Name, req.Object.Namespace, w.Kind, w.Name)
	}
}

// workloadKey is how the mode names a workload's restart: workloads/NAMESPACE/KIND/NAME.
func workloadKey(w kube.Workload) string {
	return "workloads/" + w.Namespace + "/" + w.Kind + "/" + w.Name
}

// workloadOfKey reads a workloadKey back.
func workloadOfKey(key string) (kube.Workload, bool) {
	parts := strings.SplitN(strings.TrimPrefix(key, "workloads/"), "/", 3)
	if len(parts) != 3 {
		return kube.Workload{}, false
	}
	return kube.Workload{Namespace: parts[0], Kind: parts[1], Name: parts[2]}, true
}
