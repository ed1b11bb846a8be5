// pods.go is which pods a restart may touch, and their requests: the pods a selector
// matches, listed from the API server's watch cache; a DELETE (or an Eviction) that
// applies only to that very pod, by its uid, and is marked dryRun in a dry run; and the
// pods never restarted: cuscon's own, its replicas, those going away or finished, and
// those nothing would recreate. The restart package carries restarts out through it.

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/labels"
	"cuscon/internal/podcache"
	"cuscon/internal/restart"
	"cuscon/internal/telemetry"
)

// podRequestTimeout bounds one pod list or DELETE: a hung namespace is given up on (and
// its pods stay owed) long before the generic request timeout.
const podRequestTimeout = 10 * time.Second

// pods lists, deletes and evicts pods for the restart package (restart.Pods).
type pods struct {
	client *kube.Client
	dryRun bool
	// deleteUnowned also deletes pods with no controlling owner, which nothing recreates.
	deleteUnowned bool
	self          *selfFinder
	// known are the pods a metadata-only watch keeps (nil: none): a restart finds its
	// pods there, without a LIST, once the watch has listed.
	known *podcache.Cache
	// lookups counts Find's answers by source (cache, list); nil: not counted.
	lookups *telemetry.Family
}

// Find returns the pods of ns that sel selects for a restart: from the pods known, if
// the watch of ns has listed them, else from the API. A selector that labels.Check
// refuses is never used.
func (p *pods) Find(ctx context.Context, ns, sel string) ([]kube.Pod, error) {
	if err := labels.Check(sel); err != nil {
		return nil, err
	}
	if p.known != nil {
		if found, ok := p.known.Find(ns, sel); ok {
			p.counted("cache")
			return found, nil
		}
	}
	p.counted("list")
	return p.List(ctx, ns, sel)
}

func (p *pods) counted(source string) {
	if p.lookups != nil {
		p.lookups.Inc("source", source)
	}
}

// List returns every pod in ns that sel matches. A selector that labels.Check refuses
// is never sent: it could match every pod in the namespace.
func (p *pods) List(ctx context.Context, ns, sel string) ([]kube.Pod, error) {
	if err := labels.Check(sel); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, podRequestTimeout)
	defer cancel()
	var out []kube.Pod
	// resourceVersion=0: served at once from the API server's watch cache, which lags
	// etcd by milliseconds. Without it the server first waits for the cache to catch up
	// with etcd, which costs up to 100 ms per list (measured by hack/bench.sh); a pod
	// created within those milliseconds before the change starts after it anyway.
	q := url.Values{"labelSelector": {sel}, "resourceVersion": {"0"}}
	_, err := kube.ListPages(ctx, p.client, kube.CollectionPath(kube.Pods, ns), q, nil, func(pod *kube.Pod) { out = append(out, *pod) })
	if err != nil {
		return nil, fmt.Errorf("list pods %q: %w", sel, err)
	}
	return out, nil
}

// deleteOptions makes a deletion apply only to this very pod: if a new pod has taken the
// name (a StatefulSet's), the API answers 409 and the new pod is left alone. In a dry
// run it carries dryRun too: the API reads a DELETE's options from its body and ignores
// the query when there is one.
func deleteOptions(p *kube.Pod, dryRun bool) map[string]any {
	opts := map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": map[string]string{"uid": p.Metadata.UID}}
	if dryRun {
		opts["dryRun"] = []string{"All"}
	}
	return opts
}

// Delete sends one DELETE for pod. The error is not wrapped: the caller's log line
// names the pod.
func (p *pods) Delete(ctx context.Context, pod *kube.Pod) error {
	ctx, cancel := context.WithTimeout(ctx, podRequestTimeout)
	defer cancel()
	path := kube.ObjectPath(kube.Pods, pod.Metadata.Namespace, pod.Metadata.Name)
	return p.client.Call(ctx, http.MethodDelete, path, nil, "application/json", deleteOptions(pod, p.dryRun), nil)
}

// Evict asks the Eviction API to evict pod, which honours PodDisruptionBudgets: a 429
// means a budget does not allow it now.
func (p *pods) Evict(ctx context.Context, pod *kube.Pod) error {
	ctx, cancel := context.WithTimeout(ctx, podRequestTimeout)
	defer cancel()
	body := map[string]any{
		"apiVersion":    "policy/v1",
		"kind":          "Eviction",
		"metadata":      map[string]string{"name": pod.Metadata.Name, "namespace": pod.Metadata.Namespace},
		"deleteOptions": deleteOptions(pod, p.dryRun),
	}
	return p.client.Call(ctx, http.MethodPost, kube.EvictionPath(pod), kube.DryRunQuery(p.dryRun), "application/json", body, nil)
}

// Guard says which pods of namespace ns are left alone (skipReason) and which workload
// runs cuscon. In cuscon's own namespace it asks the API for cuscon's own pod the first
// time, and until it has an answer nobody can tell cuscon's replicas from other pods
// there: the error leaves the restarts of that namespace owed. Pods of any other
// namespace cannot be cuscon's, and need no answer.
func (p *pods) Guard(ctx context.Context, ns string) (restart.Guard, error) {
	me, err := p.self.get(ctx, ns)
	if err != nil {
		return restart.Guard{}, err
	}
	return restart.Guard{Skip: func(pod *kube.Pod) string { return skipReason(pod, me, p.deleteUnowned) }, Self: me.workload}, nil
}

// self is cuscon's own pod and the workload that runs it. cuscon restarts neither, nor
// that workload's other pods: a selector or a Reloader annotation could name them, and
// cuscon restarting itself (or its peers, or churning its own leader) is never what a
// configuration change means.
type self struct {
	namespace, name string // "" when not known; an unknown namespace matches any
	// workload runs cuscon's pods: its Deployment, StatefulSet or DaemonSet; zero
	// until found (findSelf).
	workload kube.Workload
}

// isOwnPod reports whether p is cuscon's own pod.
func (me self) isOwnPod(p *kube.Pod) bool {
	return me.name != "" && p.Metadata.Name == me.name && (me.namespace == "" || p.Metadata.Namespace == me.namespace)
}

// runs reports whether p belongs to the workload that runs cuscon: one of its replicas.
func (me self) runs(p *kube.Pod) bool {
	w, ok := ownerWorkload(p)
	return ok && me.workload.Name != "" && w == me.workload
}

// ownerWorkload names the workload that runs p, from p alone: its controller, or, for a
// ReplicaSet a Deployment made, that Deployment (the ReplicaSet is named after it and
// the pod-template-hash label its pods carry). ok is false for a bare pod.
func ownerWorkload(p *kube.Pod) (kube.Workload, bool) {
	owner := kube.ControllerOf(&p.Metadata)
	if owner == nil {
		return kube.Workload{}, false
	}
	w := kube.Workload{Kind: owner.Kind, Namespace: p.Metadata.Namespace, Name: owner.Name}
	if h := p.Metadata.Labels["pod-template-hash"]; owner.Kind == "ReplicaSet" && h != "" {
		if d, ok := strings.CutSuffix(owner.Name, "-"+h); ok && d != "" {
			w.Kind, w.Name = "Deployment", d
		}
	}
	return w, true
}

// findSelf looks up cuscon's own pod, by name in its namespace, and learns which
// workload runs it. A pod that is not there is an error too: POD_NAME or POD_NAMESPACE
// is not this pod's (hostNetwork gives the node's hostname), and without it cuscon's
// replicas cannot be told from other pods.
func findSelf(ctx context.Context, c *kube.Client, me self) (self, error) {
	if me.name == "" || me.namespace == "" {
		return me, nil
	}
	ctx, cancel := context.WithTimeout(ctx, podRequestTimeout)
	defer cancel()
	var page struct {
		Items []kube.Pod `json:"items"`
	}
	q := url.Values{"fieldSelector": {"metadata.name=" + me.name}}
	if err := c.Get(ctx, kube.CollectionPath(kube.Pods, me.namespace), q, &page); err != nil {
		return me, fmt.Errorf("look up cuscon's own pod %s/%s: %w", me.namespace, me.name, err)
	}
	for i := range page.Items {
		if page.Items[i].Metadata.Name == me.name {
			me.workload, _ = ownerWorkload(&page.Items[i])
			return me, nil
		}
	}
	return me, fmt.Errorf("cuscon's own pod %s/%s was not found: set POD_NAME and POD_NAMESPACE to this pod's "+
		"(the manifests take them from the downward API); until then nothing in %s is restarted", me.namespace, me.name, me.namespace)
}

// selfFinder remembers what findSelf learnt, asking again until it has an answer.
type selfFinder struct {
	client *kube.Client

	mu    sync.Mutex
	me    self
	found bool
}

// newSelfFinder returns a finder of the pod called name in namespace.
func newSelfFinder(c *kube.Client, namespace, name string) *selfFinder {
	return &selfFinder{client: c, me: self{namespace: namespace, name: name}}
}

// get returns cuscon's own pod and, when ns is its namespace (or "", all of them), the
// workload that runs it, asking the API until it has the answer.
func (f *selfFinder) get(ctx context.Context, ns string) (self, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.found || (ns != "" && ns != f.me.namespace) {
		return f.me, nil
	}
	me, err := findSelf(ctx, f.client, f.me)
	if err != nil {
		return me, err
	}
	f.me, f.found = me, true
	return me, nil
}

// skipReason says why p must not be restarted, or "" if it may be.
func skipReason(p *kube.Pod, me self, deleteUnowned bool) string {
	switch {
	case me.isOwnPod(p):
		return "it is cuscon's own pod"
	case me.runs(p):
		return "it is a replica of cuscon itself (" + me.workload.String() + ")"
	case p.Metadata.DeletionTimestamp != nil:
		return "already terminating"
	case p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed":
		return "already finished (" + p.Status.Phase + ")"
	case kube.ControllerOf(&p.Metadata) == nil && !deleteUnowned:
		return "no controller owns it, so nothing would recreate it (--delete-unowned-pods allows it)"
	}
	return ""
}
