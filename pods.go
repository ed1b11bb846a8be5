// pods.go holds the pod requests a restart is made of: list by label selector, DELETE,
// and Eviction, each write guarded by the pod's uid and marked dryRun in a dry run; and
// the two pure decisions about pods: which may be restarted, and what an answer to a
// DELETE or eviction means.

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// podRequestTimeout bounds one pod list or DELETE: a hung namespace is given up on (and
// its pods stay owed) long before the generic request timeout.
const podRequestTimeout = 10 * time.Second

// listPods returns every pod in ns that sel matches, page by page. A selector that
// checkSelector refuses is never sent: it could match every pod in the namespace.
func listPods(ctx context.Context, api *apiClient, ns, sel string) ([]pod, error) {
	if err := checkSelector(sel); err != nil {
		return nil, err
	}
	var out []pod
	// resourceVersion=0: served at once from the API server's watch cache, which lags
	// etcd by milliseconds. Without it the server first waits for the cache to catch up
	// with etcd, which costs up to 100 ms per list (measured by hack/bench.sh); a pod
	// created within those milliseconds before the change starts after it anyway.
	q := url.Values{"labelSelector": {sel}, "limit": {"500"}, "resourceVersion": {"0"}}
	for {
		var page podList
		ctx, cancel := context.WithTimeout(ctx, podRequestTimeout)
		err := api.get(ctx, collectionPath(podResource, ns), q, &page)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list pods %q: %w", sel, err)
		}
		out = append(out, page.Items...)
		if page.Metadata.Continue == "" {
			return out, nil
		}
		q.Set("continue", page.Metadata.Continue)
	}
}

// deleteOptions makes a deletion apply only to this very pod: if a new pod has taken the
// name (a StatefulSet's), the API answers 409 and the new pod is left alone. In a dry
// run it carries dryRun too: the API reads a DELETE's options from its body and ignores
// the query when there is one.
func deleteOptions(p *pod, dryRun bool) map[string]any {
	opts := map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": map[string]string{"uid": p.Metadata.UID}}
	if dryRun {
		opts["dryRun"] = []string{"All"}
	}
	return opts
}

// deletePod sends one DELETE for p. The error is not wrapped: the caller's log line
// names the pod.
func deletePod(ctx context.Context, api *apiClient, p *pod, dryRun bool) error {
	ctx, cancel := context.WithTimeout(ctx, podRequestTimeout)
	defer cancel()
	path := objectPath(podResource, p.Metadata.Namespace, p.Metadata.Name)
	return api.call(ctx, http.MethodDelete, path, nil, "application/json", deleteOptions(p, dryRun), nil)
}

// evictPod asks the Eviction API to evict p, which honours PodDisruptionBudgets: a 429
// means a budget does not allow it now.
func evictPod(ctx context.Context, api *apiClient, p *pod, dryRun bool) error {
	ctx, cancel := context.WithTimeout(ctx, podRequestTimeout)
	defer cancel()
	body := map[string]any{
		"apiVersion":    "policy/v1",
		"kind":          "Eviction",
		"metadata":      map[string]string{"name": p.Metadata.Name, "namespace": p.Metadata.Namespace},
		"deleteOptions": deleteOptions(p, dryRun),
	}
	return api.call(ctx, http.MethodPost, evictionPath(p), dryRunQuery(dryRun), "application/json", body, nil)
}

// self is cuscon's own pod and the workload that runs it. cuscon restarts neither, nor
// that workload's other pods: a selector or a Reloader annotation could name them, and
// cuscon restarting itself (or its peers, or churning its own leader) is never what a
// configuration change means.
type self struct {
	namespace, name string // "" when not known; an unknown namespace matches any
	// workload runs cuscon's pods: its Deployment, StatefulSet or DaemonSet; zero
	// until found (findSelf).
	workload workload
}

// isOwnPod reports whether p is cuscon's own pod.
func (me self) isOwnPod(p *pod) bool {
	return me.name != "" && p.Metadata.Name == me.name && (me.namespace == "" || p.Metadata.Namespace == me.namespace)
}

// runs reports whether p belongs to the workload that runs cuscon: one of its replicas.
func (me self) runs(p *pod) bool {
	w, ok := ownerWorkload(p)
	return ok && me.workload.Name != "" && w == me.workload
}

// ownerWorkload names the workload that runs p, from p alone: its controller, or, for a
// ReplicaSet a Deployment made, that Deployment (the ReplicaSet is named after it and
// the pod-template-hash label its pods carry). ok is false for a bare pod.
func ownerWorkload(p *pod) (workload, bool) {
	owner := controllerOf(&p.Metadata)
	if owner == nil {
		return workload{}, false
	}
	w := workload{Kind: owner.Kind, Namespace: p.Metadata.Namespace, Name: owner.Name}
	if h := p.Metadata.Labels["pod-template-hash"]; owner.Kind == "ReplicaSet" && h != "" {
		if d, ok := strings.CutSuffix(owner.Name, "-"+h); ok && d != "" {
			w.Kind, w.Name = "Deployment", d
		}
	}
	return w, true
}

// findSelf looks up cuscon's own pod, by name in its namespace, and learns which
// workload runs it. A pod that is not there (cuscon runs outside the cluster) leaves
// the workload unknown; an API that cannot be asked is an error.
func findSelf(ctx context.Context, api *apiClient, me self) (self, error) {
	if me.name == "" || me.namespace == "" {
		return me, nil
	}
	ctx, cancel := context.WithTimeout(ctx, podRequestTimeout)
	defer cancel()
	var page podList
	q := url.Values{"fieldSelector": {"metadata.name=" + me.name}}
	if err := api.get(ctx, collectionPath(podResource, me.namespace), q, &page); err != nil {
		return me, fmt.Errorf("look up cuscon's own pod %s/%s: %w", me.namespace, me.name, err)
	}
	for i := range page.Items {
		if page.Items[i].Metadata.Name == me.name {
			me.workload, _ = ownerWorkload(&page.Items[i])
		}
	}
	return me, nil
}

// selfFinder remembers what findSelf learnt, asking again until it has an answer.
type selfFinder struct {
	api *apiClient

	mu    sync.Mutex
	me    self
	found bool
}

// newSelfFinder returns a finder of the pod called name in namespace.
func newSelfFinder(api *apiClient, namespace, name string) *selfFinder {
	return &selfFinder{api: api, me: self{namespace: namespace, name: name}}
}

// get returns cuscon's own pod and workload, asking the API the first time. Until it
// has an answer, nobody can tell cuscon's replicas from other pods: the error says so,
// and the caller leaves the restart owed.
func (f *selfFinder) get(ctx context.Context) (self, error) {
	if f == nil {
		return self{}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.found {
		return f.me, nil
	}
	me, err := findSelf(ctx, f.api, f.me)
	if err != nil {
		return me, err
	}
	f.me, f.found = me, true
	return me, nil
}

// skipReason says why p must not be restarted, or "" if it may be.
func skipReason(p *pod, me self, deleteUnowned bool) string {
	switch {
	case me.isOwnPod(p):
		return "it is cuscon's own pod"
	case me.runs(p):
		return "it is a replica of cuscon itself (" + me.workload.String() + ")"
	case p.Metadata.DeletionTimestamp != nil:
		return "already terminating"
	case p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed":
		return "already finished (" + p.Status.Phase + ")"
	case controllerOf(&p.Metadata) == nil && !deleteUnowned:
		return "no controller owns it, so nothing would recreate it (--delete-unowned-pods allows it)"
	}
	return ""
}

// outcome is what the answer to one DELETE or eviction means.
type outcome int

const (
	restarted outcome = iota // deleted or evicted (or would be, in a dry run)
	gone                     // 404: already deleted
	replaced                 // 409: the uid precondition failed, a new pod has the name
	blocked                  // 429: a disruption budget does not allow it now
	failed                   // anything else: refused, or the API was not reached
)

// outcomeOf classifies the error of a DELETE or eviction.
func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return restarted
	case errorCode(err) == http.StatusNotFound:
		return gone
	case errorCode(err) == http.StatusConflict:
		return replaced
	case errorCode(err) == http.StatusTooManyRequests:
		return blocked
	}
	return failed
}

// done reports whether the pod no longer runs the old content (or soon will not).
func (o outcome) done() bool { return o == restarted || o == gone || o == replaced }
