// pods.go serves the fake API's pod-side requests the way the apiserver does: pod lists
// by selector (or cut off, or hanging), DELETE with uid preconditions (or refused, or
// failing), evictions a budget may block, workloads for rollout, Leases and Events.

package kubetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (f *API) servePodList(w http.ResponseWriter, r *http.Request, ns string) {
	sel := r.URL.Query().Get("labelSelector")
	reqs, err := parseFakeSelector(sel)
	f.Mu.Lock()
	f.PodLists = append(f.PodLists, sel)
	f.ChangedLocked()
	if f.ForbidPodLists[ns] {
		f.Mu.Unlock()
		WriteStatus(w, http.StatusForbidden, "Forbidden", `pods is forbidden: cannot list resource "pods" in the namespace "`+ns+`"`)
		return
	}
	if gate := f.ListGate[ns]; gate != nil {
		f.Mu.Unlock()
		<-gate
		f.Mu.Lock()
	}
	if f.CutLists > 0 {
		f.CutLists--
		f.Mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"PodList","metadata":{},"items":[{"metadata":{"name":"frontend-0","namesp`)
		// Sent before the drop: a connection that closes with nothing received is one
		// Go's transport retries by itself on a reused connection, and no cut is seen.
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops mid-body
	}
	if f.FailLists > 0 {
		f.FailLists--
		f.Mu.Unlock()
		http.Error(w, "Error trying to reach service: 'dial tcp: i/o timeout'", http.StatusServiceUnavailable)
		return
	}
	var items []*Pod
	name := nameSelected(r)
	for _, p := range f.Pods {
		if err == nil && p.Metadata.Namespace == ns && matches(reqs, p.Metadata.Labels) && (name == "" || p.Metadata.Name == name) {
			items = append(items, p)
		}
	}
	f.Mu.Unlock()
	slices.SortFunc(items, func(a, b *Pod) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	if err != nil {
		WriteStatus(w, http.StatusBadRequest, "BadRequest", "unable to parse requirement: "+err.Error())
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "PodList", "metadata": map[string]string{}, "items": items})
}

// serveDelete answers a pod DELETE, or an Eviction (evict) which a PodDisruptionBudget
// may block with 429 (evictBlock).
func (f *API) serveDelete(w http.ResponseWriter, r *http.Request, name string, dry, evict bool) {
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
	f.Mu.Lock()
	f.DeleteReqs = append(f.DeleteReqs, name)
	f.ChangedLocked()
	gate := f.DeleteGate
	f.Mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if f.FailDelete[name] > 0 {
		f.FailDelete[name]--
		http.Error(w, "Error trying to reach service: 'dial tcp 10.0.0.1:443: connect: connection refused'", http.StatusInternalServerError)
		return
	}
	if f.RefuseDelete[name] {
		WriteStatus(w, http.StatusForbidden, "Forbidden", `pods "`+name+`" is forbidden: ValidatingAdmissionPolicy 'no-delete' denied request`)
		return
	}
	p, ok := f.Pods[name]
	switch {
	case !ok:
		WriteStatus(w, http.StatusNotFound, "NotFound", `pods "`+name+`" not found`)
	case uid != "" && uid != p.Metadata.UID:
		WriteStatus(w, http.StatusConflict, "Conflict", "Precondition failed: UID in precondition: "+uid+", UID in object meta: "+p.Metadata.UID)
	case evict && f.EvictBlock[name] > 0:
		f.EvictBlock[name]--
		f.ChangedLocked()
		w.Header().Set("Retry-After", "0")
		WriteStatus(w, http.StatusTooManyRequests, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
	case dry:
		f.DryRuns = append(f.DryRuns, map[bool]string{true: "EVICT ", false: "DELETE "}[evict]+name)
		f.ChangedLocked()
		_ = json.NewEncoder(w).Encode(p)
	default:
		delete(f.Pods, name)
		f.Deleted = append(f.Deleted, name)
		if evict {
			f.Evictions = append(f.Evictions, name)
		}
		if f.Replace {
			owner := ""
			if o := p.Metadata.OwnerReferences; len(o) > 0 {
				owner = fmt.Sprint(o[0]["kind"], "/", o[0]["name"])
			}
			f.AddPodLocked(p.Metadata.Namespace, name+"-r", p.Metadata.Labels, owner)
		}
		f.ChangedLocked()
		_ = json.NewEncoder(w).Encode(p)
	}
}

// serveWorkload serves ReplicaSet "rs" (owned by Deployment "web"), Deployment "web"
// (paused if f.Paused), and template patches of Deployments and StatefulSets.
func (f *API) serveWorkload(w http.ResponseWriter, r *http.Request, plural, name string, dry bool) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	switch {
	case r.Method == http.MethodGet && plural == "replicasets" && name == "rs":
		_ = json.NewEncoder(w).Encode(map[string]any{"metadata": map[string]any{"name": "rs",
			"ownerReferences": []map[string]any{{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": true}}}})
	case r.Method == http.MethodGet && plural == "deployments":
		_ = json.NewEncoder(w).Encode(map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"paused": f.Paused}})
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
		if json.NewDecoder(r.Body).Decode(&patch) != nil || patch.Spec.Template.Metadata.Annotations[restartedAt] == "" {
			WriteStatus(w, http.StatusBadRequest, "BadRequest", "not a restart patch")
			return
		}
		if dry {
			f.DryRuns = append(f.DryRuns, "PATCH "+plural+"/"+name)
		} else {
			f.Rollouts = append(f.Rollouts, plural+"/"+name)
		}
		f.ChangedLocked()
		_, _ = io.WriteString(w, "{}")
	default:
		WriteStatus(w, http.StatusNotFound, "NotFound", plural+" "+name+" not found")
	}
}

// serveLease keeps Leases as the API does: create fails if one exists, and a PUT with
// a stale resourceVersion fails with 409.
func (f *API) serveLease(w http.ResponseWriter, r *http.Request, name string) {
	f.Mu.Lock()
	gate := f.LeaseGate
	f.Mu.Unlock()
	if gate != nil {
		select { // a Lease request that hangs, until the client gives up
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var in Lease
	if r.Method != http.MethodGet && json.NewDecoder(r.Body).Decode(&in) != nil {
		WriteStatus(w, http.StatusBadRequest, "BadRequest", "bad lease")
		return
	}
	cur := f.Leases[name]
	switch {
	case r.Method == http.MethodGet && cur == nil:
		WriteStatus(w, http.StatusNotFound, "NotFound", "leases "+name+" not found")
		return
	case r.Method == http.MethodGet:
	case r.Method == http.MethodPost && f.Leases[in.Metadata.Name] != nil:
		WriteStatus(w, http.StatusConflict, "AlreadyExists", "leases "+in.Metadata.Name+" already exists")
		return
	case r.Method == http.MethodPut && f.LeaseConflicts > 0:
		f.LeaseConflicts--
		WriteStatus(w, http.StatusConflict, "Conflict", "the object has been modified")
		return
	case r.Method == http.MethodPut && (cur == nil || cur.Metadata.ResourceVersion != in.Metadata.ResourceVersion):
		WriteStatus(w, http.StatusConflict, "Conflict", "the object has been modified")
		return
	default:
		f.RV++
		in.Metadata.ResourceVersion = strconv.Itoa(f.RV)
		cur = &in
		f.Leases[in.Metadata.Name] = cur
		f.ChangedLocked()
	}
	_ = json.NewEncoder(w).Encode(cur)
}

// serveEvent records a posted Event.
func (f *API) serveEvent(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		Type, Reason, Message string
		InvolvedObject        struct{ Kind, Name string } `json:"involvedObject"`
	}
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		WriteStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	f.Mu.Lock()
	f.Events = append(f.Events, EventRecord{Type: ev.Type, Reason: ev.Reason, Message: ev.Message, Object: ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name})
	f.ChangedLocked()
	f.Mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, "{}")
}

// WaitEvent waits for an Event with reason on object (Kind/Name) and returns it.
func (f *API) WaitEvent(object, reason string) EventRecord {
	f.t.Helper()
	var found EventRecord
	f.WaitUntil(fmt.Sprintf("a %s event on %s", reason, object), func() bool {
		for _, e := range f.Events {
			if e.Object == object && e.Reason == reason {
				found = e
				return true
			}
		}
		return false
	})
	return found
}
