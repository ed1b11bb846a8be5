// watch.go lists the ConfigMaps (or Secrets) of a namespace or of the whole cluster, then
// watches them from the list's resourceVersion, and hands every object it learns of to a
// handler. It survives a proxy that is down or flapping, streams that end or break, and
// an expired resourceVersion (relist).

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"time"
)

// handler is told what the watcher learns: the whole set after every list, then changes.
type handler interface {
	// synced gets every object of scope the filter kept, after each complete list.
	synced(ctx context.Context, scope watchScope, items []source)
	// changed gets each ADDED, MODIFIED or DELETED object, in stream order.
	changed(ctx context.Context, eventType string, obj *source)
}

var (
	// errExpired means the resourceVersion to watch from is too old: only a relist recovers.
	errExpired = errors.New("resourceVersion expired")
	// errResync ends a watch so that the watcher lists again.
	errResync = errors.New("resync requested")
)

// watcher lists and watches the objects of one scope.
type watcher struct {
	api   *apiClient
	scope watchScope
	// labelSelector and fieldSelector, if set, have the server filter the objects.
	labelSelector, fieldSelector string
	log                          *slog.Logger
	handler                      handler
	// keep chooses which listed objects reach handler.synced; the rest are dropped
	// page by page, so memory does not grow with objects nobody annotated.
	keep func(*source) bool
	// keepData hands objects on with their data; without it only their hash is kept,
	// so memory does not grow with the size of annotated objects either.
	keepData bool
	// idleTimeout ends a watch that has sent nothing (not even a bookmark) for that long.
	idleTimeout time.Duration
	// pageSize is the list's limit per request.
	pageSize int
	// backoff paces retries after failures; refusedBackoff those after a loopback proxy
	// refused the connection: a refusal costs nothing and the sidecar is back within
	// seconds, so that wait stays short.
	backoff, refusedBackoff backoffPolicy
	metrics                 *metrics
	health                  *health
	// resync, when signalled, ends the watch and lists again (a new leader's start).
	resync chan struct{}
	// prepare, if set, sees each object before its data is dropped (the Reloader mode's
	// per-key digests).
	prepare func(*source)
}

// newWatcher returns a watcher of scope with the defaults both modes use: a watch idle
// for 5 minutes is abandoned, lists come 500 a page, retries back off as client-go's.
func newWatcher(api *apiClient, scope watchScope, log *slog.Logger, h handler, m *metrics, hl *health) *watcher {
	return &watcher{api: api, scope: scope, log: log, handler: h, keep: func(*source) bool { return true },
		idleTimeout: 5 * time.Minute, pageSize: 500, backoff: defaultBackoff, metrics: m, health: hl,
		refusedBackoff: backoffPolicy{Initial: 100 * time.Millisecond, Max: time.Second},
		resync:         make(chan struct{}, 1)}
}

// query returns the parameters every list and watch request carries.
func (w *watcher) query() url.Values {
	q := url.Values{}
	if w.labelSelector != "" {
		q.Set("labelSelector", w.labelSelector)
	}
	if w.fieldSelector != "" {
		q.Set("fieldSelector", w.fieldSelector)
	}
	return q
}

// run lists and watches until ctx is cancelled. It never gives up on errors: it logs them
// and retries with backoff, resuming from the last resourceVersion it saw. A watch that
// was established resets the backoff, so a proxy that restarts often is not waited for
// longer and longer.
func (w *watcher) run(ctx context.Context) {
	bo, refused := w.backoff.start(), w.refusedBackoff.start()
	wait := func(err error) {
		if w.api.refusedLoopback(err) {
			refused.wait(ctx)
			return
		}
		bo.wait(ctx)
	}
	scope, plural := w.scope.String(), w.scope.resource.Plural
	rv := "" // empty: a list is needed before the next watch
	lists, watches := 0, 0
	for ctx.Err() == nil {
		w.health.beat(scope)
		if rv == "" {
			items, listRV, err := w.list(ctx)
			if err != nil {
				w.log.Warn("Could not list "+plural+", retrying", "scope", scope, "err", err)
				wait(err)
				continue
			}
			if lists++; lists > 1 {
				w.metrics.relists.inc("resource", plural)
			}
			w.handler.synced(ctx, w.scope, items)
			w.health.listed(scope)
			w.metrics.lastSync.setNow()
			rv = listRV
			refused.reset()
		}
		if watches++; watches > 1 {
			w.metrics.reconnects.inc("resource", plural)
		}
		began := time.Now()
		next, res, err := w.watch(ctx, rv)
		if res.connected {
			bo.reset()
			refused.reset()
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
			w.log.Warn("Watch failed, resuming", "scope", scope, "resourceVersion", next, "err", err)
			rv = next
			wait(err)
		default:
			w.log.Debug("Watch ended, resuming", "scope", scope, "resourceVersion", next, "events", res.events)
			rv = next
			if res.events == 0 && time.Since(began) < time.Second {
				bo.wait(ctx) // a watch that ends at once, again and again, is a hot loop
			}
		}
	}
}

// list reads every object page by page and returns those keep accepts, with the
// resourceVersion to watch from. An expired continue token starts the list over.
func (w *watcher) list(ctx context.Context) ([]source, string, error) {
	var kept []source
	q := w.query()
	q.Set("limit", fmt.Sprint(w.pageSize))
	path := collectionPath(w.scope.resource, w.scope.namespace)
	for {
		var meta listMeta
		err := w.api.getStream(ctx, path, q, func(body io.Reader) error {
			var err error
			meta, err = decodeList(body, func(item *source) {
				if w.keep(item) {
					kept = append(kept, *w.digest(item))
				}
			})
			return err
		})
		if errorCode(err) == 410 && q.Get("continue") != "" {
			w.log.Info("List continue token expired, listing again", "scope", w.scope.String())
			kept = nil
			q.Del("continue")
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("list %s: %w", w.scope, err)
		}
		if meta.Continue == "" {
			return kept, meta.ResourceVersion, nil
		}
		q.Set("continue", meta.Continue)
	}
}

// digest stamps obj with its resource and content hash and, unless the handler needs
// the data, drops it.
func (w *watcher) digest(obj *source) *source {
	obj.Resource = w.scope.resource
	obj.Hash = contentHash(obj)
	if w.prepare != nil {
		w.prepare(obj)
	}
	if !w.keepData {
		obj.Data, obj.BinaryData = nil, nil
	}
	return obj
}

// watchResult says how a watch went: whether the stream was established, and how many
// objects it delivered.
type watchResult struct {
	connected bool
	events    int
}

// watch streams events from rv until the stream ends. It returns the last resourceVersion
// seen (to resume from), how the watch went, and why it ended (nil: a clean end).
func (w *watcher) watch(ctx context.Context, rv string) (string, watchResult, error) {
	var res watchResult
	streamCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopResync := w.onResync(func() { cancel(errResync) })
	defer stopResync()
	q := w.query()
	q.Set("watch", "true")
	q.Set("resourceVersion", rv)
	q.Set("allowWatchBookmarks", "true")
	body, err := w.api.stream(streamCtx, collectionPath(w.scope.resource, w.scope.namespace), q)
	if errorCode(err) == 410 {
		return rv, res, errExpired
	}
	if err != nil {
		return rv, res, fmt.Errorf("watch %s: %w", w.scope, err)
	}
	defer body.Close()
	res.connected = true
	scope := w.scope.String()
	w.health.connected(scope, true)
	defer w.health.connected(scope, false)
	err = decodeEvents(newIdleReader(body, w.idleTimeout, func() { cancel(nil) }), func(ev *watchEvent) error {
		w.health.beat(scope)
		w.metrics.watchEvents.inc("resource", w.scope.resource.Plural, "type", ev.Type)
		switch ev.Type {
		case "ADDED", "MODIFIED", "DELETED":
			if ev.Object.Metadata.Name == "" {
				return fmt.Errorf("%s event without metadata.name", ev.Type)
			}
			res.events++
			w.handler.changed(ctx, ev.Type, w.digest(&ev.Object.source))
		case "BOOKMARK":
		case "ERROR":
			if ev.Object.Code == 410 {
				return errExpired
			}
			return fmt.Errorf("watch error event: %w", &apiError{Code: ev.Object.Code, Reason: ev.Object.Reason, Message: ev.Object.Message})
		default:
			w.log.Warn("Ignoring watch event of unknown type", "scope", scope, "type", ev.Type)
		}
		if v := ev.Object.Metadata.ResourceVersion; v != "" {
			rv = v
			w.metrics.lastSync.setNow()
		}
		return nil
	})
	if context.Cause(streamCtx) == errResync {
		return rv, res, errResync
	}
	return rv, res, err
}

// onResync calls fn when a resync is requested, until the returned stop is called.
func (w *watcher) onResync(fn func()) (stop func()) {
	if w.resync == nil {
		return func() {}
	}
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

// contentHash is a digest of data and binaryData, independent of key order.
func contentHash(obj *source) string {
	h := sha256.New()
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"data", obj.Data}, {"binaryData", obj.BinaryData}} {
		keys := slices.Sorted(maps.Keys(part.m))
		fmt.Fprintf(h, "%s:%d\n", part.name, len(keys))
		for _, k := range keys {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(part.m[k]), part.m[k])
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
