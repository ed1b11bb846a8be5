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

// self names cuscon's own pod, which it never restarts: its selector could match it.
type self struct{ namespace, name string }

// skipReason says why p must not be restarted, or "" if it may be.
func skipReason(p *pod, me self, deleteUnowned bool) string {
	switch {
	case me.name != "" && p.Metadata.Name == me.name && (me.namespace == "" || p.Metadata.Namespace == me.namespace):
		return "it is cuscon's own pod"
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
