// fakeapi_test.go is a small fake of the Kubernetes API for unit tests, and its store:
// ConfigMaps, Secrets and pods with resourceVersions, the history that watches replay,
// and expiry like a real apiserver. fakeroutes_test.go serves it over HTTP and
// misbehaves on demand (scripted watch streams, refused connections, plain-text errors,
// slow deletes); harness_test.go runs cuscon against it. Tests wait on its state, never
// on time.

package main

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitTimeout bounds every wait on an observable event in unit tests.
const waitTimeout = 10 * time.Second

// fakeMeta is the metadata the fake keeps; it has labels, which cuscon does not read.
type fakeMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid"`
	ResourceVersion   string            `json:"resourceVersion"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	DeletionTimestamp string            `json:"deletionTimestamp,omitempty"`
	OwnerReferences   []map[string]any  `json:"ownerReferences,omitempty"`
}

// fakeConfigMap is a stored ConfigMap or Secret.
type fakeConfigMap struct {
	Kind       string            `json:"kind"`
	Metadata   fakeMeta          `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string]string `json:"binaryData,omitempty"`
}

// fakePod is a stored Pod.
type fakePod struct {
	Kind     string   `json:"kind"`
	Metadata fakeMeta `json:"metadata"`
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

// fakeEventRecord is a Kubernetes Event cuscon posted.
type fakeEventRecord struct {
	Type, Reason, Message string
	Object                string // Kind/Name of the involved object
}

// watchScript serves one watch request in place of the fake's normal behaviour; it
// writes the status line itself.
type watchScript func(w http.ResponseWriter, r *http.Request)

// streamStart answers a watch with 200 and flushes, as the apiserver does at once.
func streamStart(w http.ResponseWriter) {
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// fakeAPI is the fake server. All fields below mu are guarded by it.
type fakeAPI struct {
	t    *testing.T
	ns   string
	addr string
	srv  *http.Server

	mu              sync.Mutex
	notify          chan struct{} // closed and replaced on every state change
	rv              int
	compacted       int                       // watches from a resourceVersion below this get a 410 ERROR event
	objects         map[string]*fakeConfigMap // by plural/namespace/name
	pods            map[string]*fakePod       // by name; each knows its namespace
	history         []fakeEvent
	subs            map[*fakeSub]bool
	scripts         []watchScript
	lists           int      // ConfigMap list requests served
	watches         []string // resourceVersion of each watch request, in order
	deleted         []string // pods deleted, in order
	deleteReqs      []string // every pod DELETE request, whatever its answer
	patches         int
	podLists        []string                 // labelSelector of each pod list, decoded
	failDelete      map[string]int           // pod name -> plain-text 500 answers still to give
	failLists       int                      // pod lists still to answer with a plain-text 503
	cutLists        int                      // pod lists still to cut off mid-body
	listGate        map[string]chan struct{} // namespace -> pod lists there wait for it to close
	refuseDelete    map[string]bool          // pod name -> DELETEs refused with 403, as admission does
	deleteGate      chan struct{}            // if set, DELETEs wait for it to close
	evictBlock      map[string]int           // pod name -> 429 answers still to give to its eviction
	evictions       []string                 // pods evicted, in order
	dryRuns         []string                 // writes sent with dryRun=All: "DELETE pod", "PATCH configmap"...
	rollouts        []string                 // workloads whose template was patched
	paused          bool                     // whether Deployment "web" is paused
	replace         bool                     // whether a deleted pod is replaced at once by a Ready one, as a ReplicaSet would
	selectors       []string                 // labelSelector of every ConfigMap/Secret list and watch
	events          []fakeEventRecord
	leases          map[string]*lease // by name
	leaseConflicts  int               // Lease PUTs still to answer with 409
	leaseGate       chan struct{}     // if set, Lease requests hang until it closes
	uidSeq          int
	workloads       map[string]*fakeWorkload // by plural/namespace/name (fakeworkloads_test.go)
	workloadLists   int                      // workload list requests served
	workloadPatches []string                 // plural/name of each stored workload patched
	writes          []string                 // every request that is not a GET: "PATCH /api/v1/..."
}

// newFakeAPI starts a fake API serving namespace ns on a loopback port.
func newFakeAPI(t *testing.T, ns string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		t: t, ns: ns, notify: make(chan struct{}), rv: 100,
		objects: map[string]*fakeConfigMap{}, pods: map[string]*fakePod{},
		subs: map[*fakeSub]bool{}, failDelete: map[string]int{}, evictBlock: map[string]int{},
		listGate: map[string]chan struct{}{}, refuseDelete: map[string]bool{},
		leases: map[string]*lease{}, workloads: map[string]*fakeWorkload{},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.addr = l.Addr().String()
	f.serve(l)
	t.Cleanup(f.stop)
	return f
}

// url is the fake's base URL, as cuscon's --api-url.
func (f *fakeAPI) url() string { return "http://" + f.addr }

func (f *fakeAPI) serve(l net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(f.handle)}
	f.srv = srv
	go func() { _ = srv.Serve(l) }()
}

// stop closes the listener and every connection: the proxy is down, connections are refused.
func (f *fakeAPI) stop() {
	_ = f.srv.Close()
	f.endWatches()
}

// restart listens again on the same address.
func (f *fakeAPI) restart() {
	l, err := net.Listen("tcp", f.addr)
	require.NoError(f.t, err)
	f.serve(l)
}

// changedLocked wakes every waiter; mu must be held.
func (f *fakeAPI) changedLocked() {
	close(f.notify)
	f.notify = make(chan struct{})
}

// waitUntil blocks until cond (called with mu held) is true, failing the test after waitTimeout.
func (f *fakeAPI) waitUntil(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok, ch := cond(), f.notify
		f.mu.Unlock()
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

// snapshot runs fn with mu held, for assertions on the fake's state.
func (f *fakeAPI) snapshot(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}
