// controller.go decides. For each annotated ConfigMap it keeps the hash of the content it
// last acted on; a ConfigMap whose content hash differs from it gets its pods restarted.
// Everything else (metadata edits, unannotated ConfigMaps, its own writes) is left alone.
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
	"time"
)

// hashAnnotation records, on each annotated ConfigMap, the content hash cuscon last acted
// on, so that a change made while cuscon was not running is applied when it comes back.
const hashAnnotation = "cuscon.dev/applied-hash"

// controller reacts to ConfigMap content changes by restarting the selected pods. It is
// driven by one watcher goroutine, so its state needs no lock.
type controller struct {
	api *apiClient
	log *slog.Logger
	// annotation is the key whose value is the pod label selector.
	annotation string
	// recordState writes hashAnnotation; off, state lives only in memory.
	recordState bool
	// grace is how long requests under way may go on once shutdown begins.
	grace time.Duration
	pods  *podRestarter
	// state maps namespace/name of each annotated ConfigMap to what cuscon knows of it.
	state map[string]cmState
}

// cmState is what cuscon remembers of one annotated ConfigMap.
type cmState struct {
	// applied is the content hash last acted on (or first seen).
	applied string
	// refused is the content hash and selector of a restart that could not be carried
	// out (an empty or invalid selector), so that it is reported once, not at every
	// event; a new selector or new content tries again.
	refused string
}

// annotated is the watcher's filter: only ConfigMaps carrying the annotation matter.
func (c *controller) annotated(cm *configMap) bool {
	_, ok := cm.Metadata.Annotations[c.annotation]
	return ok
}

// synced handles a complete list: the first one is the baseline (restarting only what the
// recorded hashes say changed while cuscon was away); a later one (after an expired
// watch) is diffed against memory so that changes missed meanwhile are acted on once.
func (c *controller) synced(ctx context.Context, items []configMap) {
	seen := make(map[string]bool, len(items))
	for i := range items {
		seen[items[i].key()] = true
		c.reconcile(ctx, &items[i])
	}
	for key := range c.state {
		if !seen[key] {
			c.log.Debug("Forgetting ConfigMap that is gone or no longer annotated", "configmap", key)
			delete(c.state, key)
		}
	}
	c.log.Info("Synced ConfigMaps", "annotated", len(items))
}

// changed handles one watch event.
func (c *controller) changed(ctx context.Context, eventType string, cm *configMap) {
	if eventType == "DELETED" {
		delete(c.state, cm.key())
		return
	}
	c.reconcile(ctx, cm)
}

// reconcile compares cm's content with what was last acted on and restarts its pods if it
// changed. What was last acted on is the in-memory hash, else the recorded annotation;
// with neither, the current content becomes the baseline and nothing restarts.
func (c *controller) reconcile(ctx context.Context, cm *configMap) {
	key := cm.key()
	log := c.log.With("namespace", cm.Metadata.Namespace, "configmap", cm.Metadata.Name)
	sel, ok := cm.Metadata.Annotations[c.annotation]
	if !ok {
		if _, known := c.state[key]; known {
			log.Debug("Annotation removed; forgetting ConfigMap")
			delete(c.state, key)
		}
		return
	}
	hash := contentHash(cm)
	st, known := c.lastApplied(cm)
	attempt := hash + " " + sel
	switch {
	case !known:
		log.Debug("First sight of annotated ConfigMap; baseline recorded, nothing restarted", "hash", hash)
		st.applied = hash
	case st.applied == hash:
		log.Debug("Content unchanged; nothing to do", "resourceVersion", cm.Metadata.ResourceVersion)
	case st.refused == attempt:
		log.Debug("Restart still owed; the selector was refused, waiting for a new one", "selector", sel)
	default:
		log.Info("Modification detected", "selector", sel, "reason", "content changed")
		if c.restart(ctx, log, cm.Metadata.Namespace, sel) {
			st = cmState{applied: hash}
		} else {
			st.refused = attempt // still owed: a new selector or new content retries
		}
	}
	c.state[key] = st
	c.record(ctx, log, cm, st.applied)
}

// lastApplied returns what is known of cm: the in-memory state, else (when state is
// recorded) the hash in its annotation.
func (c *controller) lastApplied(cm *configMap) (cmState, bool) {
	if st, ok := c.state[cm.key()]; ok {
		return st, true
	}
	if c.recordState {
		if h := cm.Metadata.Annotations[hashAnnotation]; h != "" {
			return cmState{applied: h}, true
		}
	}
	return cmState{}, false
}

// restart restarts the pods sel matches and reports whether it could be carried out.
func (c *controller) restart(ctx context.Context, log *slog.Logger, ns, sel string) bool {
	act, cancel := afterShutdown(ctx, c.grace)
	defer cancel()
	res, err := c.pods.restart(ctx, act, log, ns, sel)
	if err != nil {
		log.Error(fmt.Sprintf("Could not restart pods matching %q: %v", sel, err), "selector", sel, "err", err)
		return false
	}
	log.Info(fmt.Sprintf("Restarted %d of %d pods matching %s", res.Deleted, res.Matched, sel),
		"selector", sel, "matched", res.Matched, "deleted", res.Deleted, "skipped", res.Skipped, "failed", res.Failed)
	return true
}

// record writes hash into cm's hashAnnotation if state is recorded and it differs. The
// write comes back as a MODIFIED event with unchanged content, which restarts nothing.
func (c *controller) record(ctx context.Context, log *slog.Logger, cm *configMap, hash string) {
	if !c.recordState || cm.Metadata.Annotations[hashAnnotation] == hash {
		return
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{hashAnnotation: hash}}}
	path := "/api/v1/namespaces/" + url.PathEscape(cm.Metadata.Namespace) + "/configmaps/" + url.PathEscape(cm.Metadata.Name)
	act, cancel := afterShutdown(ctx, c.grace)
	defer cancel()
	err := c.api.call(act, http.MethodPatch, path, nil, "application/merge-patch+json", patch, nil)
	if err != nil {
		log.Warn("Could not record applied content hash (needs patch on configmaps, or run with --state=memory)", "err", err)
	}
}

// contentHash is a digest of a ConfigMap's data and binaryData, independent of key order.
func contentHash(cm *configMap) string {
	h := sha256.New()
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"data", cm.Data}, {"binaryData", cm.BinaryData}} {
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
