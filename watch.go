// watch.go is what the controller watches: the ConfigMaps (and, with --secrets, the
// Secrets) of each namespace in scope, listed and then watched by kube.Watcher. Each
// object is observed as it is decoded — the annotations the controller reads and a hash
// of its content, never the content — and handed on to the controller and, with
// --reloader-annotations, to the Reloader mode, which keeps digests of its own.

package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"cuscon/internal/kube"
	"cuscon/internal/reloader"
	"cuscon/internal/restart"
	"cuscon/internal/waves"
)

// seen is one object as the watchers hand it on: observed for the controller, and
// summarized for the Reloader mode when it is on.
type seen struct {
	obs  observation
	mode reloader.Seen
}

// observe reads what the controller needs of obj: whether it carries annotation (the
// selector), its strategy annotation, what it records cuscon applied and still owes,
// and the hash of its content.
func observe(obj *kube.Object, annotation string) observation {
	a := obj.Metadata.Annotations
	sel, annotated := a[annotation]
	strategy, hasStrategy := a[restart.StrategyAnnotation]
	obs := observation{key: obj.Key(), ref: obj.Ref(), res: obj.Resource, annotated: annotated, selector: sel,
		strategy: strategy, hasStrategy: hasStrategy, window: a[waves.WindowAnnotation], recorded: objState{applied: a[hashAnnotation]}}
	if annotated { // an object without the annotation is never restarted: no need to hash it
		obs.hash = kube.ContentHash(obj)
	}
	if raw := a[owedAnnotation]; raw != "" {
		var owed owedWork
		if err := json.Unmarshal([]byte(raw), &owed); err == nil && owed.Hash != "" {
			owed.fromRecord = true
			obs.recorded.owed = &owed
		} // unreadable: nothing is known to be done, so everything is restarted again
	}
	return obs
}

// watched fans what the watchers see out to the controller and the Reloader mode (nil
// when it is off).
type watched struct {
	annotation string
	ctl        *controller
	mode       *reloader.Mode
}

// summarize observes obj for each mode that is on; a listed object goes on only if one
// of them may need it (with the Reloader mode on, any: a workload may use it).
func (h watched) summarize(obj *kube.Object) (seen, bool) {
	s := seen{obs: observe(obj, h.annotation)}
	if h.mode != nil {
		s.mode = h.mode.Summarize(obj)
	}
	return s, s.obs.annotated || h.mode != nil
}

// needsContent says which listed objects the controller reads whole: the annotated ones.
// The others' content is never hashed, so their list needs only their metadata.
func (h watched) needsContent(obj *kube.Object) bool {
	_, ok := obj.Metadata.Annotations[h.annotation]
	return ok
}

// Synced hands a complete list to each mode.
func (h watched) Synced(ctx context.Context, scope kube.Scope, items []seen) {
	obs := make([]observation, len(items))
	for i, it := range items {
		obs[i] = it.obs
	}
	if h.mode != nil {
		modeItems := make([]reloader.Seen, len(items))
		for i, it := range items {
			modeItems[i] = it.mode
		}
		h.mode.Synced(scope, modeItems)
	}
	h.ctl.synced(ctx, scope, obs)
}

// Changed hands one watch event to each mode.
func (h watched) Changed(ctx context.Context, eventType string, it seen) {
	if h.mode != nil {
		h.mode.Changed(eventType, it.mode)
	}
	h.ctl.changed(ctx, eventType, it.obs)
}

// scopes lists what to watch: each namespace (or all) for ConfigMaps, and for Secrets
// when asked, less the kind --resources-to-ignore names.
func (c config) scopes() []kube.Scope {
	namespaces := []string{c.Namespace}
	switch {
	case c.AllNamespaces:
		namespaces = []string{""}
	case c.Namespaces != "":
		namespaces = splitList(c.Namespaces)
	}
	var kinds []kube.Resource
	if !c.Reloader.Ignores(kube.ConfigMaps.Plural) {
		kinds = append(kinds, kube.ConfigMaps)
	}
	if c.Secrets && !c.Reloader.Ignores(kube.Secrets.Plural) {
		kinds = append(kinds, kube.Secrets)
	}
	var out []kube.Scope
	for _, k := range kinds {
		for _, ns := range namespaces {
			out = append(out, kube.Scope{Resource: k, Namespace: ns})
		}
	}
	return out
}

// namespacesInScope lists the namespaces watched, once each ("": all).
func (c config) namespacesInScope() []string {
	var out []string
	for _, s := range c.scopes() {
		if !slices.Contains(out, s.Namespace) {
			out = append(out, s.Namespace)
		}
	}
	return out
}

// splitList splits a comma-separated list, dropping blanks and repeats.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
