// pods.go restarts the pods a ConfigMap's selector matches: it lists them by label
// selector and deletes each one that a controller will recreate, guarded by its uid.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// errEmptySelector refuses a blank selector, which would match every pod in the namespace.
var errEmptySelector = errors.New("empty selector would match every pod in the namespace; refused")

// podRestarter deletes pods so that their controllers replace them.
type podRestarter struct {
	api *apiClient
	// deleteUnowned also deletes pods with no controlling owner, which nothing recreates.
	deleteUnowned bool
	// backoff paces retries of a list or delete that failed for a transient reason.
	backoff backoffPolicy
}

// restartResult counts what one restart did.
type restartResult struct {
	Matched, Deleted, Skipped, Failed int
}

// restart deletes the pods in ns that sel matches and that are still running under a
// controller. It fails as a whole only if the pods could not be listed (a refused or
// invalid selector, or an API that stayed down until ctx ended); a pod that could not be
// deleted is logged and counted. Requests already started run under act, which may
// outlive ctx at shutdown.
func (r *podRestarter) restart(ctx, act context.Context, log *slog.Logger, ns, sel string) (restartResult, error) {
	var res restartResult
	if strings.TrimSpace(sel) == "" {
		return res, errEmptySelector
	}
	pods, err := r.listRetrying(ctx, act, log, ns, sel)
	if err != nil {
		return res, err
	}
	res.Matched = len(pods)
	for i := range pods {
		p := &pods[i]
		plog := log.With("pod", p.Metadata.Name)
		if why := r.skipReason(p); why != "" {
			plog.Info(fmt.Sprintf("Skipping %s: %s", p.Metadata.Name, why), "reason", why)
			res.Skipped++
			continue
		}
		switch err := r.deleteRetrying(ctx, act, ns, p); {
		case err == nil:
			plog.Info(fmt.Sprintf("%s was deleted successfully", p.Metadata.Name))
			res.Deleted++
		case errorCode(err) == http.StatusNotFound:
			plog.Info(fmt.Sprintf("%s was already gone", p.Metadata.Name), "reason", "not found")
			res.Deleted++
		case errorCode(err) == http.StatusConflict:
			plog.Info(fmt.Sprintf("%s was already replaced by a new pod of the same name; left alone", p.Metadata.Name), "reason", "uid precondition failed")
			res.Deleted++
		default:
			plog.Error(fmt.Sprintf("Could not delete %s: %v", p.Metadata.Name, err), "err", err)
			res.Failed++
		}
	}
	return res, nil
}

// skipReason says why p must not be deleted, or "" if it may be.
func (r *podRestarter) skipReason(p *pod) string {
	switch {
	case p.Metadata.DeletionTimestamp != nil:
		return "already terminating"
	case p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed":
		return "already finished (" + p.Status.Phase + ")"
	case controllerOf(p) == "" && !r.deleteUnowned:
		return "no controller owns it, so nothing would recreate it (--delete-unowned-pods allows it)"
	}
	return ""
}

// listRetrying lists the pods sel matches, retrying transient failures until ctx ends.
func (r *podRestarter) listRetrying(ctx, act context.Context, log *slog.Logger, ns, sel string) ([]pod, error) {
	bo := r.backoff.start()
	for {
		pods, err := r.list(act, ns, sel)
		if err == nil || !isTransient(err) {
			return pods, err
		}
		log.Warn("Could not list pods, retrying", "selector", sel, "err", err)
		if !bo.wait(ctx) {
			return nil, fmt.Errorf("gave up at shutdown: %w", err)
		}
	}
}

// list returns every pod in ns that sel matches, page by page.
func (r *podRestarter) list(ctx context.Context, ns, sel string) ([]pod, error) {
	var pods []pod
	q := url.Values{"labelSelector": {sel}, "limit": {"500"}}
	for {
		var page podList
		if err := r.api.get(ctx, podsPath(ns), q, &page); err != nil {
			return nil, fmt.Errorf("list pods %q: %w", sel, err)
		}
		pods = append(pods, page.Items...)
		if page.Metadata.Continue == "" {
			return pods, nil
		}
		q.Set("continue", page.Metadata.Continue)
	}
}

// deleteRetrying deletes p, retrying a transient failure a few times.
func (r *podRestarter) deleteRetrying(ctx, act context.Context, ns string, p *pod) error {
	const attempts = 3
	bo := r.backoff.start()
	var err error
	for i := 0; i < attempts; i++ {
		if err = r.delete(act, ns, p); err == nil || !isTransient(err) {
			return err
		}
		if i < attempts-1 && !bo.wait(ctx) {
			break
		}
	}
	return err
}

// delete sends one DELETE for p with a uid precondition: if a new pod has taken the name
// (a StatefulSet's), the API answers 409 and the new pod is left alone.
func (r *podRestarter) delete(ctx context.Context, ns string, p *pod) error {
	opts := map[string]any{
		"apiVersion":    "v1",
		"kind":          "DeleteOptions",
		"preconditions": map[string]string{"uid": p.Metadata.UID},
	}
	path := podsPath(ns) + "/" + url.PathEscape(p.Metadata.Name)
	// Not wrapped: the caller's log line names the pod.
	return r.api.call(ctx, http.MethodDelete, path, nil, "application/json", opts, nil)
}

// podsPath is the URL of the pods collection in ns.
func podsPath(ns string) string { return "/api/v1/namespaces/" + url.PathEscape(ns) + "/pods" }
