// events.go reports what cuscon did as Kubernetes Events on the objects concerned, so
// that `kubectl describe configmap` shows it. Events are sent from their own goroutine:
// reporting never blocks or fails a restart. What cannot be sent is held within bounds,
// a share per namespace, so one namespace's flood of Events crowds out no other's.

package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"cuscon/internal/telemetry"
)

// EventRecorder posts core/v1 Events. A nil *EventRecorder records nothing.
type EventRecorder struct {
	client  *Client
	log     *slog.Logger
	metrics *telemetry.Metrics
	dryRun  bool
	wake    chan struct{}

	mu     sync.Mutex
	queues map[string][]event // unsent, by namespace
	order  []string           // namespaces with events, served in turn
	queued int
}

// Bounds on unsent events: one namespace whose objects flood cuscon with refusals
// fills its own share, and takes its oldest from the others only when all are full.
const (
	eventsPerNamespace = 64
	maxQueuedEvents    = 1024
)

// event is one Event to post.
type event struct {
	obj     ObjectRef
	typ     string // Normal or Warning
	reason  string
	message string
}

// NewEventRecorder returns a recorder that holds unsent events within the bounds above;
// in a dry run each message says so.
func NewEventRecorder(c *Client, log *slog.Logger, m *telemetry.Metrics, dryRun bool) *EventRecorder {
	return &EventRecorder{client: c, log: log, metrics: m, dryRun: dryRun, wake: make(chan struct{}, 1), queues: map[string][]event{}}
}

// Normal reports something done.
func (r *EventRecorder) Normal(obj ObjectRef, reason, message string) {
	r.add(event{obj: obj, typ: "Normal", reason: reason, message: message})
}

// Warn reports something refused or left undone.
func (r *EventRecorder) Warn(obj ObjectRef, reason, message string) {
	r.add(event{obj: obj, typ: "Warning", reason: reason, message: message})
}

// add queues e, never blocking: past the bounds, an event is dropped (and counted).
func (r *EventRecorder) add(e event) {
	if r == nil {
		return
	}
	if r.dryRun {
		e.message = "Dry run: " + e.message
	}
	r.mu.Lock()
	dropped, ok := r.enqueueLocked(e)
	r.mu.Unlock()
	if !ok {
		r.metrics.EventsDropped.Inc()
		r.log.Debug("Event queue full; dropping event", "reason", dropped.reason, "namespace", dropped.obj.Namespace, "object", dropped.obj.Name)
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// enqueueLocked queues e in its namespace's queue; mu must be held. When that queue is
// at its share, e is dropped; when all queues together are full, the oldest event of
// the longest queue makes room, unless e's own is the longest. ok is false when an
// event was dropped, which is returned.
func (r *EventRecorder) enqueueLocked(e event) (dropped event, ok bool) {
	ns := e.obj.Namespace
	q := r.queues[ns]
	if len(q) >= eventsPerNamespace {
		return e, false
	}
	if r.queued >= maxQueuedEvents {
		longest := ns
		for n, other := range r.queues {
			if len(other) > len(r.queues[longest]) {
				longest = n
			}
		}
		if longest == ns {
			return e, false
		}
		dropped, ok = r.queues[longest][0], false
		r.queues[longest] = r.queues[longest][1:]
		r.queued--
	} else {
		ok = true
	}
	if len(q) == 0 {
		r.order = append(r.order, ns)
	}
	r.queues[ns] = append(q, e)
	r.queued++
	return dropped, ok
}

// next takes the next event to post: the oldest of the next namespace in turn.
func (r *EventRecorder) next() (event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.order) > 0 {
		ns := r.order[0]
		r.order = r.order[1:]
		q := r.queues[ns]
		if len(q) == 0 {
			delete(r.queues, ns)
			continue
		}
		e := q[0]
		if len(q) > 1 {
			r.queues[ns] = q[1:]
			r.order = append(r.order, ns)
		} else {
			delete(r.queues, ns)
		}
		r.queued--
		return e, true
	}
	return event{}, false
}

// PostEvents posts queued events until ctx ends, then flushes what is left within a
// second.
func (r *EventRecorder) PostEvents(ctx context.Context) {
	for {
		for e, ok := r.next(); ok && ctx.Err() == nil; e, ok = r.next() {
			r.post(ctx, e)
		}
		select {
		case <-r.wake:
		case <-ctx.Done():
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			for e, ok := r.next(); ok && flush.Err() == nil; e, ok = r.next() {
				r.post(flush, e)
			}
			return
		}
	}
}

// post creates one Event in the object's namespace.
func (r *EventRecorder) post(ctx context.Context, e event) {
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
		"message":            Truncate(e.message, 1024),
		"source":             map[string]string{"component": "cuscon"},
		"reportingComponent": "cuscon",
		"firstTimestamp":     now,
		"lastTimestamp":      now,
		"count":              1,
	}
	if err := r.client.Call(ctx, http.MethodPost, CollectionPath(Events, e.obj.Namespace), nil, "application/json", body, nil); err != nil {
		r.log.Debug("Could not post event", "reason", e.reason, "object", e.obj.Kind+"/"+e.obj.Name, "err", err)
	}
}
