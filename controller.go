// controller.go decides. For each annotated ConfigMap (or Secret) it keeps the hash of
// the content it last acted on; one whose content hash differs gets a restart of its
// pods scheduled. Everything else (metadata edits, unannotated objects, its own writes)
// is left alone.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// hashAnnotation records, on each annotated object, the content hash cuscon last acted
// on, so that a change made while cuscon was not running is applied when it comes back.
const hashAnnotation = "cuscon.dev/applied-hash"

// strategyAnnotation, on an annotated object, overrides --strategy for its pods.
const strategyAnnotation = "cuscon.dev/strategy"

// controller turns content changes into restart requests. Watchers of several
// namespaces and kinds call it concurrently; mu guards state.
type controller struct {
	api *apiClient
	log *slog.Logger
	// annotation is the key whose value is the pod label selector.
	annotation string
	// strategy is the default way to restart pods: delete, evict or rollout.
	strategy string
	// recordState writes hashAnnotation; off, state lives only in memory.
	recordState bool
	// dryRun sends every write with dryRun=All.
	dryRun bool
	// grace is how long requests under way may go on once shutdown begins.
	grace  time.Duration
	events *eventRecorder
	sched  *scheduler
	// leading says whether this replica may act; a follower decides nothing.
	leading func() bool

	mu sync.Mutex
	// state maps the key of each annotated object to what cuscon knows of it.
	state map[string]objState
}

// objState is what cuscon remembers of one annotated object.
type objState struct {
	// applied is the content hash last acted on (or first seen).
	applied string
	// pending is the content hash of a restart scheduled and not yet finished.
	pending string
	// refused is the content hash, selector and strategy annotation of a restart that
	// could not be carried out (an empty or invalid selector or strategy), so that it is
	// reported once, not at every event; a new selector, strategy or content tries again.
	refused string
}

// restartRequest asks for the pods of one changed object to be restarted.
type restartRequest struct {
	src      objectRef
	res      resource
	key      string
	selector string
	strategy string
	hash     string
	// attempt is hash, selector and strategy annotation, to remember a refusal by.
	attempt string
	// seen is when the change was observed.
	seen time.Time
}

// annotated is the watchers' filter: only objects carrying the annotation matter.
func (c *controller) annotated(obj *source) bool {
	_, ok := obj.Metadata.Annotations[c.annotation]
	return ok
}

// synced handles a complete list of one scope: the first one is the baseline
// (restarting only what the recorded hashes say changed while cuscon was away); a later
// one (after an expired watch) is diffed against memory so that changes missed meanwhile
// are acted on once.
func (c *controller) synced(ctx context.Context, scope watchScope, items []source) {
	seen := make(map[string]bool, len(items))
	for i := range items {
		seen[items[i].key()] = true
		c.reconcile(ctx, &items[i])
	}
	c.mu.Lock()
	for key := range c.state {
		if scope.covers(key) && !seen[key] {
			c.log.Debug("Forgetting object that is gone or no longer annotated", "object", key)
			delete(c.state, key)
		}
	}
	c.mu.Unlock()
	c.log.Info("Synced "+scope.String(), "annotated", len(items))
}

// reset forgets everything: a new leader rebuilds its state from a fresh list.
func (c *controller) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = map[string]objState{}
}

// changed handles one watch event.
func (c *controller) changed(ctx context.Context, eventType string, obj *source) {
	if eventType == "DELETED" {
		c.mu.Lock()
		delete(c.state, obj.key())
		c.mu.Unlock()
		return
	}
	c.reconcile(ctx, obj)
}

// reconcile compares obj's content with what was last acted on and schedules a restart
// of its pods if it changed. What was last acted on is the in-memory hash, else the
// recorded annotation; with neither, the current content becomes the baseline.
func (c *controller) reconcile(ctx context.Context, obj *source) {
	if !c.leading() {
		return // the leader decides; a new leader starts from a fresh list
	}
	if _, ok := obj.Metadata.Annotations[c.annotation]; !ok && !c.known(obj.key()) {
		return // the common case, kept cheap: a ConfigMap cuscon has no business with
	}
	log := c.log.With("namespace", obj.Metadata.Namespace, kindField(obj.Resource), obj.Metadata.Name)
	c.mu.Lock()
	st, write := c.decide(log, obj)
	c.mu.Unlock()
	if write && st.applied != obj.Metadata.Annotations[hashAnnotation] {
		c.record(ctx, log, obj.ref(), obj.Resource, st.applied)
	}
}

// known reports whether cuscon keeps state for the object with key.
func (c *controller) known(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.state[key]
	return ok
}

// decide updates and returns obj's state, and says whether the record may be written.
// mu must be held.
func (c *controller) decide(log *slog.Logger, obj *source) (objState, bool) {
	key := obj.key()
	sel, ok := obj.Metadata.Annotations[c.annotation]
	if !ok {
		if _, known := c.state[key]; known {
			log.Debug("Annotation removed; forgetting object")
			delete(c.state, key)
		}
		return objState{}, false
	}
	hash := contentHash(obj)
	st, known := c.lastApplied(obj)
	attempt := hash + " " + sel + " " + obj.Metadata.Annotations[strategyAnnotation]
	switch {
	case !known:
		log.Debug("First sight of annotated object; baseline recorded, nothing restarted", "hash", hash)
		st.applied = hash
	case st.applied == hash:
		log.Debug("Content unchanged; nothing to do", "resourceVersion", obj.Metadata.ResourceVersion)
	case st.pending == hash:
		log.Debug("Restart for this content already scheduled")
	case st.refused == attempt:
		log.Debug("Restart still owed; the selector or strategy was refused, waiting for a new one", "selector", sel)
	default:
		strategy, err := c.strategyFor(obj)
		if err != nil {
			log.Error(err.Error(), "selector", sel)
			c.events.warn(obj.ref(), "InvalidStrategy", err.Error())
			st.refused = attempt
			break
		}
		log.Info("Modification detected", "selector", sel, "strategy", strategy, "reason", "content changed")
		st.pending = hash
		c.sched.add(restartRequest{src: obj.ref(), res: obj.Resource, key: key, selector: sel, strategy: strategy,
			hash: hash, attempt: attempt, seen: time.Now()})
	}
	c.state[key] = st
	return st, true
}

// strategyFor is obj's strategy annotation if it has one, else the default.
func (c *controller) strategyFor(obj *source) (string, error) {
	s, ok := obj.Metadata.Annotations[strategyAnnotation]
	if !ok {
		return c.strategy, nil
	}
	if !validStrategy(s) {
		return "", fmt.Errorf("%s %q: want delete, evict or rollout; nothing restarted", strategyAnnotation, s)
	}
	return s, nil
}

// validStrategy reports whether s names a restart strategy.
func validStrategy(s string) bool { return s == "delete" || s == "evict" || s == "rollout" }

// finished is told by the executor how a request ended: carried out (ok), or refused
// (an empty or invalid selector), in which case it stays owed.
func (c *controller) finished(ctx context.Context, req restartRequest, ok bool) {
	c.mu.Lock()
	st, known := c.state[req.key]
	if known {
		if st.pending == req.hash {
			st.pending = ""
		}
		if ok {
			st.applied, st.refused = req.hash, ""
		} else {
			st.refused = req.attempt
		}
		c.state[req.key] = st
	}
	c.mu.Unlock()
	if known && ok {
		c.record(ctx, c.log.With("namespace", req.src.Namespace, kindField(req.res), req.src.Name), req.src, req.res, req.hash)
	}
}

// lastApplied returns what is known of obj: the in-memory state, else (when state is
// recorded) the hash in its annotation. mu must be held.
func (c *controller) lastApplied(obj *source) (objState, bool) {
	if st, ok := c.state[obj.key()]; ok {
		return st, true
	}
	if c.recordState {
		if h := obj.Metadata.Annotations[hashAnnotation]; h != "" {
			return objState{applied: h}, true
		}
	}
	return objState{}, false
}

// record writes hash into the object's hashAnnotation if state is recorded. The write
// comes back as a MODIFIED event with unchanged content, which restarts nothing.
func (c *controller) record(ctx context.Context, log *slog.Logger, ref objectRef, res resource, hash string) {
	if !c.recordState {
		return
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{hashAnnotation: hash}}}
	path := "/api/v1/namespaces/" + url.PathEscape(ref.Namespace) + "/" + res.Plural + "/" + url.PathEscape(ref.Name)
	act, cancel := afterShutdown(ctx, c.grace)
	defer cancel()
	err := c.api.call(act, http.MethodPatch, path, dryRunQuery(c.dryRun), "application/merge-patch+json", patch, nil)
	if err != nil {
		log.Warn("Could not record applied content hash (needs patch on "+res.Plural+", or run with --state=memory)", "err", err)
	}
}

// kindField is the log field naming an object of res: configmap or secret.
func kindField(res resource) string {
	if res == secrets {
		return "secret"
	}
	return "configmap"
}

// dryRunQuery is the query of a write: dryRun=All in a dry run, else nothing.
func dryRunQuery(dryRun bool) url.Values {
	if dryRun {
		return url.Values{"dryRun": {"All"}}
	}
	return nil
}

// contentHash is a digest of data and binaryData, independent of key order.
func contentHash(obj *source) string {
	h := sha256.New()
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"data", obj.Data}, {"binaryData", obj.BinaryData}} {
		keys := make([]string, 0, len(part.m))
		for k := range part.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(h, "%s:%d\n", part.name, len(keys))
		for _, k := range keys {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(part.m[k]), part.m[k])
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// afterShutdown returns a context for requests that should finish even when ctx ends:
// it is cancelled only grace after ctx is, or when the returned cancel is called.
func afterShutdown(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	act, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return act, func() { stop(); cancel() }
}
