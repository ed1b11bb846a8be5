// record.go is what cuscon records on each annotated object, so that a cuscon that
// starts again (or a new leader) knows what was applied: the content hash applied in
// full, and, while a restart is incomplete, the pods it still owes — which it retries
// (inside the object's window) and counts.

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/window"
)

// hashAnnotation records, on each annotated object, the content hash cuscon last applied
// in full, so that a change made while cuscon was not running is applied when it comes back.
const hashAnnotation = "cuscon.dev/applied-hash"

// owedAnnotation records an incomplete restart (owedWork as JSON): the pods still to
// restart, so that a cuscon that restarts resumes it and leaves the replaced pods alone.
const owedAnnotation = "cuscon.dev/owed"

// maxRecordedPods bounds the owed pods recorded on an object; past it the record says
// "all", and a cuscon that restarts restarts every matching pod again.
const maxRecordedPods = 1000

// record writes the object's state into its annotations, if state is recorded: the hash
// applied in full and, while a restart is incomplete, what it still owes. The write comes
// back as a MODIFIED event with unchanged content, which restarts nothing. An object
// whose annotations are near the API's bound (a tenant may pad them) may refuse a long
// list of owed pods: the record then says "all are owed", which always fits where the
// hash did; if even that is refused, an Event says that a restart of cuscon may restart
// its pods again.
func (c *controller) record(ctx context.Context, log *slog.Logger, ref kube.ObjectRef, st objState) {
	if !c.policy.recordState {
		return
	}
	err := c.patchRecord(ctx, ref, st)
	if kube.Code(err) == http.StatusUnprocessableEntity && st.owed != nil && !st.owed.All {
		owed := *st.owed
		owed.All, owed.Pods = true, nil
		st.owed = &owed
		err = c.patchRecord(ctx, ref, st)
	}
	switch {
	case kube.Code(err) == http.StatusUnprocessableEntity:
		msg := fmt.Sprintf("Could not record what was applied: %v; a restart of cuscon may restart these pods again", err)
		log.Warn(msg)
		c.events.Warn(ref, "RecordRefused", msg)
	case err != nil:
		log.Warn("Could not record applied content hash (needs patch on "+strings.ToLower(ref.Kind)+"s, or run with --state=memory)", "err", err)
	}
}

// patchRecord sends the record of st as one merge patch of the object's annotations.
func (c *controller) patchRecord(ctx context.Context, ref kube.ObjectRef, st objState) error {
	annotations := map[string]any{hashAnnotation: st.applied, owedAnnotation: nil}
	if st.owed != nil {
		owed := *st.owed
		if len(owed.Pods) > maxRecordedPods {
			owed.All, owed.Pods = true, nil
		}
		b, _ := json.Marshal(owed)
		annotations[owedAnnotation] = string(b)
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": annotations}}
	return c.client.Patch(ctx, kube.ObjectPath(resourceOf(ref), ref.Namespace, ref.Name), "application/merge-patch+json", patch, c.dryRun)
}

// resourceOf is the resource of an object reference: a ConfigMap or a Secret.
func resourceOf(ref kube.ObjectRef) kube.Resource {
	if ref.Kind == kube.Secrets.Kind {
		return kube.Secrets
	}
	return kube.ConfigMaps
}

// retryOwed schedules another round for the pods an object still owes, unless a newer
// change, a completed round, a refused new selector or strategy, or a lost leadership
// made it moot. A selector or strategy changed since goes through decide instead.
func (c *controller) retryOwed(key, hash string) {
	if !c.leading() {
		return
	}
	c.mu.Lock()
	st, ok := c.state[key]
	if !ok || st.owed == nil || st.owed.Hash != hash || st.pending != "" || st.refused != "" || st.deferred != "" {
		c.mu.Unlock()
		return // a deferred newer change restarts every pod when its window opens
	}
	if win, err := window.Parse(cmp.Or(st.window, c.policy.window)); err == nil {
		if open, opens := win.At(time.Now()); !open { // the pods left wait for the window too
			c.mu.Unlock()
			time.AfterFunc(time.Until(opens)+time.Second, func() { c.retryOwed(key, hash) })
			return
		}
	}
	st.pending = hash
	c.state[key] = st
	o := st.owed.order
	o.Only = nil
	if !st.owed.All {
		o.Only = st.owed.Pods
	}
	c.mu.Unlock()
	c.send(o)
}

// countOwed sets the gauges of what is owed: objects refused or incomplete, and pods.
func (c *controller) countOwed() {
	c.mu.Lock()
	objects, pods := 0, 0
	for _, st := range c.state {
		if st.refused != "" || st.owed != nil || st.deferred != "" {
			objects++
		}
		if st.owed != nil {
			pods += st.owed.Count()
		}
	}
	c.mu.Unlock()
	c.metrics.RestartsOwed.Set(float64(objects))
	c.metrics.PodsOwed.Set(float64(pods))
}
