// store.go changes what the fake API stores, as clients would: ConfigMaps and Secrets
// put, edited and deleted (each change a watch event in the history), pods added, and
// history compacted; and lets tests wait for pods to go.

package kubetest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/stretchr/testify/require"
)

// --- objects ---

// PutConfigMap creates or replaces a ConfigMap and sends ADDED or MODIFIED to watches.
func (f *API) PutConfigMap(name string, annotations, data map[string]string) {
	f.UpdateConfigMap(name, func(cm *ConfigMap) {
		cm.Metadata.Annotations = annotations
		cm.Data = data
	})
}

// UpdateConfigMap applies edit to a ConfigMap of the fake's namespace.
func (f *API) UpdateConfigMap(name string, edit func(*ConfigMap)) {
	f.UpdateObject("configmaps", f.NS, name, edit)
}

// ConfigMap returns a ConfigMap of the fake's namespace; mu must be held.
func (f *API) ConfigMap(name string) *ConfigMap {
	return f.Objects["configmaps/"+f.NS+"/"+name]
}

// UpdateObject applies edit to a ConfigMap or Secret (creating it if needed) and emits
// the event.
func (f *API) UpdateObject(plural, ns, name string, edit func(*ConfigMap)) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	key := plural + "/" + ns + "/" + name
	obj, ok := f.Objects[key]
	typ := "MODIFIED"
	if !ok {
		f.uidSeq++
		kind := map[string]string{"configmaps": "ConfigMap", "secrets": "Secret"}[plural]
		obj = &ConfigMap{Kind: kind, Metadata: Meta{Name: name, Namespace: ns, UID: fmt.Sprintf("uid-%d", f.uidSeq)}}
		f.Objects[key] = obj
		typ = "ADDED"
	}
	edit(obj)
	f.EmitLocked(typ, plural, obj)
}

// DeleteConfigMap removes a ConfigMap and sends DELETED.
func (f *API) DeleteConfigMap(name string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	key := "configmaps/" + f.NS + "/" + name
	cm := f.Objects[key]
	delete(f.Objects, key)
	f.EmitLocked("DELETED", "configmaps", cm)
}

// EmitLocked gives obj the next resourceVersion, appends the event to history and sends
// it to open watches of its kind and namespace.
func (f *API) EmitLocked(typ, plural string, obj *ConfigMap) {
	f.RV++
	obj.Metadata.ResourceVersion = strconv.Itoa(f.RV)
	line, err := json.Marshal(map[string]any{"type": typ, "object": obj})
	require.NoError(f.t, err)
	f.History = append(f.History, fakeEvent{rv: f.RV, plural: plural, ns: obj.Metadata.Namespace, name: obj.Metadata.Name, line: line})
	for sub := range f.subs {
		if sub.matches(plural, obj.Metadata.Namespace, obj.Metadata.Name) {
			sub.ch <- line
		}
	}
	f.ChangedLocked()
}

// AddPods creates n running pods named prefix-0.. with labels, owned by a ReplicaSet.
func (f *API) AddPods(prefix string, n int, labels map[string]string) {
	for i := range n {
		f.AddPod(fmt.Sprintf("%s-%d", prefix, i), labels, true)
	}
}

// AddPod creates one running, Ready pod in the fake's namespace; owned says whether
// ReplicaSet "rs" (of Deployment "web") controls it.
func (f *API) AddPod(name string, labels map[string]string, owned bool) *Pod {
	owner := ""
	if owned {
		owner = "ReplicaSet/rs"
	}
	return f.AddPodIn(f.NS, name, labels, owner)
}

// AddPodIn creates one running, Ready pod in ns, controlled by owner (Kind/Name) if set.
func (f *API) AddPodIn(ns, name string, labels map[string]string, owner string) *Pod {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.AddPodLocked(ns, name, labels, owner)
}

func (f *API) AddPodLocked(ns, name string, labels map[string]string, owner string) *Pod {
	f.uidSeq++
	p := &Pod{Kind: "Pod", Metadata: Meta{Name: name, Namespace: ns, UID: fmt.Sprintf("pod-uid-%d", f.uidSeq), Labels: labels}}
	p.Status.Phase = "Running"
	p.Status.Conditions = []map[string]string{{"type": "Ready", "status": "True"}}
	if kind, name, ok := strings.Cut(owner, "/"); ok {
		p.Metadata.OwnerReferences = []map[string]any{{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "owner-uid", "controller": true}}
	}
	f.Pods[name] = p
	f.ChangedLocked()
	return p
}

// DeletedPods returns the pods deleted so far.
func (f *API) DeletedPods() []string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]string(nil), f.Deleted...)
}

// WaitDeleted waits until the named pods have all been deleted.
func (f *API) WaitDeleted(names ...string) {
	f.t.Helper()
	f.WaitUntil(fmt.Sprintf("pods %v are deleted", names), func() bool {
		for _, n := range names {
			if !Contains(f.Deleted, n) {
				return false
			}
		}
		return true
	})
}

// WaitWatches waits until n watch requests have been made and returns their resourceVersions.
func (f *API) WaitWatches(n int) []string {
	f.t.Helper()
	var rvs []string
	f.WaitUntil(fmt.Sprintf("%d watch requests", n), func() bool {
		rvs = append([]string(nil), f.Watches...)
		return len(f.Watches) >= n
	})
	return rvs
}

// Script queues fn to serve the next watch request.
func (f *API) Script(fn WatchScript) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.scripts = append(f.scripts, fn)
}

// EndWatches ends every open watch cleanly, as the apiserver does at a watch's timeout.
func (f *API) EndWatches() {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	for sub := range f.subs {
		close(sub.ch)
		delete(f.subs, sub)
	}
}

// Compact forgets history: watches from any resourceVersion before now will expire.
func (f *API) Compact() {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Compacted = f.RV
	f.History = nil
}
