// Package restart carries restarts out: it queues requests in a lane per namespace
// (debounced per set of pods), takes them in batches, restarts each matching pod once by
// its request's strategy — a DELETE, an eviction, or a rollout of the workload that runs
// it — several at a time, rate limited and paced, and tells each request's Done how it
// ended and which pods are still owed. Which pods exist, which must be left alone, and
// how one is deleted are the caller's (Pods); what to restart, and when, is decided
// before a request gets here.
package restart

import (
	"context"
	"time"

	"cuscon/internal/kube"
)

// Request asks for the pods of one change to be restarted, and says whom to tell how it
// ended.
type Request struct {
	// Object is what changed (a ConfigMap or Secret): the restart's Events go on it.
	Object kube.ObjectRef
	// Key identifies what the restart is for: a lane keeps one request per key, the
	// newest.
	Key string
	// Selector selects the pods (of Object's namespace); Strategy is delete, evict or
	// rollout.
	Selector, Strategy string
	// Roll is a workload restarted directly, with no pod list: rolled (the rollout
	// strategy), or as Roll.Apply says.
	Roll *Roll
	// Only, when set, limits the restart to these pod uids: what an earlier round left.
	Only []string
	// Why says what changed, for logs and Events, e.g. "content changed".
	Why string
	// Seen is when the change was observed (or the retry began).
	Seen time.Time
	// Done is told how the request ended. The executor calls it once per request.
	Done func(ctx context.Context, res Result)
}

// Roll is a workload to restart directly, and what to write on its own metadata in the
// same patch (so that both happen or neither).
type Roll struct {
	Workload    kube.Workload
	Annotations map[string]string
	// Apply, when set, restarts the workload instead of the rollout's stamp, e.g. with
	// stakater/Reloader's markers, or by running a CronJob's Job now; it writes
	// Annotations itself. It returns what was done, for logs and Events ("rolled with
	// the annotations strategy"), or why it could not be: that stays owed.
	Apply func(ctx context.Context, dryRun bool) (string, error)
}

// Result is how a request ended: refused (the API refused the selector), dropped (this
// replica could not act), or carried out with Owed nil (complete) or not (what is left).
type Result struct {
	Refused error
	Dropped bool
	Owed    *Owed
}

// Owed is the part of a restart not done yet: every matching pod (they could not even be
// listed), or the uids of the pods still to restart.
type Owed struct {
	All  bool     `json:"all,omitempty"`
	Pods []string `json:"pods,omitempty"`
}

// Count is how many pods o names (0 for all: they are not known).
func (o *Owed) Count() int {
	if o == nil {
		return 0
	}
	return len(o.Pods)
}

// Pods is how the executor finds pods and restarts one; cuscon's main package gives it
// (pods.go). Delete and Evict guard the pod by its uid and honour a dry run themselves.
type Pods interface {
	// Find returns the pods a restart of selector's pods in ns is to restart: from what
	// is known already when it can (their status then unknown), else as List does.
	Find(ctx context.Context, ns, selector string) ([]kube.Pod, error)
	// List asks the API for the pods selector selects in ns, status and all.
	List(ctx context.Context, ns, selector string) ([]kube.Pod, error)
	Delete(ctx context.Context, p *kube.Pod) error
	Evict(ctx context.Context, p *kube.Pod) error
	// Guard says what must be left alone in namespace ns. Until it can tell (it asks
	// the API the first time), its error leaves the restarts of ns owed.
	Guard(ctx context.Context, ns string) (Guard, error)
}

// Guard says which pods and workloads a restart must leave alone.
type Guard struct {
	// Skip says why a pod must not be restarted, or "" if it may be.
	Skip func(*kube.Pod) string
	// Self is the workload that runs cuscon: never rolled. Zero when there is none.
	Self kube.Workload
}
