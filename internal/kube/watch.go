// watch.go lists the ConfigMaps (or Secrets) of a namespace or of the whole cluster, then
// watches them from the list's resourceVersion, and hands what it learns to a handler.
// It survives a proxy that is down or flapping, streams that end or break, and an expired
// resourceVersion (relist). Each object is summarized (hashed, digested) as it is decoded
// and its data dropped, so memory holds what the handler keeps, not what the API sends.

package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/telemetry"
)

// Handler is told what a Watcher learns: the whole set after every list, then changes.
type Handler[T any] interface {
	// Synced gets every object of scope that was kept, after each complete list.
	Synced(ctx context.Context, scope Scope, items []T)
	// Changed gets each ADDED, MODIFIED or DELETED object, in stream order.
	Changed(ctx context.Context, eventType string, item T)
}

// StreamHandler is a Handler that must know when its watch stream is open: between a
// failure and the resumed watch's replay, what it learned may be behind (a cache must not
// answer then). Connected(scope, true) follows each opened stream; false its end.
type StreamHandler interface {
	Connected(scope Scope, up bool)
}

// Summarize turns an object, data and all, into what a handler keeps of it. keep false
// drops a listed object at once (one nobody has business with); watch events are always
// handed on, so that a change to such an object is seen.
type Summarize[T any] func(obj *Object) (item T, keep bool)

var (
	// errExpired means the resourceVersion to watch from is too old: only a relist recovers.
	errExpired = errors.New("resourceVersion expired")
	// errResync ends a watch so that the watcher lists again.
	errResync = errors.New("resync requested")
)

// WatchOptions are a watcher's settings; the zero value of each is the default.
type WatchOptions struct {
	// LabelSelector and FieldSelector, if set, have the server filter the objects.
	LabelSelector, FieldSelector string
	// IdleTimeout ends a watch that has sent nothing (not even a bookmark) for that long
	// (default 5 minutes).
	IdleTimeout time.Duration
	// Backoff paces retries after failures (default backoff.Default); RefusedBackoff
	// those after a loopback proxy refused the connection (default 0.1 s to 1 s): a
	// refusal costs nothing and the sidecar is back within seconds.
	Backoff, RefusedBackoff backoff.Policy
	// MetadataOnly asks for the objects' metadata only (PartialObjectMetadata): their
	// content is neither sent nor decoded.
	MetadataOnly bool
	// Optional: the caller can do without this watch; a refusal (403: no right to list or
	// watch) is said once, then retried quietly.
	Optional bool
	// ContentOf, if not nil, makes each list metadata-only and reads whole, one list by
	// name each while the list goes on, only the objects it says need their content.
	// When few objects of many matter (the annotated ConfigMaps of a namespace), that
	// spares the API the encoding, the proxy the bytes and cuscon the decoding of all
	// the others' data — and Secrets that nobody annotated are never read. Watch events
	// carry whole objects as always.
	ContentOf func(*Object) bool
}

// Watcher lists and watches the objects of one scope.
type Watcher[T any] struct {
	client    *Client
	scope     Scope
	opts      WatchOptions
	summarize Summarize[T]
	handler   Handler[T]
	log       *slog.Logger
	metrics   *telemetry.Metrics
	health    *telemetry.Health
	resync    chan struct{}
}

// NewWatcher returns a watcher of scope that summarizes each object with summarize and
// tells h; it reports its progress to health and metrics (either may be nil).
func NewWatcher[T any](c *Client, scope Scope, opts WatchOptions, summarize Summarize[T], h Handler[T],
	log *slog.Logger, m *telemetry.Metrics, health *telemetry.Health) *Watcher[T] {
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.Backoff == (backoff.Policy{}) {
		opts.Backoff = backoff.Default
	}
	if opts.RefusedBackoff == (backoff.Policy{}) {
		opts.RefusedBackoff = backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	}
	return &Watcher[T]{client: c, scope: scope, opts: opts, summarize: summarize, handler: h, log: log,
		metrics: m, health: health, resync: make(chan struct{}, 1)}
}

// Scope is what the watcher covers.
func (w *Watcher[T]) Scope() Scope { return w.scope }

// Resync ends the watch under way so that the watcher lists again (a new leader's start).
func (w *Watcher[T]) Resync() {
	select {
	case w.resync <- struct{}{}:
	default:
	}
}

// query returns the parameters every list and watch request carries.
func (w *Watcher[T]) query() url.Values {
	q := url.Values{}
	if w.opts.LabelSelector != "" {
		q.Set("labelSelector", w.opts.LabelSelector)
	}
	if w.opts.FieldSelector != "" {
		q.Set("fieldSelector", w.opts.FieldSelector)
	}
	return q
}

// Watch lists and watches until ctx is cancelled. It never gives up on errors: it logs
// them and retries with backoff, resuming from the last resourceVersion it saw. A watch
// that was established resets the backoff, so a proxy that restarts often is not waited
// for longer and longer.
func (w *Watcher[T]) Watch(ctx context.Context) {
	bo, refused := w.opts.Backoff.Start(), w.opts.RefusedBackoff.Start()
	wait := func(err error) {
		if w.client.RefusedLoopback(err) {
			refused.Wait(ctx)
			return
		}
		bo.Wait(ctx)
	}
	scope, plural := w.scope.String(), w.scope.Resource.Plural
	rv := "" // empty: a list is needed before the next watch
	lists, watches, refusals := 0, 0, 0
	for ctx.Err() == nil {
		w.health.Beat(scope)
		if rv == "" {
			items, listRV, err := w.List(ctx)
			if err != nil {
				level := slog.LevelWarn
				if w.opts.Optional && Code(err) == http.StatusForbidden {
					if refusals++; refusals > 1 {
						level = slog.LevelDebug
					}
				}
				w.log.Log(ctx, level, "Could not list "+plural+", retrying"+w.optionalNote(), "scope", scope, "err", err)
				wait(err)
				continue
			}
			if lists++; lists > 1 {
				w.metrics.Relists.Inc("resource", plural)
			}
			w.handler.Synced(ctx, w.scope, items)
			w.health.Listed(scope)
			w.metrics.LastSync.SetNow()
			rv = listRV
			refused.Reset()
		}
		if watches++; watches > 1 {
			w.metrics.Reconnects.Inc("resource", plural)
		}
		began := time.Now()
		next, res, err := w.watch(ctx, rv)
		if res.connected {
			bo.Reset()
			refused.Reset()
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errResync):
			w.log.Info("Listing again for a new leader's start", "scope", scope)
			rv = ""
		case errors.Is(err, errExpired):
			w.log.Info("Watch resourceVersion expired, relisting", "scope", scope, "resourceVersion", next)
			rv = ""
			if res.events == 0 {
				wait(err)
			}
		case err != nil:
			level := slog.LevelWarn
			if w.opts.Optional && Code(err) == http.StatusForbidden {
				if refusals++; refusals > 1 {
					level = slog.LevelDebug
				}
			}
			w.log.Log(ctx, level, "Watch failed, resuming"+w.optionalNote(), "scope", scope, "resourceVersion", next, "err", err)
			rv = next
			wait(err)
		default:
			w.log.Debug("Watch ended, resuming", "scope", scope, "resourceVersion", next, "events", res.events)
			rv = next
			if res.events == 0 && time.Since(began) < time.Second {
				bo.Wait(ctx) // a watch that ends at once, again and again, is a hot loop
			}
		}
	}
}

// watchResult says how a watch went: whether the stream was established, and how many
// objects it delivered.
type watchResult struct {
	connected bool
	events    int
}

// watch streams events from rv until the stream ends. It returns the last resourceVersion
// seen (to resume from), how the watch went, and why it ended (nil: a clean end).
func (w *Watcher[T]) watch(ctx context.Context, rv string) (string, watchResult, error) {
	var res watchResult
	streamCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopResync := w.onResync(func() { cancel(errResync) })
	defer stopResync()
	q := w.query()
	q.Set("watch", "true")
	q.Set("resourceVersion", rv)
	q.Set("allowWatchBookmarks", "true")
	accept := ""
	if w.opts.MetadataOnly {
		accept = AcceptMetadata
	}
	body, err := w.client.Stream(streamCtx, CollectionPath(w.scope.Resource, w.scope.Namespace), q, accept)
	if Code(err) == 410 {
		return rv, res, errExpired
	}
	if err != nil {
		return rv, res, fmt.Errorf("watch %s: %w", w.scope, err)
	}
	defer body.Close()
	res.connected = true
	scope := w.scope.String()
	w.health.Connected(scope, true)
	defer w.health.Connected(scope, false)
	if sh, ok := w.handler.(StreamHandler); ok {
		sh.Connected(w.scope, true)
		defer sh.Connected(w.scope, false)
	}
	err = DecodeEvents(newIdleReader(body, w.opts.IdleTimeout, func() { cancel(nil) }), func(ev *WatchEvent) error {
		w.health.Beat(scope)
		w.metrics.WatchEvents.Inc("resource", w.scope.Resource.Plural, "type", ev.Type)
		switch ev.Type {
		case "ADDED", "MODIFIED", "DELETED":
			if ev.Object.Metadata.Name == "" {
				return fmt.Errorf("%s event without metadata.name", ev.Type)
			}
			res.events++
			ev.Object.Object.Resource = w.scope.Resource
			item, _ := w.summarize(&ev.Object.Object)
			w.handler.Changed(ctx, ev.Type, item)
		case "BOOKMARK":
		case "ERROR":
			if ev.Object.Code == 410 {
				return errExpired
			}
			return fmt.Errorf("watch error event: %w", &APIError{Code: ev.Object.Code, Reason: ev.Object.Reason, Message: ev.Object.Message})
		default:
			w.log.Warn("Ignoring watch event of unknown type", "scope", scope, "type", ev.Type)
		}
		if v := ev.Object.Metadata.ResourceVersion; v != "" {
			rv = v
			w.metrics.LastSync.SetNow()
		}
		return nil
	})
	if context.Cause(streamCtx) == errResync {
		return rv, res, errResync
	}
	return rv, res, err
}

// optionalNote tells a reader of the log that cuscon works on without this watch.
func (w *Watcher[T]) optionalNote() string {
	if w.opts.Optional {
		return " (optional: cuscon does without it meanwhile)"
	}
	return ""
}

// onResync calls fn when a resync is requested, until the returned stop is called.
func (w *Watcher[T]) onResync(fn func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-w.resync:
			fn()
		case <-done:
		}
	}()
	return func() { close(done) }
}
