// routes.go routes the fake API's requests the way the apiserver does: lists and watch
// streams, merge-patches, pod lists by selector, DELETE with uid preconditions,
// evictions, workloads, Events and Leases.

package kubetest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stretchr/testify/require"
)

// --- HTTP ---

var (
	collection = regexp.MustCompile(`^/api/v1/(?:namespaces/([^/]+)/)?(configmaps|secrets)$`)
	item       = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/(configmaps|secrets)/([^/]+)$`)
	podColl    = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods$`)
	podItem    = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)$`)
	eviction   = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)/eviction$`)
	appsItem   = regexp.MustCompile(`^/apis/apps/v1/namespaces/([^/]+)/(replicasets|deployments|statefulsets|daemonsets)/([^/]+)$`)
	eventColl  = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/events$`)
	leaseRoute = regexp.MustCompile(`^/apis/coordination.k8s.io/v1/namespaces/([^/]+)/leases(?:/([^/]+))?$`)
)

func (f *API) handle(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	dry := r.URL.Query().Get("dryRun") == "All"
	if r.Method != http.MethodGet {
		f.Mu.Lock()
		f.Writes = append(f.Writes, r.Method+" "+p)
		f.Mu.Unlock()
	}
	switch m := []string(nil); {
	case r.Method == http.MethodGet && collection.MatchString(p) && r.URL.Query().Get("watch") == "true":
		m = collection.FindStringSubmatch(p)
		f.serveWatch(w, r, m[2], m[1])
	case r.Method == http.MethodGet && collection.MatchString(p):
		m = collection.FindStringSubmatch(p)
		f.serveList(w, r, m[2], m[1])
	case r.Method == http.MethodGet && item.MatchString(p):
		m = item.FindStringSubmatch(p)
		f.serveGet(w, m[2]+"/"+m[1]+"/"+m[3])
	case r.Method == http.MethodPost && collection.MatchString(p):
		m = collection.FindStringSubmatch(p)
		f.serveCreate(w, r, m[2], m[1])
	case r.Method == http.MethodPatch && item.MatchString(p):
		m = item.FindStringSubmatch(p)
		f.servePatch(w, r, m[2]+"/"+m[1]+"/"+m[3], dry)
	case r.Method == http.MethodGet && (p == "/api/v1/pods" || podColl.MatchString(p) && r.URL.Query().Get("watch") == "true"):
		// As an RBAC role without watch on pods (cuscon's before its pod cache): the
		// cache stays closed and pods are listed; the real plane's tests cover the cache.
		WriteStatus(w, http.StatusForbidden, "Forbidden", `pods is forbidden: cannot watch resource "pods"`)
	case r.Method == http.MethodGet && podColl.MatchString(p):
		f.servePodList(w, r, podColl.FindStringSubmatch(p)[1])
	case r.Method == http.MethodDelete && podItem.MatchString(p):
		f.serveDelete(w, r, podItem.FindStringSubmatch(p)[2], dry, false)
	case r.Method == http.MethodPost && eviction.MatchString(p):
		f.serveDelete(w, r, eviction.FindStringSubmatch(p)[2], dry, true)
	case r.Method == http.MethodGet && appsColl.MatchString(p):
		m = appsColl.FindStringSubmatch(p)
		f.serveWorkloadList(w, m[1], m[2])
	case appsItem.MatchString(p):
		m = appsItem.FindStringSubmatch(p)
		if !f.serveStoredWorkload(w, r, m[1], m[2], m[3], dry) {
			f.serveWorkload(w, r, m[2], m[3], dry)
		}
	case r.Method == http.MethodPost && eventColl.MatchString(p):
		f.serveEvent(w, r)
	case leaseRoute.MatchString(p):
		f.serveLease(w, r, leaseRoute.FindStringSubmatch(p)[2])
	default:
		WriteStatus(w, http.StatusNotFound, "NotFound", "no route for "+r.Method+" "+p)
	}
}

// WriteStatus answers with a JSON Status, as the apiserver does for errors.
func WriteStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": msg, "reason": reason, "code": code})
}

func (f *API) serveList(w http.ResponseWriter, r *http.Request, plural, ns string) {
	sel, _ := parseFakeSelector(r.URL.Query().Get("labelSelector"))
	f.Mu.Lock()
	if name := nameSelected(r); name != "" {
		f.NameLists = append(f.NameLists, name) // one object read whole after a metadata-only list
	} else {
		f.Lists++
		f.Selectors = append(f.Selectors, r.URL.Query().Get("labelSelector"))
	}
	var items []*ConfigMap
	for key, obj := range f.Objects {
		name := nameSelected(r)
		if strings.HasPrefix(key, plural+"/") && (ns == "" || obj.Metadata.Namespace == ns) && matches(sel, obj.Metadata.Labels) &&
			(name == "" || obj.Metadata.Name == name) {
			items = append(items, obj)
		}
	}
	slices.SortFunc(items, func(a, b *ConfigMap) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	body, err := json.Marshal(map[string]any{"kind": "List", "metadata": map[string]string{"resourceVersion": strconv.Itoa(f.RV)}, "items": items})
	f.ChangedLocked()
	f.Mu.Unlock()
	require.NoError(f.t, err)
	_, _ = w.Write(body)
}

func (f *API) serveWatch(w http.ResponseWriter, r *http.Request, plural, ns string) {
	flusher := w.(http.Flusher)
	flush := flusher.Flush
	rv := r.URL.Query().Get("resourceVersion")
	from, _ := strconv.Atoi(rv)
	f.Mu.Lock()
	f.Watches = append(f.Watches, rv)
	f.Selectors = append(f.Selectors, r.URL.Query().Get("labelSelector"))
	f.ChangedLocked()
	if len(f.scripts) > 0 {
		script := f.scripts[0]
		f.scripts = f.scripts[1:]
		f.Mu.Unlock()
		script(w, r)
		return
	}
	if from < f.Compacted {
		f.Mu.Unlock()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}}`+"\n")
		return
	}
	sub := &fakeSub{plural: plural, ns: ns, name: nameSelected(r), ch: make(chan []byte, 1024)}
	for _, ev := range f.History {
		if ev.rv > from && sub.matches(ev.plural, ev.ns, ev.name) {
			sub.ch <- ev.line
		}
	}
	f.subs[sub] = true
	f.Mu.Unlock()
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
			f.Mu.Lock()
			delete(f.subs, sub)
			f.Mu.Unlock()
			return
		}
	}
}

// MaxAnnotationsSize is the apiserver's bound on an object's annotations, keys and
// values together.
const MaxAnnotationsSize = 256 << 10

// AnnotationsSize is what the apiserver counts of a: every key and value.
func AnnotationsSize(a map[string]string) int {
	n := 0
	for k, v := range a {
		n += len(k) + len(v)
	}
	return n
}

// serveGet answers a GET of a stored ConfigMap or Secret.
func (f *API) serveGet(w http.ResponseWriter, key string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if f.ForbidGet[key] {
		WriteStatus(w, http.StatusForbidden, "Forbidden", key+" is forbidden")
		return
	}
	obj, ok := f.Objects[key]
	if !ok {
		WriteStatus(w, http.StatusNotFound, "NotFound", key+" not found")
		return
	}
	_ = json.NewEncoder(w).Encode(obj)
}

// serveCreate answers a POST of a ConfigMap or Secret: stored and sent to watches as
// ADDED, or 409 if one of that name exists.
func (f *API) serveCreate(w http.ResponseWriter, r *http.Request, plural, ns string) {
	var obj ConfigMap
	if json.NewDecoder(r.Body).Decode(&obj) != nil || obj.Metadata.Name == "" {
		WriteStatus(w, http.StatusBadRequest, "BadRequest", "bad object")
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	key := plural + "/" + ns + "/" + obj.Metadata.Name
	if f.ForbidCreate[plural+"/"+ns] {
		WriteStatus(w, http.StatusForbidden, "Forbidden", "cannot create "+plural+" in "+ns)
		return
	}
	if _, ok := f.Objects[key]; ok {
		WriteStatus(w, http.StatusConflict, "AlreadyExists", key+" already exists")
		return
	}
	f.uidSeq++
	obj.Metadata.Namespace, obj.Metadata.UID = ns, fmt.Sprintf("uid-%d", f.uidSeq)
	f.Objects[key] = &obj
	f.EmitLocked("ADDED", plural, &obj)
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(&obj)
}

func (f *API) servePatch(w http.ResponseWriter, r *http.Request, key string, dry bool) {
	var patch struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if r.Header.Get("Content-Type") != "application/merge-patch+json" || json.NewDecoder(r.Body).Decode(&patch) != nil {
		WriteStatus(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "bad patch")
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	cm, ok := f.Objects[key]
	if !ok {
		WriteStatus(w, http.StatusNotFound, "NotFound", key+" not found")
		return
	}
	if dry {
		f.DryRuns = append(f.DryRuns, "PATCH "+key)
		f.ChangedLocked()
		_ = json.NewEncoder(w).Encode(cm)
		return
	}
	merged := mergeAnnotations(maps.Clone(cm.Metadata.Annotations), patch.Metadata.Annotations)
	if size := AnnotationsSize(merged); size > MaxAnnotationsSize {
		WriteStatus(w, http.StatusUnprocessableEntity, "Invalid", fmt.Sprintf("metadata.annotations: Too long: must have at most %d bytes", MaxAnnotationsSize))
		return
	}
	cm.Metadata.Annotations = merged
	f.Patches++
	f.EmitLocked("MODIFIED", strings.SplitN(key, "/", 2)[0], cm)
	_ = json.NewEncoder(w).Encode(cm)
}
