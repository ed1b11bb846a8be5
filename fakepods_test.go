// fakepods_test.go serves the fake API's pod-side requests the way the apiserver does:
// pod lists by selector (or cut off, or hanging), DELETE with uid preconditions (or
// refused, or failing), evictions a budget may block, workloads for rollout, Leases and
// Events.

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (f *fakeAPI) servePodList(w http.ResponseWriter, r *http.Request, ns string) {
	sel := r.URL.Query().Get("labelSelector")
	reqs, err := parseFakeSelector(sel)
	f.mu.Lock()
	f.podLists = append(f.podLists, sel)
	f.changedLocked()
	if gate := f.listGate[ns]; gate != nil {
		f.mu.Unlock()
		<-gate
		f.mu.Lock()
	}
	if f.cutLists > 0 {
		f.cutLists--
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"PodList","metadata":{},"items":[{"metadata":{"name":"frontend-0","namesp`)
		panic(http.ErrAbortHandler) // the connection drops mid-body
	}
	if f.failLists > 0 {
		f.failLists--
		f.mu.Unlock()
		http.Error(w, "Error trying to reach service: 'dial tcp: i/o timeout'", http.StatusServiceUnavailable)
		return
	}
	var items []*fakePod
	name := nameSelected(r)
	for _, p := range f.pods {
		if err == nil && p.Metadata.Namespace == ns && matches(reqs, p.Metadata.Labels) && (name == "" || p.Metadata.Name == name) {
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
	if f.refuseDelete[name] {
		writeStatus(w, http.StatusForbidden, "Forbidden", `pods "`+name+`" is forbidden: ValidatingAdmissionPolicy 'no-delete' denied request`)
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
	gate := f.leaseGate
	f.mu.Unlock()
	if gate != nil {
		select { // a Lease request that hangs, until the client gives up
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
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
