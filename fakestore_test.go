// fakestore_test.go changes what the fake API stores, as clients would: ConfigMaps and
// Secrets put, edited and deleted (each change a watch event in the history), pods
// added, and history compacted; and lets tests wait for pods to go.

package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/stretchr/testify/require"
)

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
