// pods.go holds the pod requests a restart is made of: list by label selector, DELETE,
// and Eviction, each write guarded by the pod's uid and marked dryRun in a dry run.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// errEmptySelector refuses a blank selector, which would match every pod in the namespace.
var errEmptySelector = errors.New("empty selector would match every pod in the namespace; refused")

// listPods returns every pod in ns that sel matches, page by page.
func listPods(ctx context.Context, api *apiClient, ns, sel string) ([]pod, error) {
	if strings.TrimSpace(sel) == "" {
		return nil, errEmptySelector
	}
	var pods []pod
	// resourceVersion=0: served at once from the API server's watch cache, which lags
	// etcd by milliseconds. Without it the server first waits for the cache to catch up
	// with etcd, which costs up to 100 ms per list (measured by hack/bench.sh); a pod
	// created within those milliseconds before the change starts after it anyway.
	q := url.Values{"labelSelector": {sel}, "limit": {"500"}, "resourceVersion": {"0"}}
	for {
		var page podList
		if err := api.get(ctx, podsPath(ns), q, &page); err != nil {
			return nil, fmt.Errorf("list pods %q: %w", sel, err)
		}
		pods = append(pods, page.Items...)
		if page.Metadata.Continue == "" {
			return pods, nil
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
	path := podsPath(p.Metadata.Namespace) + "/" + url.PathEscape(p.Metadata.Name)
	return api.call(ctx, http.MethodDelete, path, nil, "application/json", deleteOptions(p, dryRun), nil)
}

// evictPod asks the Eviction API to evict p, which honours PodDisruptionBudgets: a 429
// means a budget does not allow it now.
func evictPod(ctx context.Context, api *apiClient, p *pod, dryRun bool) error {
	body := map[string]any{
		"apiVersion":    "policy/v1",
		"kind":          "Eviction",
		"metadata":      map[string]string{"name": p.Metadata.Name, "namespace": p.Metadata.Namespace},
		"deleteOptions": deleteOptions(p, dryRun),
	}
	path := podsPath(p.Metadata.Namespace) + "/" + url.PathEscape(p.Metadata.Name) + "/eviction"
	return api.call(ctx, http.MethodPost, path, dryRunQuery(dryRun), "application/json", body, nil)
}

// podsPath is the URL of the pods collection in ns.
func podsPath(ns string) string { return "/api/v1/namespaces/" + url.PathEscape(ns) + "/pods" }
