// watch.go lists the ConfigMaps (or Secrets) of a namespace or of the whole cluster, then
// watches them from the list's resourceVersion, and hands every object it learns of to a
// handler. It survives a proxy that is down, streams that end or break, and an expired
// resourceVersion (relist).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// watchEvent is one object of a watch stream.
type watchEvent struct {
	Type   string      `json:"type"`
	Object watchObject `json:"object"`
}

// watchObject is what an event carries: a ConfigMap or Secret (ADDED, MODIFIED,
// DELETED), just metadata.resourceVersion (BOOKMARK), or a Status (ERROR). One struct
// decodes all three.
type watchObject struct {
	source
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// handler is told what the watcher learns: the whole set after every list, then changes.
type handler interface {
	// synced gets every object of scope the filter kept, after each complete list.
	synced(ctx context.Context, scope watchScope, items []source)
	// changed gets each ADDED, MODIFIED or DELETED object, in stream order.
	changed(ctx context.Context, eventType string, obj *source)
}

// watchScope is what one watcher covers: a resource in one namespace, or in all ("").
type watchScope struct {
	resource  resource
	namespace string
}

// covers reports whether the object with key (see source.key) is in the scope.
func (s watchScope) covers(key string) bool {
	prefix := s.resource.Plural + "/"
	if s.namespace != "" {
		prefix += s.namespace + "/"
	}
	return strings.HasPrefix(key, prefix)
}

// String names the scope for logs, e.g. configmaps in "default".
func (s watchScope) String() string {
	if s.namespace == "" {
		return s.resource.Plural + " in all namespaces"
	}
	return fmt.Sprintf("%s in %q", s.resource.Plural, s.namespace)
}

// errExpired means the resourceVersion to watch from is too old: only a relist recovers.
var errExpired = errors.New("resourceVersion expired")

// errResync ends a watch so that the watcher lists again.
var errResync = errors.New("resync requested")

// synced hands a complete list to the handler and notes it.
func (w *watcher) synced(ctx context.Context, items []source) {
	w.handler.synced(ctx, w.scope, items)
	w.health.listed(w.scope.String())
	w.metrics.set("cuscon_last_sync_timestamp_seconds", float64(time.Now().UnixNano())/1e9)
}

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
	// idleTimeout ends a watch that has sent nothing (not even a bookmark) for that long.
	idleTimeout time.Duration
	// pageSize is the list's limit per request.
	pageSize int
	// backoff paces retries after failures.
	backoff backoffPolicy
	metrics *metrics
	health  *health
	// resync, when signalled, ends the watch and lists again (a new leader's start).
	resync chan struct{}
}

// path is the collection URL of the watched objects.
func (w *watcher) path() string {
	if w.scope.namespace == "" {
		return "/api/v1/" + w.scope.resource.Plural
	}
	return "/api/v1/namespaces/" + url.PathEscape(w.scope.namespace) + "/" + w.scope.resource.Plural
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
// and retries with backoff, resuming from the last resourceVersion it saw.
func (w *watcher) run(ctx context.Context) {
	bo := w.backoff.start()
	scope, plural := w.scope.String(), w.scope.resource.Plural
	rv := "" // empty: a list is needed before the next watch
	lists, watches := 0, 0
	for ctx.Err() == nil {
		w.health.beat(scope)
		if rv == "" {
			items, listRV, err := w.list(ctx)
			if err != nil {
				w.log.Warn("Could not list "+plural+", retrying", "scope", scope, "err", err)
				bo.wait(ctx)
				continue
			}
			if lists++; lists > 1 {
				w.metrics.inc("cuscon_relists_total", "resource", plural)
			}
			w.synced(ctx, items)
			rv = listRV
		}
		if watches++; watches > 1 {
			w.metrics.inc("cuscon_watch_reconnects_total", "resource", plural)
		}
		began := time.Now()
		next, events, err := w.watch(ctx, rv)
		healthy := events > 0 || time.Since(began) > time.Minute
		if healthy {
			bo.reset()
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errResync):
			w.log.Info("Listing again for a new leader's start", "scope", scope)
			rv = ""
		case errors.Is(err, errExpired):
			w.log.Info("Watch resourceVersion expired, relisting", "scope", w.scope.String(), "resourceVersion", next)
			rv = ""
			if !healthy {
				bo.wait(ctx)
			}
		case err != nil:
			w.log.Warn("Watch failed, resuming", "scope", w.scope.String(), "resourceVersion", next, "err", err)
			rv = next
			bo.wait(ctx)
		default:
			w.log.Debug("Watch ended, resuming", "scope", w.scope.String(), "resourceVersion", next, "events", events)
			rv = next
			if !healthy && time.Since(began) < time.Second {
				bo.wait(ctx) // a watch that ends at once, again and again, is a hot loop
			}
		}
	}
}

// list reads every object page by page and returns those keep accepts, with the
// resourceVersion to watch from. Each page is decoded one item at a time, so that only
// the kept objects stay in memory, never a whole page. An expired continue token starts
// the list over.
func (w *watcher) list(ctx context.Context) ([]source, string, error) {
	var kept []source
	q := w.query()
	q.Set("limit", fmt.Sprint(w.pageSize))
	for {
		var meta listMeta
		err := w.api.getStream(ctx, w.path(), q, func(body io.Reader) error {
			var err error
			meta, err = decodeList(body, func(item *source) {
				item.Resource = w.scope.resource
				if w.keep(item) {
					kept = append(kept, *item)
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

// decodeList reads a list answer ({"metadata": ..., "items": [...]}) and calls fn with
// each item in turn, holding one item at a time; it returns the list's metadata.
func decodeList(r io.Reader, fn func(*source)) (listMeta, error) {
	var meta listMeta
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return meta, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return meta, fmt.Errorf("decode list: %w", err)
		}
		switch key {
		case "metadata":
			err = dec.Decode(&meta)
		case "items":
			err = decodeItems(dec, fn)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return meta, fmt.Errorf("decode list %v: %w", key, err)
		}
	}
	return meta, expectDelim(dec, '}')
}

// decodeItems reads a JSON array of objects, one at a time.
func decodeItems(dec *json.Decoder, fn func(*source)) error {
	if tok, err := dec.Token(); err != nil || tok == nil {
		return err // null: no items
	} else if tok != json.Delim('[') {
		return fmt.Errorf("items: want an array, got %v", tok)
	}
	for dec.More() {
		var item source
		if err := dec.Decode(&item); err != nil {
			return err
		}
		fn(&item)
	}
	return expectDelim(dec, ']')
}

// expectDelim reads one token and checks that it is d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode list: %w", err)
	}
	if tok != d {
		return fmt.Errorf("decode list: want %v, got %v", d, tok)
	}
	return nil
}

// watch streams events from rv until the stream ends. It returns the last resourceVersion
// seen (to resume from), how many events it handled, and why it ended (nil: a clean end).
func (w *watcher) watch(ctx context.Context, rv string) (string, int, error) {
	streamCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopResync := w.onResync(func() { cancel(errResync) })
	defer stopResync()
	q := w.query()
	q.Set("watch", "true")
	q.Set("resourceVersion", rv)
	q.Set("allowWatchBookmarks", "true")
	body, err := w.api.stream(streamCtx, w.path(), q)
	if errorCode(err) == 410 {
		return rv, 0, errExpired
	}
	if err != nil {
		return rv, 0, fmt.Errorf("watch %s: %w", w.scope, err)
	}
	defer body.Close()
	scope := w.scope.String()
	w.health.connected(scope, true)
	defer w.health.connected(scope, false)
	events := 0
	err = decodeEvents(newIdleReader(body, w.idleTimeout, func() { cancel(nil) }), func(ev *watchEvent) error {
		w.health.beat(scope)
		w.metrics.inc("cuscon_watch_events_total", "resource", w.scope.resource.Plural, "type", ev.Type)
		switch ev.Type {
		case "ADDED", "MODIFIED", "DELETED":
			if ev.Object.Metadata.Name == "" {
				return fmt.Errorf("%s event without metadata.name", ev.Type)
			}
			events++
			ev.Object.source.Resource = w.scope.resource
			w.handler.changed(ctx, ev.Type, &ev.Object.source)
		case "BOOKMARK":
		case "ERROR":
			if ev.Object.Code == 410 {
				return errExpired
			}
			return fmt.Errorf("watch error event: %w", &apiError{Code: ev.Object.Code, Reason: ev.Object.Reason, Message: ev.Object.Message})
		default:
			w.log.Warn("Ignoring watch event of unknown type", "scope", w.scope.String(), "type", ev.Type)
		}
		if v := ev.Object.Metadata.ResourceVersion; v != "" {
			rv = v
			w.metrics.set("cuscon_last_sync_timestamp_seconds", float64(time.Now().UnixNano())/1e9)
		}
		return nil
	})
	if context.Cause(streamCtx) == errResync {
		return rv, events, errResync
	}
	return rv, events, err
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

// decodeEvents reads a watch stream, a sequence of JSON objects, and calls fn with each
// event until the stream ends (nil), breaks (a decode error), or fn returns an error.
func decodeEvents(r io.Reader, fn func(*watchEvent) error) error {
	dec := json.NewDecoder(r)
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("decode watch event: %w", err)
		}
		if ev.Type == "" {
			return errors.New("decode watch event: no type")
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
}

// idleReader cancels a stream that has sent nothing for timeout while being read: a
// half-open connection would otherwise block the watch for ever.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

// newIdleReader wraps r so that cancel is called if a Read waits longer than d.
func newIdleReader(r io.Reader, d time.Duration, cancel context.CancelFunc) *idleReader {
	t := time.AfterFunc(d, cancel)
	t.Stop()
	return &idleReader{r: r, timer: t, d: d}
}

func (ir *idleReader) Read(p []byte) (int, error) {
	ir.timer.Reset(ir.d)
	n, err := ir.r.Read(p)
	ir.timer.Stop()
	return n, err
}
