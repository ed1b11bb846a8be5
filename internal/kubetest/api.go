// Package kubetest is a small fake of the Kubernetes API for the tests of every package,
// and what those tests share: ConfigMaps, Secrets, pods, workloads, Leases and Events
// stored with resourceVersions, the history that watches replay, and expiry, served over
// HTTP as the apiserver answers (routes.go), misbehaving on demand (scripted watch
// streams, refused connections, plain-text errors, slow or refused deletes); a log sink
// and HTTP helpers (support.go). Tests wait on its state, never on time. It is test
// support: the cuscon binary never imports it.
package kubetest

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// WaitTimeout bounds every wait on an observable event in unit tests.
const WaitTimeout = 10 * time.Second

// Meta is the metadata the fake keeps; it has labels, which cuscon does not read.
type Meta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid"`
	ResourceVersion   string            `json:"resourceVersion"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	DeletionTimestamp string            `json:"deletionTimestamp,omitempty"`
	OwnerReferences   []map[string]any  `json:"ownerReferences,omitempty"`
}

// ConfigMap is a stored ConfigMap or Secret.
type ConfigMap struct {
	Kind       string            `json:"kind"`
	Metadata   Meta              `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string]string `json:"binaryData,omitempty"`
}

// Pod is a stored Pod.
type Pod struct {
	Kind     string `json:"kind"`
	Metadata Meta   `json:"metadata"`
	Status   struct {
		Phase      string              `json:"phase"`
		Conditions []map[string]string `json:"conditions"`
	} `json:"status"`
}

// fakeEvent is one entry of the history that watches replay.
type fakeEvent struct {
	rv               int
	plural, ns, name string
	line             []byte
}

// fakeSub is one open watch: of plural in ns ("" for all namespaces), and of the
// object called name only if name is set (a metadata.name field selector).
type fakeSub struct {
	plural, ns, name string
	ch               chan []byte
}

// matches reports whether the watch wants an event of plural/ns/name.
func (s *fakeSub) matches(plural, ns, name string) bool {
	return s.plural == plural && (s.ns == "" || s.ns == ns) && (s.name == "" || s.name == name)
}

// nameSelected returns the name a metadata.name field selector asks for, or "".
func nameSelected(r *http.Request) string {
	return strings.TrimPrefix(r.URL.Query().Get("fieldSelector"), "metadata.name=")
}

// EventRecord is a Kubernetes Event cuscon posted.
type EventRecord struct {
	Type, Reason, Message string
	Object                string // Kind/Name of the involved object
}

// WatchScript serves one watch request in place of the fake's normal behaviour; it
// writes the status line itself.
type WatchScript func(w http.ResponseWriter, r *http.Request)

// StreamStart answers a watch with 200 and flushes, as the apiserver does at once.
func StreamStart(w http.ResponseWriter) {
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// API is the fake server. All fields below mu are guarded by it.
type API struct {
	t    *testing.T
	NS   string
	addr string
	srv  *http.Server

	Mu              sync.Mutex
	notify          chan struct{} // closed and replaced on every state change
	RV              int
	Compacted       int                   // watches from a resourceVersion below this get a 410 ERROR event
	Objects         map[string]*ConfigMap // by plural/namespace/name
	Pods            map[string]*Pod       // by name; each knows its namespace
	History         []fakeEvent
	subs            map[*fakeSub]bool
	scripts         []WatchScript
	Lists           int      // ConfigMap list requests served, but for lists by name
	NameLists       []string // name of each ConfigMap or Secret list by name (a metadata.name field selector)
	Watches         []string // resourceVersion of each watch request, in order
	Deleted         []string // pods deleted, in order
	DeleteReqs      []string // every pod DELETE request, whatever its answer
	Patches         int
	PodLists        []string                 // labelSelector of each pod list, decoded
	FailDelete      map[string]int           // pod name -> plain-text 500 answers still to give
	FailLists       int                      // pod lists still to answer with a plain-text 503
	CutLists        int                      // pod lists still to cut off mid-body
	ListGate        map[string]chan struct{} // namespace -> pod lists there wait for it to close
	ForbidPodLists  map[string]bool          // namespace -> pod lists there are refused with 403, as RBAC does
	WorkloadGate    map[string]chan struct{} // namespace -> workload lists there wait for it to close
	WorkloadGated   int                      // workload lists waiting at a gate
	ForbidGet       map[string]bool          // plural/namespace/name -> a GET of it is refused with 403
	ForbidCreate    map[string]bool          // plural/namespace -> a create there is refused with 403
	RefuseDelete    map[string]bool          // pod name -> DELETEs refused with 403, as admission does
	DeleteGate      chan struct{}            // if set, DELETEs wait for it to close
	EvictBlock      map[string]int           // pod name -> 429 answers still to give to its eviction
	Evictions       []string                 // pods evicted, in order
	DryRuns         []string                 // writes sent with dryRun=All: "DELETE pod", "PATCH configmap"...
	Rollouts        []string                 // workloads whose template was patched
	Paused          bool                     // whether Deployment "web" is paused
	Replace         bool                     // whether a deleted pod is replaced at once by a Ready one, as a ReplicaSet would
	Selectors       []string                 // labelSelector of every ConfigMap/Secret list and watch
	Events          []EventRecord
	Leases          map[string]*Lease // by name
	LeaseConflicts  int               // Lease PUTs still to answer with 409
	LeaseGate       chan struct{}     // if set, Lease requests hang until it closes
	uidSeq          int
	Workloads       map[string]*Workload // by plural/namespace/name (fakeworkloads_test.go)
	WorkloadLists   int                  // workload list requests served
	WorkloadPatches []string             // plural/name of each stored workload patched
	// WorkloadPatchGate, if set, holds PATCHes of stored workloads until it closes;
	// WorkloadPatchesWaiting is how many wait there.
	WorkloadPatchGate      chan struct{}
	WorkloadPatchesWaiting int
	Writes                 []string // every request that is not a GET: "PATCH /api/v1/..."
}

// New starts a fake API serving namespace ns on a loopback port.
func New(t *testing.T, ns string) *API {
	t.Helper()
	f := &API{
		t: t, NS: ns, notify: make(chan struct{}), RV: 100,
		Objects: map[string]*ConfigMap{}, Pods: map[string]*Pod{},
		subs: map[*fakeSub]bool{}, FailDelete: map[string]int{}, EvictBlock: map[string]int{},
		ListGate: map[string]chan struct{}{}, ForbidPodLists: map[string]bool{}, WorkloadGate: map[string]chan struct{}{}, ForbidGet: map[string]bool{}, ForbidCreate: map[string]bool{}, RefuseDelete: map[string]bool{},
		Leases: map[string]*Lease{}, Workloads: map[string]*Workload{},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.addr = l.Addr().String()
	f.serve(l)
	t.Cleanup(f.Stop)
	return f
}

// URL is the fake's base URL, as cuscon's --api-url.
func (f *API) URL() string { return "http://" + f.addr }

func (f *API) serve(l net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(f.handle)}
	f.srv = srv
	go func() { _ = srv.Serve(l) }()
}

// Stop closes the listener and every connection: the proxy is down, connections are refused.
func (f *API) Stop() {
	_ = f.srv.Close()
	f.EndWatches()
}

// Restart listens again on the same address.
func (f *API) Restart() {
	l, err := net.Listen("tcp", f.addr)
	require.NoError(f.t, err)
	f.serve(l)
}

// ChangedLocked wakes every waiter; mu must be held.
func (f *API) ChangedLocked() {
	close(f.notify)
	f.notify = make(chan struct{})
}

// WaitUntil blocks until cond (called with mu held) is true, failing the test after WaitTimeout.
func (f *API) WaitUntil(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		f.Mu.Lock()
		ok, ch := cond(), f.notify
		f.Mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			f.t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// Snapshot runs fn with mu held, for assertions on the fake's state.
func (f *API) Snapshot(fn func()) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	fn()
}

// restartedAt is the pod-template annotation `kubectl rollout restart` sets.
const restartedAt = "kubectl.kubernetes.io/restartedAt"

// Lease is a stored coordination.k8s.io/v1 Lease, as the apiserver keeps it.
type Lease struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name            string `json:"name"`
		Namespace       string `json:"namespace"`
		ResourceVersion string `json:"resourceVersion,omitempty"`
	} `json:"metadata"`
	Spec struct {
		HolderIdentity       string `json:"holderIdentity"`
		LeaseDurationSeconds int    `json:"leaseDurationSeconds"`
		AcquireTime          string `json:"acquireTime,omitempty"`
		RenewTime            string `json:"renewTime,omitempty"`
		LeaseTransitions     int    `json:"leaseTransitions"`
	} `json:"spec"`
}
