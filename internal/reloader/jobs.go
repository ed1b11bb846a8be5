// jobs.go restarts what runs to completion, as stakater/Reloader does and more carefully:
// a CronJob's Job template gets the marker and a Job of it runs now (not while it is
// suspended, nor beside a running one its concurrencyPolicy forbids); a Job that opted
// in on its own metadata is deleted and created again, with the marker, after the API
// server accepted the new one in a dry run, and kept (and retried) until it exists again.

package reloader

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
)

// cronJob is the part of a CronJob a run reads.
type cronJob struct {
	Metadata kube.ObjectMeta `json:"metadata"`
	Spec     struct {
		Suspend           bool            `json:"suspend"`
		ConcurrencyPolicy string          `json:"concurrencyPolicy"`
		JobTemplate       json.RawMessage `json:"jobTemplate"`
	} `json:"spec"`
	Status struct {
		Active []json.RawMessage `json:"active"`
	} `json:"status"`
}

// runCronJob writes p's marker in a CronJob's Job template, so that its next Jobs carry
// it, and runs a Job of it now, as `kubectl create job --from=cronjob/...` would. Without
// patch on CronJobs (Reloader's chart grants none) the Job still runs, marked; its
// CronJob is neither marked nor recorded.
func (r *Mode) runCronJob(ctx context.Context, p restartPlan, dryRun bool) (string, error) {
	var cj cronJob
	var e markEdit
	marked := ""
	for attempt := 0; ; attempt++ {
		if err := r.client.Get(ctx, p.w.Path(), nil, &cj); kube.Code(err) == http.StatusNotFound {
			return "nothing to do: " + errReplaced.Error(), nil
		} else if err != nil {
			return "", fmt.Errorf("get %s: %w", p.w, err)
		}
		if cj.Metadata.UID != p.uid {
			return "nothing to do: " + errReplaced.Error(), nil
		}
		var f fetchedWorkload
		if err := json.Unmarshal(cj.Spec.JobTemplate, &f.Spec.JobTemplate); err != nil {
			return "", fmt.Errorf("read the Job template of %s: %w", p.w, err)
		}
		tmpl := &f.Spec.JobTemplate.Spec.Template
		e = markFor(p.strategy, p.w.Namespace, p.sources, containerNames(tmpl), p.using, time.Now())
		e.meta = p.annotations()
		ops := patchFor(e, cj.Metadata.ResourceVersion, cj.Metadata.Annotations, "/spec/jobTemplate/spec/template", tmpl)
		err := r.client.Patch(ctx, p.w.Path(), "application/json-patch+json", ops, dryRun)
		if conflicted(err) && attempt < 4 {
			continue
		}
		switch {
		case kube.Code(err) == http.StatusForbidden:
			r.warnOnce("patch/CronJob", "Could not patch CronJobs: their Jobs run, marked, but the CronJobs are neither marked nor recorded (grant patch on cronjobs)", err)
			marked = "; its template not marked (no patch on cronjobs)"
		case err != nil:
			return "", fmt.Errorf("patch %s: %w", p.w, err)
		default:
			marked = "; its Job template marked"
		}
		break
	}
	switch {
	case cj.Spec.Suspend:
		return "it is suspended, so no Job runs now" + marked, nil
	case cj.Spec.ConcurrencyPolicy == "Forbid" && len(cj.Status.Active) > 0:
		return "a Job of it is running and its concurrencyPolicy is Forbid, so no Job runs now" + marked, nil
	}
	var jt map[string]any
	if err := json.Unmarshal(cj.Spec.JobTemplate, &jt); err != nil {
		return "", fmt.Errorf("read the Job template of %s: %w", p.w, err)
	}
	meta, _ := jt["metadata"].(map[string]any)
	spec, _ := jt["spec"].(map[string]any)
	if spec == nil {
		return "", fmt.Errorf("read the Job template of %s: no spec", p.w)
	}
	annotations := map[string]any{"cronjob.kubernetes.io/instantiate": "manual"}
	if a, ok := meta["annotations"].(map[string]any); ok {
		maps.Copy(annotations, a)
	}
	yes := true
	job := map[string]any{"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"generateName": p.w.Name + "-", "namespace": p.w.Namespace, "labels": meta["labels"],
			"annotations": annotations, "ownerReferences": []map[string]any{{"apiVersion": "batch/v1", "kind": "CronJob",
				"name": p.w.Name, "uid": cj.Metadata.UID, "controller": &yes, "blockOwnerDeletion": &yes}}},
		"spec": spec}
	if err := markObject(job, e); err != nil {
		return "", fmt.Errorf("mark a Job of %s: %w", p.w, err)
	}
	var made kube.Object
	if err := r.client.Call(ctx, http.MethodPost, kube.AppsCollectionPath("Job", p.w.Namespace), kube.DryRunQuery(dryRun),
		"application/json", job, &made); err != nil {
		return "", fmt.Errorf("create a Job of %s: %w", p.w, err)
	}
	return "ran Job " + made.Metadata.Name + " now" + marked, nil
}

// markObject writes e (but its meta) in the pod template of a Job object, decoded.
func markObject(obj map[string]any, e markEdit) error {
	spec, _ := obj["spec"].(map[string]any)
	var tmpl template
	if b, err := json.Marshal(spec["template"]); err == nil {
		_ = json.Unmarshal(b, &tmpl)
	}
	if t, ok := spec["template"].(map[string]any); ok {
		if _, ok := t["metadata"].(map[string]any); !ok {
			t["metadata"] = map[string]any{}
		}
	}
	e.meta = nil
	for _, op := range patchFor(e, "", nil, "/spec/template", &tmpl)[1:] {
		if err := addAt(obj, op.Path, op.Value); err != nil {
			return err
		}
	}
	return nil
}

// jobRecreation is one Job's re-creation, kept across the rounds it takes: once the Job
// is deleted, the object to create again is held until it could be.
type jobRecreation struct {
	plan    restartPlan
	saved   map[string]any
	deleted bool
}

// jobLabels are the labels the API server gives a Job and its pods from the Job's uid:
// a Job created again gets them anew.
var jobLabels = []string{"controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"}

// recreateJob deletes a Job and creates it again with the marker, as Reloader does, so
// that it runs again with the new content. The new Job is first sent as a dry run: what
// the API server would refuse (a quota, an admission policy) leaves the old one alone.
func (r *Mode) recreateJob(ctx context.Context, j *jobRecreation, dryRun bool) (string, error) {
	p := j.plan
	if j.saved == nil {
		var raw map[string]any
		err := r.client.Get(ctx, p.w.Path(), nil, &raw)
		if kube.Code(err) == http.StatusNotFound {
			return "nothing to do: " + errReplaced.Error(), nil
		}
		if err != nil {
			return "", fmt.Errorf("get %s: %w", p.w, err)
		}
		obj, uid, err := r.jobAnew(raw, p)
		if err != nil {
			return "", err
		}
		if uid != p.uid {
			return "nothing to do: " + errReplaced.Error(), nil
		}
		// The dry run has the real name: validation and admission run before the name is
		// found taken, so a 409 says the new Job would be accepted.
		err = r.client.Call(ctx, http.MethodPost, kube.AppsCollectionPath("Job", p.w.Namespace), kube.DryRunQuery(true),
			"application/json", obj, nil)
		if err != nil && kube.Code(err) != http.StatusConflict {
			return "", fmt.Errorf("the API server would not create %s again, so it is left as it is: %w", p.w, err)
		}
		if dryRun {
			return "would be deleted and created again", nil
		}
		body := map[string]any{"propagationPolicy": "Background", "preconditions": map[string]string{"uid": p.uid}}
		err = r.client.Call(ctx, http.MethodDelete, p.w.Path(), nil, "application/json", body, nil)
		if err != nil && kube.Code(err) != http.StatusNotFound {
			return "", fmt.Errorf("delete %s: %w", p.w, err)
		}
		j.saved, j.deleted = obj, true
	}
	bo := backoff.Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second}.Start()
	for tries := 0; ; tries++ {
		err := r.client.Call(ctx, http.MethodPost, kube.AppsCollectionPath("Job", p.w.Namespace), nil, "application/json", j.saved, nil)
		switch {
		case err == nil:
			return "deleted and created again: it runs again with the new content", nil
		case kube.Code(err) == http.StatusConflict && tries < 30 && bo.Wait(ctx): // the old one is still going away
			continue
		}
		r.log.Error("A Job cuscon deleted could not be created again; retrying (if cuscon stops now, create it again from its last-applied spec)",
			"namespace", p.w.Namespace, "job", p.w.Name, "err", err)
		return "", fmt.Errorf("create %s again: %w", p.w, err)
	}
}

// jobAnew is the Job raw read, as it is created again: its identity and status dropped,
// the labels the API server derives from its uid removed (and its selector, unless the
// user wrote it), the marker added and the view recorded. It returns the old uid.
func (r *Mode) jobAnew(raw map[string]any, p restartPlan) (map[string]any, string, error) {
	meta, _ := raw["metadata"].(map[string]any)
	spec, _ := raw["spec"].(map[string]any)
	if meta == nil || spec == nil {
		return nil, "", fmt.Errorf("read %s: no metadata or spec", p.w)
	}
	uid, _ := meta["uid"].(string)
	newMeta := map[string]any{"name": p.w.Name, "namespace": p.w.Namespace}
	for _, k := range []string{"labels", "annotations", "ownerReferences"} {
		if v, ok := meta[k]; ok {
			newMeta[k] = v
		}
	}
	annotations, _ := newMeta["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
	}
	delete(annotations, "kubectl.kubernetes.io/last-applied-configuration")
	for k, v := range p.annotations() {
		annotations[k] = v
	}
	newMeta["annotations"] = annotations
	if manual, _ := spec["manualSelector"].(bool); !manual {
		delete(spec, "selector")
		dropLabels(newMeta)
		if t, ok := spec["template"].(map[string]any); ok {
			if tm, ok := t["metadata"].(map[string]any); ok {
				dropLabels(tm)
			}
		}
	}
	obj := map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": newMeta, "spec": spec}
	var tmpl template
	if b, err := json.Marshal(spec["template"]); err == nil {
		_ = json.Unmarshal(b, &tmpl)
	}
	if err := markObject(obj, markFor(p.strategy, p.w.Namespace, p.sources, containerNames(&tmpl), p.using, time.Now())); err != nil {
		return nil, "", fmt.Errorf("mark %s: %w", p.w, err)
	}
	return obj, uid, nil
}

// dropLabels removes jobLabels from the labels of meta.
func dropLabels(meta map[string]any) {
	if l, ok := meta["labels"].(map[string]any); ok {
		for _, k := range jobLabels {
			delete(l, k)
		}
	}
}

// addAt sets value at a JSON pointer into obj, as a JSON patch's add of an object member
// does; every step but the last must exist (an array step is an index).
func addAt(obj map[string]any, pointer string, value any) error {
	steps := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	var at any = obj
	for i, s := range steps {
		s = strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
		last := i == len(steps)-1
		switch node := at.(type) {
		case map[string]any:
			if last {
				node[s] = value
				return nil
			}
			next, ok := node[s]
			if !ok {
				return fmt.Errorf("%s: no %q", pointer, s)
			}
			at = next
		case []any:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n >= len(node) || last {
				return fmt.Errorf("%s: bad index %q", pointer, s)
			}
			at = node[n]
		default:
			return fmt.Errorf("%s: %q is not an object or array", pointer, s)
		}
	}
	return nil
}
