// workloads.go stores Deployments, StatefulSets and DaemonSets in the fake API for the
// Reloader mode and `cuscon plan`: lists of each kind, in a namespace or all, GET, and
// patches (merge or strategic) that set annotations on the workload and on its pod
// template, as the apiserver applies them. A patch that changes the template's
// restartedAt is a rollout.

package kubetest

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
var appsColl = regexp.MustCompile(`^/apis/(?:apps|batch)/v1/(?:namespaces/([^/]+)/)?(deployments|statefulsets|daemonsets|cronjobs|jobs)$`)

// Workload is a stored Deployment, StatefulSet or DaemonSet.
type Workload struct {
	Kind     string `json:"kind"`
	Metadata Meta   `json:"metadata"`
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

// PutWorkload stores a workload of kind in the fake's namespace whose pods carry
// app=name and are selected by it; annotations go on the workload, template on its pod
// template, spec is the pod spec as JSON.
func (f *API) PutWorkload(kind, name string, annotations, template map[string]string, spec string) *Workload {
	f.t.Helper()
	w := &Workload{Kind: kind, Metadata: Meta{Name: name, Namespace: f.NS, Annotations: maps.Clone(annotations)}}
	w.Spec.Selector = map[string]any{"matchLabels": map[string]string{"app": name}}
	w.Spec.Template.Metadata.Labels = map[string]string{"app": name}
	w.Spec.Template.Metadata.Annotations = maps.Clone(template) // patches change the stored copies only
	w.Spec.Template.Spec = json.RawMessage(spec)
	require.True(f.t, json.Valid(w.Spec.Template.Spec), "pod spec of %s", name)
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.uidSeq++
	w.Metadata.UID = "wl-uid-" + strconv.Itoa(f.uidSeq)
	f.Workloads[workloadKey(kind, f.NS, name)] = w
	f.ChangedLocked()
	return w
}

// workloadKey is how the fake stores a workload: plural/namespace/name.
func workloadKey(kind, ns, name string) string { return strings.ToLower(kind) + "s/" + ns + "/" + name }

// WorkloadAnnotation returns an annotation of a stored workload, "" if unset.
func (f *API) WorkloadAnnotation(kind, name, key string) string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if w := f.Workloads[workloadKey(kind, f.NS, name)]; w != nil {
		return w.Metadata.Annotations[key]
	}
	return ""
}

// RolloutsOf counts the rollouts of one workload (plural/name, e.g. deployments/app).
func (f *API) RolloutsOf(ref string) int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	n := 0
	for _, r := range f.Rollouts {
		if r == ref {
			n++
		}
	}
	return n
}

// serveWorkloadList lists the stored workloads of plural in ns ("": all), by name.
func (f *API) serveWorkloadList(w http.ResponseWriter, ns, plural string) {
	f.Mu.Lock()
	if gate := f.WorkloadGate[ns]; gate != nil {
		f.WorkloadGated++
		f.ChangedLocked()
		f.Mu.Unlock()
		<-gate
		f.Mu.Lock()
	}
	f.WorkloadLists++
	var items []*Workload
	for key, wl := range f.Workloads {
		if strings.HasPrefix(key, plural+"/") && (ns == "" || wl.Metadata.Namespace == ns) {
			items = append(items, wl)
		}
	}
	slices.SortFunc(items, func(a, b *Workload) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	body, err := json.Marshal(map[string]any{"kind": "List", "metadata": map[string]string{"resourceVersion": strconv.Itoa(f.RV)}, "items": items})
	f.ChangedLocked()
	f.Mu.Unlock()
	require.NoError(f.t, err)
	_, _ = w.Write(body)
}

// serveStoredWorkload serves GET and PATCH of a stored workload and reports whether it
// was one; other apps requests go to serveWorkload.
func (f *API) serveStoredWorkload(w http.ResponseWriter, r *http.Request, ns, plural, name string, dry bool) bool {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	wl := f.Workloads[plural+"/"+ns+"/"+name]
	if wl == nil {
		return false
	}
	if gate := f.WorkloadPatchGate; gate != nil && r.Method == http.MethodPatch {
		f.WorkloadPatchesWaiting++
		f.ChangedLocked()
		f.Mu.Unlock()
		<-gate
		f.Mu.Lock()
		f.WorkloadPatchesWaiting--
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
			WriteStatus(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "bad patch")
			return true
		}
		if dry {
			f.DryRuns = append(f.DryRuns, "PATCH "+plural+"/"+name)
			f.ChangedLocked()
			_ = json.NewEncoder(w).Encode(wl)
			return true
		}
		tmpl := patch.Spec.Template.Metadata.Annotations
		if tmpl[restartedAt] != "" && tmpl[restartedAt] != wl.Spec.Template.Metadata.Annotations[restartedAt] {
			f.Rollouts = append(f.Rollouts, plural+"/"+name)
		}
		wl.Metadata.Annotations = mergeAnnotations(wl.Metadata.Annotations, patch.Metadata.Annotations)
		wl.Spec.Template.Metadata.Annotations = mergeAnnotations(wl.Spec.Template.Metadata.Annotations, tmpl)
		f.WorkloadPatches = append(f.WorkloadPatches, plural+"/"+name)
		f.ChangedLocked()
		_ = json.NewEncoder(w).Encode(wl)
	default:
		WriteStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
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
