// fakeapi_test.go is a small fake of the Kubernetes API for unit tests: it serves
// ConfigMap lists and chunked watch streams with resourceVersions, history and expiry like
// a real apiserver, pod lists by label selector, DELETE with uid preconditions, and
// merge-patches; and it misbehaves on demand (scripted watch streams, refused
// connections, plain-text errors, slow deletes). Tests wait on its state, never on time.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
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
	podLists       []string       // labelSelector of each pod list, decoded
	failDelete     map[string]int // pod name -> plain-text 500 answers still to give
	failLists      int            // pod lists still to answer with a plain-text 503
	deleteGate     chan struct{}  // if set, DELETEs wait for it to close
	evictBlock     map[string]int // pod name -> 429 answers still to give to its eviction
	evictions      []string       // pods evicted, in order
	dryRuns        []string       // writes sent with dryRun=All: "DELETE pod", "PATCH configmap"...
	rollouts       []string       // workloads whose template was patched
	paused         bool           // whether Deployment "web" is paused
	replace        bool           // whether a deleted pod is replaced at once by a Ready one, as a ReplicaSet would
	selectors      []string       // labelSelector of every ConfigMap/Secret list and watch
	events         []fakeEventRecord
	leases         map[string]*lease // by name
	leaseConflicts int               // Lease PUTs still to answer with 409
	uidSeq         int
}

// newFakeAPI starts a fake API serving namespace ns on a loopback port.
func newFakeAPI(t *testing.T, ns string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		t: t, ns: ns, notify: make(chan struct{}), rv: 100,
		objects: map[string]*fakeConfigMap{}, pods: map[string]*fakePod{},
		subs: map[*fakeSub]bool{}, failDelete: map[string]int{}, evictBlock: map[string]int{},
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

// --- HTTP ---

var (
	collection = regexp.MustCompile(`^/api/v1/(?:namespaces/([^/]+)/)?(configmaps|secrets)$`)
	item       = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/(configmaps|secrets)/([^/]+)$`)
	podColl    = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods$`)
	podItem    = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)$`)
	eviction   = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)/eviction$`)
	appsItem   = regexp.MustCompile(`^/apis/apps/v1/namespaces/([^/]+)/(replicasets|deployments|statefulsets|daemonsets)/([^/]+)$`)
	eventColl  = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/events$`)
	leasePath  = regexp.MustCompile(`^/apis/coordination.k8s.io/v1/namespaces/([^/]+)/leases(?:/([^/]+))?$`)
)

func (f *fakeAPI) handle(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	dry := r.URL.Query().Get("dryRun") == "All"
	switch m := []string(nil); {
	case r.Method == http.MethodGet && collection.MatchString(p) && r.URL.Query().Get("watch") == "true":
		m = collection.FindStringSubmatch(p)
		f.serveWatch(w, r, m[2], m[1])
	case r.Method == http.MethodGet && collection.MatchString(p):
		m = collection.FindStringSubmatch(p)
		f.serveList(w, r, m[2], m[1])
	case r.Method == http.MethodPatch && item.MatchString(p):
		m = item.FindStringSubmatch(p)
		f.servePatch(w, r, m[2]+"/"+m[1]+"/"+m[3], dry)
	case r.Method == http.MethodGet && podColl.MatchString(p):
		f.servePodList(w, r, podColl.FindStringSubmatch(p)[1])
	case r.Method == http.MethodDelete && podItem.MatchString(p):
		f.serveDelete(w, r, podItem.FindStringSubmatch(p)[2], dry, false)
	case r.Method == http.MethodPost && eviction.MatchString(p):
		f.serveDelete(w, r, eviction.FindStringSubmatch(p)[2], dry, true)
	case appsItem.MatchString(p):
		m = appsItem.FindStringSubmatch(p)
		f.serveWorkload(w, r, m[2], m[3], dry)
	case r.Method == http.MethodPost && eventColl.MatchString(p):
		f.serveEvent(w, r)
	case leasePath.MatchString(p):
		f.serveLease(w, r, leasePath.FindStringSubmatch(p)[2])
	default:
		writeStatus(w, http.StatusNotFound, "NotFound", "no route for "+r.Method+" "+p)
	}
}

// writeStatus answers with a JSON Status, as the apiserver does for errors.
func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": msg, "reason": reason, "code": code})
}

func (f *fakeAPI) serveList(w http.ResponseWriter, r *http.Request, plural, ns string) {
	sel, _ := parseFakeSelector(r.URL.Query().Get("labelSelector"))
	f.mu.Lock()
	f.lists++
	f.selectors = append(f.selectors, r.URL.Query().Get("labelSelector"))
	var items []*fakeConfigMap
	for key, obj := range f.objects {
		name := nameSelected(r)
		if strings.HasPrefix(key, plural+"/") && (ns == "" || obj.Metadata.Namespace == ns) && matches(sel, obj.Metadata.Labels) &&
			(name == "" || obj.Metadata.Name == name) {
			items = append(items, obj)
		}
	}
	slices.SortFunc(items, func(a, b *fakeConfigMap) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	body, err := json.Marshal(map[string]any{"kind": "List", "metadata": map[string]string{"resourceVersion": strconv.Itoa(f.rv)}, "items": items})
	f.changedLocked()
	f.mu.Unlock()
	require.NoError(f.t, err)
	_, _ = w.Write(body)
}

func (f *fakeAPI) serveWatch(w http.ResponseWriter, r *http.Request, plural, ns string) {
	flusher := w.(http.Flusher)
	flush := flusher.Flush
	rv := r.URL.Query().Get("resourceVersion")
	from, _ := strconv.Atoi(rv)
	f.mu.Lock()
	f.watches = append(f.watches, rv)
	f.selectors = append(f.selectors, r.URL.Query().Get("labelSelector"))
	f.changedLocked()
	if len(f.scripts) > 0 {
		script := f.scripts[0]
		f.scripts = f.scripts[1:]
		f.mu.Unlock()
		script(w, r)
		return
	}
	if from < f.compacted {
		f.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}}`+"\n")
		return
	}
	sub := &fakeSub{plural: plural, ns: ns, name: nameSelected(r), ch: make(chan []byte, 1024)}
	for _, ev := range f.history {
		if ev.rv > from && sub.matches(ev.plural, ev.ns, ev.name) {
			sub.ch <- ev.line
		}
	}
	f.subs[sub] = true
	f.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	flush()
	for {
		select {
		case line, ok := <-sub.ch:
			if !ok {
				return
			}
			_, _ = w.Write(line) // shared by every watch: never append to it
			_, _ = io.WriteString(w, "\n")
			flush()
		case <-r.Context().Done():
			f.mu.Lock()
			delete(f.subs, sub)
			f.mu.Unlock()
			return
		}
	}
}

func (f *fakeAPI) servePatch(w http.ResponseWriter, r *http.Request, key string, dry bool) {
	var patch struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if r.Header.Get("Content-Type") != "application/merge-patch+json" || json.NewDecoder(r.Body).Decode(&patch) != nil {
		writeStatus(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "bad patch")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cm, ok := f.objects[key]
	if !ok {
		writeStatus(w, http.StatusNotFound, "NotFound", key+" not found")
		return
	}
	if dry {
		f.dryRuns = append(f.dryRuns, "PATCH "+key)
		f.changedLocked()
		_ = json.NewEncoder(w).Encode(cm)
		return
	}
	if cm.Metadata.Annotations == nil {
		cm.Metadata.Annotations = map[string]string{}
	}
	for k, v := range patch.Metadata.Annotations {
		cm.Metadata.Annotations[k] = v
	}
	f.patches++
	f.emitLocked("MODIFIED", strings.SplitN(key, "/", 2)[0], cm)
	_ = json.NewEncoder(w).Encode(cm)
}

func (f *fakeAPI) servePodList(w http.ResponseWriter, r *http.Request, ns string) {
	sel := r.URL.Query().Get("labelSelector")
	reqs, err := parseFakeSelector(sel)
	f.mu.Lock()
	f.podLists = append(f.podLists, sel)
	f.changedLocked()
	if f.failLists > 0 {
		f.failLists--
		f.mu.Unlock()
		http.Error(w, "Error trying to reach service: 'dial tcp: i/o timeout'", http.StatusServiceUnavailable)
		return
	}
	var items []*fakePod
	for _, p := range f.pods {
		if err == nil && p.Metadata.Namespace == ns && matches(reqs, p.Metadata.Labels) {
			items = append(items, p)
		}
	}
	f.mu.Unlock()
	slices.SortFunc(items, func(a, b *fakePod) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "unable to parse requirement: "+err.Error())
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "PodList", "metadata": map[string]string{}, "items": items})
}

// serveDelete answers a pod DELETE, or an Eviction (evict) which a PodDisruptionBudget
// may block with 429 (evictBlock).
func (f *fakeAPI) serveDelete(w http.ResponseWriter, r *http.Request, name string, dry, evict bool) {
	type deleteOptions struct {
		Preconditions struct {
			UID string `json:"uid"`
		} `json:"preconditions"`
		DryRun []string `json:"dryRun"`
	}
	var opts struct {
		deleteOptions
		DeleteOptions *deleteOptions `json:"deleteOptions"`
	}
	// As the real API does: a DELETE with a body takes its options, dryRun included,
	// from the body alone; an Eviction takes dryRun from its query or its deleteOptions.
	if json.NewDecoder(r.Body).Decode(&opts) == nil && !evict {
		dry = slices.Contains(opts.DryRun, "All")
	}
	uid := opts.Preconditions.UID
	if evict && opts.DeleteOptions != nil {
		uid = opts.DeleteOptions.Preconditions.UID
		dry = dry || slices.Contains(opts.DeleteOptions.DryRun, "All")
	}
	f.mu.Lock()
	f.deleteReqs = append(f.deleteReqs, name)
	f.changedLocked()
	gate := f.deleteGate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failDelete[name] > 0 {
		f.failDelete[name]--
		http.Error(w, "Error trying to reach service: 'dial tcp 10.0.0.1:443: connect: connection refused'", http.StatusInternalServerError)
		return
	}
	p, ok := f.pods[name]
	switch {
	case !ok:
		writeStatus(w, http.StatusNotFound, "NotFound", `pods "`+name+`" not found`)
	case uid != "" && uid != p.Metadata.UID:
		writeStatus(w, http.StatusConflict, "Conflict", "Precondition failed: UID in precondition: "+uid+", UID in object meta: "+p.Metadata.UID)
	case evict && f.evictBlock[name] > 0:
		f.evictBlock[name]--
		f.changedLocked()
		w.Header().Set("Retry-After", "0")
		writeStatus(w, http.StatusTooManyRequests, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
	case dry:
		f.dryRuns = append(f.dryRuns, map[bool]string{true: "EVICT ", false: "DELETE "}[evict]+name)
		f.changedLocked()
		_ = json.NewEncoder(w).Encode(p)
	default:
		delete(f.pods, name)
		f.deleted = append(f.deleted, name)
		if evict {
			f.evictions = append(f.evictions, name)
		}
		if f.replace {
			owner := ""
			if o := p.Metadata.OwnerReferences; len(o) > 0 {
				owner = fmt.Sprint(o[0]["kind"], "/", o[0]["name"])
			}
			f.addPodLocked(p.Metadata.Namespace, name+"-r", p.Metadata.Labels, owner)
		}
		f.changedLocked()
		_ = json.NewEncoder(w).Encode(p)
	}
}

// serveWorkload serves ReplicaSet "rs" (owned by Deployment "web"), Deployment "web"
// (paused if f.paused), and template patches of Deployments and StatefulSets.
func (f *fakeAPI) serveWorkload(w http.ResponseWriter, r *http.Request, plural, name string, dry bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && plural == "replicasets" && name == "rs":
		_ = json.NewEncoder(w).Encode(map[string]any{"metadata": map[string]any{"name": "rs",
			"ownerReferences": []map[string]any{{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": true}}}})
	case r.Method == http.MethodGet && plural == "deployments":
		_ = json.NewEncoder(w).Encode(map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"paused": f.paused}})
	case r.Method == http.MethodPatch && r.Header.Get("Content-Type") == "application/strategic-merge-patch+json":
		var patch struct {
			Spec struct {
				Template struct {
					Metadata struct {
						Annotations map[string]string `json:"annotations"`
					} `json:"metadata"`
				} `json:"template"`
			} `json:"spec"`
		}
		if json.NewDecoder(r.Body).Decode(&patch) != nil || patch.Spec.Template.Metadata.Annotations[restartedAtAnnotation] == "" {
			writeStatus(w, http.StatusBadRequest, "BadRequest", "not a restart patch")
			return
		}
		if dry {
			f.dryRuns = append(f.dryRuns, "PATCH "+plural+"/"+name)
		} else {
			f.rollouts = append(f.rollouts, plural+"/"+name)
		}
		f.changedLocked()
		_, _ = io.WriteString(w, "{}")
	default:
		writeStatus(w, http.StatusNotFound, "NotFound", plural+" "+name+" not found")
	}
}

// serveLease keeps Leases as the API does: create fails if one exists, and a PUT with
// a stale resourceVersion fails with 409.
func (f *fakeAPI) serveLease(w http.ResponseWriter, r *http.Request, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var in lease
	if r.Method != http.MethodGet && json.NewDecoder(r.Body).Decode(&in) != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "bad lease")
		return
	}
	cur := f.leases[name]
	switch {
	case r.Method == http.MethodGet && cur == nil:
		writeStatus(w, http.StatusNotFound, "NotFound", "leases "+name+" not found")
		return
	case r.Method == http.MethodGet:
	case r.Method == http.MethodPost && f.leases[in.Metadata.Name] != nil:
		writeStatus(w, http.StatusConflict, "AlreadyExists", "leases "+in.Metadata.Name+" already exists")
		return
	case r.Method == http.MethodPut && f.leaseConflicts > 0:
		f.leaseConflicts--
		writeStatus(w, http.StatusConflict, "Conflict", "the object has been modified")
		return
	case r.Method == http.MethodPut && (cur == nil || cur.Metadata.ResourceVersion != in.Metadata.ResourceVersion):
		writeStatus(w, http.StatusConflict, "Conflict", "the object has been modified")
		return
	default:
		f.rv++
		in.Metadata.ResourceVersion = strconv.Itoa(f.rv)
		cur = &in
		f.leases[in.Metadata.Name] = cur
		f.changedLocked()
	}
	_ = json.NewEncoder(w).Encode(cur)
}

// serveEvent records a posted Event.
func (f *fakeAPI) serveEvent(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		Type, Reason, Message string
		InvolvedObject        objectRef `json:"involvedObject"`
	}
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	f.mu.Lock()
	f.events = append(f.events, fakeEventRecord{Type: ev.Type, Reason: ev.Reason, Message: ev.Message, Object: ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name})
	f.changedLocked()
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, "{}")
}

// waitEvent waits for an Event with reason on object (Kind/Name) and returns it.
func (f *fakeAPI) waitEvent(object, reason string) fakeEventRecord {
	f.t.Helper()
	var found fakeEventRecord
	f.waitUntil(fmt.Sprintf("a %s event on %s", reason, object), func() bool {
		for _, e := range f.events {
			if e.Object == object && e.Reason == reason {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// selectorTerm is one requirement of a label selector: key=value or key in (values).
type selectorTerm struct {
	key    string
	values []string
}

var (
	eqTerm = regexp.MustCompile(`^\s*([A-Za-z0-9./_-]+)\s*==?\s*([A-Za-z0-9._-]*)\s*$`)
	inTerm = regexp.MustCompile(`^\s*([A-Za-z0-9./_-]+)\s+in\s+\(([^)]*)\)\s*$`)
)

// parseFakeSelector understands the equality and set-based forms the tests use.
func parseFakeSelector(sel string) ([]selectorTerm, error) {
	var terms []selectorTerm
	for _, part := range splitSelector(sel) {
		if m := eqTerm.FindStringSubmatch(part); m != nil {
			terms = append(terms, selectorTerm{m[1], []string{m[2]}})
		} else if m := inTerm.FindStringSubmatch(part); m != nil {
			var vals []string
			for _, v := range strings.Split(m[2], ",") {
				vals = append(vals, strings.TrimSpace(v))
			}
			terms = append(terms, selectorTerm{m[1], vals})
		} else {
			return nil, errors.New("invalid selector term " + strconv.Quote(part))
		}
	}
	return terms, nil
}

// splitSelector splits on commas outside parentheses.
func splitSelector(sel string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range sel {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, sel[start:i])
				start = i + 1
			}
		}
	}
	if sel != "" {
		parts = append(parts, sel[start:])
	}
	return parts
}

func matches(terms []selectorTerm, labels map[string]string) bool {
	for _, t := range terms {
		v, ok := labels[t.key]
		if !ok || !contains(t.values, v) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// --- logs ---

// logSink collects cuscon's log output and lets a test wait for a line.
type logSink struct {
	mu     sync.Mutex
	buf    strings.Builder
	notify chan struct{}
}

func newLogSink() *logSink { return &logSink{notify: make(chan struct{})} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	close(s.notify)
	s.notify = make(chan struct{})
	return len(p), nil
}

// String returns everything logged so far.
func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// count returns how many times substr has been logged.
func (s *logSink) count(substr string) int { return strings.Count(s.String(), substr) }

// waitFor waits until substr has been logged n times.
func (s *logSink) waitFor(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, ch := strings.Count(s.buf.String(), substr), s.notify
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %d× %q in log:\n%s", n, substr, s.String())
		}
	}
}

// --- running cuscon against the fake ---

// testBackoff keeps retries quick in tests.
var testBackoff = backoffPolicy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}

// startCuscon runs cuscon against f until the test ends (or stop is called), with cfg
// changed by edit and the assembled app by tune, and returns its log. Its health and
// metrics are served on a free loopback port, named in the log.
func startCuscon(t *testing.T, f *fakeAPI, edit func(*config), tune ...func(*app)) (log *logSink, stop func()) {
	t.Helper()
	cfg := config{commonConfig: commonConfig{APIURL: f.url(), LogFormat: "text", LogLevel: "debug"},
		Namespace: f.ns, Annotation: "magalix.com/podDeleteMatch", State: "annotation",
		Strategy: "delete", Events: true, ReadyTimeout: waitTimeout, EvictTimeout: waitTimeout,
		ShutdownTimeout: 2 * time.Second,
		LeaseName:       "cuscon", LeaseNamespace: f.ns, Identity: "test", LeaseDuration: 2 * time.Second,
		RenewDeadline: time.Second, RetryPeriod: 20 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	sink := newLogSink()
	logger, err := newLogger(sink, cfg.LogFormat, -4)
	require.NoError(t, err)
	a, err := newApp(cfg, logger)
	require.NoError(t, err)
	a.exec.backoff = testBackoff
	a.exec.pollInterval = 5 * time.Millisecond
	for _, w := range a.watchers {
		w.backoff = testBackoff
	}
	for _, fn := range tune {
		fn(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = serve(ctx, "127.0.0.1:0", a.health.healthy, a.health.ready, a.metrics, logger)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		a.run(ctx)
		close(done)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("cuscon log:\n%s", sink.String())
		}
	})
	return sink, stop
}
