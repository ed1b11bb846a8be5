// fakeworkloads_test.go stores Deployments, StatefulSets and DaemonSets in the fake API
// (fakeapi_test.go) for the Reloader mode and `cuscon plan`: lists of each kind, in a
// namespace or all, GET, and patches (merge or strategic) that set annotations on the
// workload and on its pod template, as the apiserver applies them. A patch that changes
// the template's restartedAt is a rollout.

package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stretchr/testify/require"
)

// appsColl is the route of a workload list.
var appsColl = regexp.MustCompile(`^/apis/apps/v1/(?:namespaces/([^/]+)/)?(deployments|statefulsets|daemonsets)$`)

// fakeWorkload is a stored Deployment, StatefulSet or DaemonSet.
type fakeWorkload struct {
	Kind     string   `json:"kind"`
	Metadata fakeMeta `json:"metadata"`
	Spec     struct {
		Selector map[string]any `json:"selector,omitempty"`
		Paused   bool           `json:"paused,omitempty"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `json:"labels,omitempty"`
				Annotations map[string]string `json:"annotations,omitempty"`
			} `json:"metadata"`
			Spec json.RawMessage `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// putWorkload stores a workload of kind in the fake's namespace whose pods carry
// app=name and are selected by it; annotations go on the workload, template on its pod
// template, spec is the pod spec as JSON.
func (f *fakeAPI) putWorkload(kind, name string, annotations, template map[string]string, spec string) *fakeWorkload {
	f.t.Helper()
	w := &fakeWorkload{Kind: kind, Metadata: fakeMeta{Name: name, Namespace: f.ns, Annotations: maps.Clone(annotations)}}
	w.Spec.Selector = map[string]any{"matchLabels": map[string]string{"app": name}}
	w.Spec.Template.Metadata.Labels = map[string]string{"app": name}
	w.Spec.Template.Metadata.Annotations = maps.Clone(template) // patches change the stored copies only
	w.Spec.Template.Spec = json.RawMessage(spec)
	require.True(f.t, json.Valid(w.Spec.Template.Spec), "pod spec of %s", name)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uidSeq++
	w.Metadata.UID = "wl-uid-" + strconv.Itoa(f.uidSeq)
	f.workloads[workloadKey(kind, f.ns, name)] = w
	f.changedLocked()
	return w
}

// workloadKey is how the fake stores a workload: plural/namespace/name.
func workloadKey(kind, ns, name string) string { return strings.ToLower(kind) + "s/" + ns + "/" + name }

// workloadAnnotation returns an annotation of a stored workload, "" if unset.
func (f *fakeAPI) workloadAnnotation(kind, name, key string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.workloads[workloadKey(kind, f.ns, name)]; w != nil {
		return w.Metadata.Annotations[key]
	}
	return ""
}

// rolloutsOf counts the rollouts of one workload (plural/name, e.g. deployments/app).
func (f *fakeAPI) rolloutsOf(ref string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.rollouts {
		if r == ref {
			n++
		}
	}
	return n
}

// serveWorkloadList lists the stored workloads of plural in ns ("": all), by name.
func (f *fakeAPI) serveWorkloadList(w http.ResponseWriter, ns, plural string) {
	f.mu.Lock()
	f.workloadLists++
	var items []*fakeWorkload
	for key, wl := range f.workloads {
		if strings.HasPrefix(key, plural+"/") && (ns == "" || wl.Metadata.Namespace == ns) {
			items = append(items, wl)
		}
	}
	slices.SortFunc(items, func(a, b *fakeWorkload) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	body, err := json.Marshal(map[string]any{"kind": "List", "metadata": map[string]string{"resourceVersion": strconv.Itoa(f.rv)}, "items": items})
	f.changedLocked()
	f.mu.Unlock()
	require.NoError(f.t, err)
	_, _ = w.Write(body)
}

// serveStoredWorkload serves GET and PATCH of a stored workload and reports whether it
// was one; other apps requests go to serveWorkload.
func (f *fakeAPI) serveStoredWorkload(w http.ResponseWriter, r *http.Request, ns, plural, name string, dry bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	wl := f.workloads[plural+"/"+ns+"/"+name]
	if wl == nil {
		return false
	}
	switch r.Method {
	case http.MethodGet:
		_ = json.NewEncoder(w).Encode(wl)
	case http.MethodPatch:
		var patch struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Template struct {
					Metadata struct {
						Annotations map[string]string `json:"annotations"`
					} `json:"metadata"`
				} `json:"template"`
			} `json:"spec"`
		}
		ct := r.Header.Get("Content-Type")
		if (ct != "application/merge-patch+json" && ct != "application/strategic-merge-patch+json") || json.NewDecoder(r.Body).Decode(&patch) != nil {
			writeStatus(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "bad patch")
			return true
		}
		if dry {
			f.dryRuns = append(f.dryRuns, "PATCH "+plural+"/"+name)
			f.changedLocked()
			_ = json.NewEncoder(w).Encode(wl)
			return true
		}
		tmpl := patch.Spec.Template.Metadata.Annotations
		if tmpl[restartedAtAnnotation] != "" && tmpl[restartedAtAnnotation] != wl.Spec.Template.Metadata.Annotations[restartedAtAnnotation] {
			f.rollouts = append(f.rollouts, plural+"/"+name)
		}
		wl.Metadata.Annotations = mergeAnnotations(wl.Metadata.Annotations, patch.Metadata.Annotations)
		wl.Spec.Template.Metadata.Annotations = mergeAnnotations(wl.Spec.Template.Metadata.Annotations, tmpl)
		f.workloadPatches = append(f.workloadPatches, plural+"/"+name)
		f.changedLocked()
		_ = json.NewEncoder(w).Encode(wl)
	default:
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
	}
	return true
}

// mergeAnnotations applies a patch's annotations to a, as a merge patch does.
func mergeAnnotations(a, patch map[string]string) map[string]string {
	if len(patch) == 0 {
		return a
	}
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range patch {
		a[k] = v
	}
	return a
}
