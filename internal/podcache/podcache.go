// Package podcache knows the pods in scope without asking: a metadata-only watch of the
// pods that have not finished keeps, for each, what a restart needs to find and guard it
// (name, uid, labels, controller, whether it is terminating), so that a change's restart
// sends its DELETEs at once instead of listing the pods first. It keeps no pod content
// and no status: readiness, which pacing needs, is still asked of the API. Until its
// watch has listed and while its stream is not open (a cut connection, no right to watch
// pods), it says it cannot answer and the caller lists as before.
package podcache

import (
	"context"
	"maps"
	"slices"
	"sync"

	"cuscon/internal/kube"
	"cuscon/internal/labels"
	"cuscon/internal/telemetry"
)

// FieldSelector leaves out the pods that have finished: no restart touches them, and
// one that finishes leaves the cache.
const FieldSelector = "status.phase!=Succeeded,status.phase!=Failed"

// Pod is what the cache keeps of one pod.
type Pod struct {
	namespace, name, uid string
	labels               map[string]string
	owners               []kube.OwnerReference
	terminating          bool
}

// Summarize keeps what a restart needs of a pod's metadata.
func Summarize(obj *kube.Object) (Pod, bool) {
	m := obj.Metadata
	return Pod{namespace: m.Namespace, name: m.Name, uid: m.UID, labels: m.Labels, owners: m.OwnerReferences,
		terminating: m.DeletionTimestamp != nil}, true
}

// Cache is the pods of the scopes its watches cover.
type Cache struct {
	mu sync.RWMutex
	// pods by namespace, then name.
	pods map[string]map[string]Pod
	// listed are the scopes whose watch has listed, and open those whose watch stream is
	// open: a namespace is answered from the cache only while the scope that covers it is
	// both. A watch that fails (no right to watch pods, a cut connection) leaves what was
	// listed behind, and a cache behind the API would restart too few pods.
	listed, open map[kube.Scope]bool
	// n is how many pods are held, and size the gauge that shows it (nil: none).
	n    int
	size *telemetry.Family
}

// New returns an empty cache that keeps size (a gauge; nil: none) at the number of pods held.
func New(size *telemetry.Family) *Cache {
	return &Cache{pods: map[string]map[string]Pod{}, listed: map[kube.Scope]bool{}, open: map[kube.Scope]bool{}, size: size}
}

// counted sets n and the gauge; called with mu held, after each change of pods.
func (c *Cache) counted() {
	c.n = 0
	for _, ns := range c.pods {
		c.n += len(ns)
	}
	if c.size != nil {
		c.size.Set(float64(c.n))
	}
}

// Synced takes a complete list of one scope.
func (c *Cache) Synced(_ context.Context, scope kube.Scope, items []Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ns := range c.pods {
		if scope.Namespace == "" || scope.Namespace == ns {
			delete(c.pods, ns)
		}
	}
	for _, p := range items {
		c.putLocked(p)
	}
	c.listed[scope] = true
	c.counted()
}

// Connected takes the state of scope's watch stream (kube.StreamHandler).
func (c *Cache) Connected(scope kube.Scope, up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open[scope] = up
}

// Changed takes one watch event.
func (c *Cache) Changed(_ context.Context, eventType string, p Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if eventType == "DELETED" {
		if _, ok := c.pods[p.namespace][p.name]; ok {
			c.n--
		}
		delete(c.pods[p.namespace], p.name)
		if len(c.pods[p.namespace]) == 0 {
			delete(c.pods, p.namespace)
		}
	} else {
		if _, ok := c.pods[p.namespace][p.name]; !ok {
			c.n++
		}
		c.putLocked(p)
	}
	if c.size != nil {
		c.size.Set(float64(c.n))
	}
}

func (c *Cache) putLocked(p Pod) {
	ns := c.pods[p.namespace]
	if ns == nil {
		ns = map[string]Pod{}
		c.pods[p.namespace] = ns
	}
	ns[p.name] = p
}

// Forget drops what was known of every scope: a new leader, whose watches list again,
// answers from the cache only once they have.
func (c *Cache) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods, c.listed, c.open = map[string]map[string]Pod{}, map[kube.Scope]bool{}, map[kube.Scope]bool{}
	c.counted()
}

// Find returns the pods of ns that sel selects, as pods whose status is unknown (not
// Ready, not finished), sorted by name; ok is false when the cache cannot answer for ns
// (its watch has not listed, or its stream is not open), and the caller must ask the API. sel must be one that
// labels.Check accepted.
func (c *Cache) Find(ns, sel string) ([]kube.Pod, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.answers(kube.Scope{Resource: kube.Pods, Namespace: ns}) && !c.answers(kube.Scope{Resource: kube.Pods}) {
		return nil, false
	}
	var out []kube.Pod
	for _, name := range slices.Sorted(maps.Keys(c.pods[ns])) {
		p := c.pods[ns][name]
		if ok, err := labels.Matches(sel, p.labels); err != nil || !ok {
			continue
		}
		pod := kube.Pod{Metadata: kube.ObjectMeta{Namespace: p.namespace, Name: p.name, UID: p.uid, Labels: p.labels,
			OwnerReferences: p.owners}}
		if p.terminating {
			pod.Metadata.DeletionTimestamp = new(string)
		}
		out = append(out, pod)
	}
	return out, true
}

func (c *Cache) answers(s kube.Scope) bool { return c.listed[s] && c.open[s] }

// Len is how many pods the cache holds, for metrics.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.n
}
