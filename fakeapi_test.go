// fakeapi_test.go is a small fake of the Kubernetes API for unit tests, and its store:
// ConfigMaps, Secrets and pods with resourceVersions, the history that watches replay,
// and expiry like a real apiserver. fakeroutes_test.go serves it over HTTP and
// misbehaves on demand (scripted watch streams, refused connections, plain-text errors,
// slow deletes); harness_test.go runs cuscon against it. Tests wait on its state, never
// on time.

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
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

	mu             sync.Mutex
	notify         chan struct{} // closed and replaced on every state change
	rv             int
	compacted      int                       // watches from a resourceVersion below this get a 410 ERROR event
	objects        map[string]*fakeConfigMap // by plural/namespace/name
	pods           map[string]*fakePod       // by name; each knows its namespace
	history        []fakeEvent
	subs           map[*fakeSub]bool
	scripts        []watchScript
	lists          int      // ConfigMap list requests served
	watches        []string // resourceVersion of each watch request, in order
	deleted        []string // pods deleted, in order
	deleteReqs     []string // every pod DELETE request, whatever its answer
	patches        int
	podLists       []string                 // labelSelector of each pod list, decoded
	failDelete     map[string]int           // pod name -> plain-text 500 answers still to give
	failLists      int                      // pod lists still to answer with a plain-text 503
	cutLists       int                      // pod lists still to cut off mid-body
	listGate       map[string]chan struct{} // namespace -> pod lists there wait for it to close
	refuseDelete   map[string]bool          // pod name -> DELETEs refused with 403, as admission does
	deleteGate     chan struct{}            // if set, DELETEs wait for it to close
	evictBlock     map[string]int           // pod name -> 429 answers still to give to its eviction
	evictions      []string                 // pods evicted, in order
	dryRuns        []string                 // writes sent with dryRun=All: "DELETE pod", "PATCH configmap"...
	rollouts       []string                 // workloads whose template was patched
	paused         bool                     // whether Deployment "web" is paused
	replace        bool                     // whether a deleted pod is replaced at once by a Ready one, as a ReplicaSet would
	selectors      []string                 // labelSelector of every ConfigMap/Secret list and watch
	events         []fakeEventRecord
	leases         map[string]*lease // by name
	leaseConflicts int               // Lease PUTs still to answer with 409
	leaseGate      chan struct{}     // if set, Lease requests hang until it closes
	uidSeq         int
}

// newFakeAPI starts a fake API serving namespace ns on a loopback port.
func newFakeAPI(t *testing.T, ns string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		t: t, ns: ns, notify: make(chan struct{}), rv: 100,
		objects: map[string]*fakeConfigMap{}, pods: map[string]*fakePod{},
		subs: map[*fakeSub]bool{}, failDelete: map[string]int{}, evictBlock: map[string]int{},
		listGate: map[string]chan struct{}{}, refuseDelete: map[string]bool{},
		leases: map[string]*lease{},
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

// --- objects ---

// putConfigMap creates or replaces a ConfigMap and sends ADDED or MODIFIED to watches.
func (f *fakeAPI) putConfigMap(name string, annotations, data map[string]string) {
	f.updateConfigMap(name, func(cm *fakeConfigMap) {
		cm.Metadata.Annotations = annotations
		cm.Data = data
	})
}

// updateConfigMap applies edit to a ConfigMap of the fake's namespace.
func (f *fakeAPI) updateConfigMap(name string, edit func(*fakeConfigMap)) {
	f.updateObject("configmaps", f.ns, name, edit)
}

// configMap returns a ConfigMap of the fake's namespace; mu must be held.
func (f *fakeAPI) configMap(name string) *fakeConfigMap {
	return f.objects["configmaps/"+f.ns+"/"+name]
}

// updateObject applies edit to a ConfigMap or Secret (creating it if needed) and emits
// the event.
func (f *fakeAPI) updateObject(plural, ns, name string, edit func(*fakeConfigMap)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := plural + "/" + ns + "/" + name
	obj, ok := f.objects[key]
	typ := "MODIFIED"
	if !ok {
		f.uidSeq++
		kind := map[string]string{"configmaps": "ConfigMap", "secrets": "Secret"}[plural]
		obj = &fakeConfigMap{Kind: kind, Metadata: fakeMeta{Name: name, Namespace: ns, UID: fmt.Sprintf("uid-%d", f.uidSeq)}}
		f.objects[key] = obj
		typ = "ADDED"
	}
	edit(obj)
	f.emitLocked(typ, plural, obj)
}

// deleteConfigMap removes a ConfigMap and sends DELETED.
func (f *fakeAPI) deleteConfigMap(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := "configmaps/" + f.ns + "/" + name
	cm := f.objects[key]
	delete(f.objects, key)
	f.emitLocked("DELETED", "configmaps", cm)
}

// emitLocked gives obj the next resourceVersion, appends the event to history and sends
// it to open watches of its kind and namespace.
func (f *fakeAPI) emitLocked(typ, plural string, obj *fakeConfigMap) {
	f.rv++
	obj.Metadata.ResourceVersion = strconv.Itoa(f.rv)
	line, err := json.Marshal(map[string]any{"type": typ, "object": obj})
	require.NoError(f.t, err)
	f.history = append(f.history, fakeEvent{rv: f.rv, plural: plural, ns: obj.Metadata.Namespace, name: obj.Metadata.Name, line: line})
	for sub := range f.subs {
		if sub.matches(plural, obj.Metadata.Namespace, obj.Metadata.Name) {
			sub.ch <- line
		}
	}
	f.changedLocked()
}

// addPods creates n running pods named prefix-0.. with labels, owned by a ReplicaSet.
func (f *fakeAPI) addPods(prefix string, n int, labels map[string]string) {
	for i := range n {
		f.addPod(fmt.Sprintf("%s-%d", prefix, i), labels, true)
	}
}

// addPod creates one running, Ready pod in the fake's namespace; owned says whether
// ReplicaSet "rs" (of Deployment "web") controls it.
func (f *fakeAPI) addPod(name string, labels map[string]string, owned bool) *fakePod {
	owner := ""
	if owned {
		owner = "ReplicaSet/rs"
	}
	return f.addPodIn(f.ns, name, labels, owner)
}

// addPodIn creates one running, Ready pod in ns, controlled by owner (Kind/Name) if set.
func (f *fakeAPI) addPodIn(ns, name string, labels map[string]string, owner string) *fakePod {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addPodLocked(ns, name, labels, owner)
}

func (f *fakeAPI) addPodLocked(ns, name string, labels map[string]string, owner string) *fakePod {
	f.uidSeq++
	p := &fakePod{Kind: "Pod", Metadata: fakeMeta{Name: name, Namespace: ns, UID: fmt.Sprintf("pod-uid-%d", f.uidSeq), Labels: labels}}
	p.Status.Phase = "Running"
	p.Status.Conditions = []map[string]string{{"type": "Ready", "status": "True"}}
	if kind, name, ok := strings.Cut(owner, "/"); ok {
		p.Metadata.OwnerReferences = []map[string]any{{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "owner-uid", "controller": true}}
	}
	f.pods[name] = p
	f.changedLocked()
	return p
}

// deletedPods returns the pods deleted so far.
func (f *fakeAPI) deletedPods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deleted...)
}

// waitDeleted waits until the named pods have all been deleted.
func (f *fakeAPI) waitDeleted(names ...string) {
	f.t.Helper()
	f.waitUntil(fmt.Sprintf("pods %v are deleted", names), func() bool {
		for _, n := range names {
			if !contains(f.deleted, n) {
				return false
			}
		}
		return true
	})
}

// waitWatches waits until n watch requests have been made and returns their resourceVersions.
func (f *fakeAPI) waitWatches(n int) []string {
	f.t.Helper()
	var rvs []string
	f.waitUntil(fmt.Sprintf("%d watch requests", n), func() bool {
		rvs = append([]string(nil), f.watches...)
		return len(f.watches) >= n
	})
	return rvs
}

// script queues fn to serve the next watch request.
func (f *fakeAPI) script(fn watchScript) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts = append(f.scripts, fn)
}

// endWatches ends every open watch cleanly, as the apiserver does at a watch's timeout.
func (f *fakeAPI) endWatches() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		close(sub.ch)
		delete(f.subs, sub)
	}
}

// compact forgets history: watches from any resourceVersion before now will expire.
func (f *fakeAPI) compact() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.compacted = f.rv
	f.history = nil
}
