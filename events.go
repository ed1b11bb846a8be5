// events.go reports what cuscon did as Kubernetes Events on the objects concerned, so
// that `kubectl describe configmap` shows it. Events are sent from their own goroutine:
// reporting never blocks or fails a restart, and is dropped when the API is unreachable.

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// eventRecorder posts core/v1 Events. A nil *eventRecorder records nothing.
type eventRecorder struct {
	api    *apiClient
	log    *slog.Logger
	dryRun bool
	queue  chan event
}

// event is one Event to post.
type event struct {
	obj     objectRef
	typ     string // Normal or Warning
	reason  string
	message string
}

// newEventRecorder returns a recorder that holds up to 256 unsent events.
func newEventRecorder(api *apiClient, log *slog.Logger, dryRun bool) *eventRecorder {
	return &eventRecorder{api: api, log: log, dryRun: dryRun, queue: make(chan event, 256)}
}

// normal reports something done.
func (r *eventRecorder) normal(obj objectRef, reason, message string) {
	r.add(event{obj: obj, typ: "Normal", reason: reason, message: message})
}

// warn reports something refused or left undone.
func (r *eventRecorder) warn(obj objectRef, reason, message string) {
	r.add(event{obj: obj, typ: "Warning", reason: reason, message: message})
}

func (r *eventRecorder) add(e event) {
	if r == nil {
		return
	}
	if r.dryRun {
		e.message = "Dry run: " + e.message
	}
	select {
	case r.queue <- e:
	default:
		r.log.Debug("Event queue full; dropping event", "reason", e.reason, "object", e.obj.Name)
	}
}

// run posts queued events until ctx ends, then flushes what is left within a second.
func (r *eventRecorder) run(ctx context.Context) {
	for {
		select {
		case e := <-r.queue:
			r.post(ctx, e)
		case <-ctx.Done():
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			for {
				select {
				case e := <-r.queue:
					r.post(flush, e)
				default:
					return
				}
			}
		}
	}
}

// post creates one Event in the object's namespace.
func (r *eventRecorder) post(ctx context.Context, e event) {
	now := time.Now().UTC().Format(time.RFC3339)
	body := map[string]any{
		"apiVersion": "v1",
		"kind":       "Event",
		"metadata": map[string]string{
			"name":      fmt.Sprintf("%s.%x", e.obj.Name, time.Now().UnixNano()),
			"namespace": e.obj.Namespace,
		},
		"involvedObject":     e.obj,
		"type":               e.typ,
		"reason":             e.reason,
		"message":            truncate(e.message, 1024),
		"source":             map[string]string{"component": "cuscon"},
		"reportingComponent": "cuscon",
		"firstTimestamp":     now,
		"lastTimestamp":      now,
		"count":              1,
	}
	if err := r.api.call(ctx, http.MethodPost, collectionPath(eventResource, e.obj.Namespace), nil, "application/json", body, nil); err != nil {
		r.log.Debug("Could not post event", "reason", e.reason, "object", e.obj.Kind+"/"+e.obj.Name, "err", err)
	}
}
