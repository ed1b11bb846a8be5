// pause.go is Reloader's pause-period for Deployments
// (deployment.reloader.stakater.com/pause-period: "5m"): a restart pauses the Deployment
// and marks when (paused-at), so that the changes of the next minutes roll out together
// when cuscon resumes it. Unlike Reloader, whose timers die with it, cuscon finds the
// Deployments it paused at every sweep (a start, a new leader) and resumes each when
// its period is over.

package reloader

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"cuscon/internal/kube"
)

// resumeLater arms the resume of w if cuscon paused it (it is paused, with paused-at) and
// no timer is armed: at once if its period is over or cannot be read.
func (r *Mode) resumeLater(ctx context.Context, w *workloadObj) {
	keys := r.rules.keys
	at, marked := w.Metadata.Annotations[keys.PausedAt]
	if !w.Spec.Paused || !marked {
		return
	}
	t := w.ref()
	r.mu.Lock()
	_, armed := r.pauses[workloadKey(t)]
	r.mu.Unlock()
	if armed {
		return
	}
	left := time.Duration(0)
	began, err1 := time.Parse(time.RFC3339, at)
	period, err2 := time.ParseDuration(w.Metadata.Annotations[keys.PausePeriod])
	if err1 == nil && err2 == nil {
		left = time.Until(began.Add(period))
	}
	if left <= 0 {
		r.resume(ctx, t)
		return
	}
	r.resumeAfter(t, left)
}

// resumeAfter arms the resume of w in d (replacing a timer armed before).
func (r *Mode) resumeAfter(w kube.Workload, d time.Duration) {
	key := workloadKey(w)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.pauses[key]; old != nil {
		old.Stop()
	}
	r.pauses[key] = time.AfterFunc(d, func() {
		r.mu.Lock()
		delete(r.pauses, key)
		r.mu.Unlock()
		if r.leading() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r.resume(ctx, w)
		}
	})
}

// stopPauses disarms every timer: a stopped cuscon, or a new leader's, arms them again.
func (r *Mode) stopPauses() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, t := range r.pauses {
		t.Stop()
		delete(r.pauses, key)
	}
}

// resume resumes w if cuscon paused it: it is still paused and still marked paused-at
// (whoever resumed it meanwhile, or paused it again without the mark, is left alone).
func (r *Mode) resume(ctx context.Context, w kube.Workload) {
	var d workloadObj
	err := r.client.Get(ctx, w.Path(), nil, &d)
	if kube.Code(err) == http.StatusNotFound {
		return
	}
	log := r.log.With("namespace", w.Namespace, "workload", w.String())
	if err != nil {
		log.Warn("Could not read a Deployment cuscon paused; it is resumed at the next sweep", "err", err)
		return
	}
	if _, marked := d.Metadata.Annotations[r.rules.keys.PausedAt]; !d.Spec.Paused || !marked {
		return
	}
	patch := []patchOp{{Op: "test", Path: "/metadata/resourceVersion", Value: d.Metadata.ResourceVersion},
		{Op: "remove", Path: "/metadata/annotations/" + pointer(r.rules.keys.PausedAt)},
		{Op: "add", Path: "/spec/paused", Value: false}}
	if err := r.client.Patch(ctx, w.Path(), "application/json-patch+json", patch, r.cfg.DryRun); err != nil {
		log.Warn("Could not resume a Deployment cuscon paused; trying again at the next sweep", "err", err)
		return
	}
	log.Info(fmt.Sprintf("%s resumed: its pause-period is over", w))
	r.events.Normal(w.Ref(), "Resumed", "Resumed: the pause-period after a configuration change is over")
}
