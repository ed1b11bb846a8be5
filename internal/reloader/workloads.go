// workloads.go lists the workloads of a namespace (or of all) for the mode, every kind at
// once, from the API server's watch cache, keeping only what fn must see in order; says which
// opted in at a glance; and reports, once, a kind it cannot list.

package reloader

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"cuscon/internal/kube"
)

// workloadKinds are the kinds the mode can restart, in the order they are listed.
var workloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "Rollout", "CronJob", "Job"}

// optionalKinds may be out of reach without it being an error: the Rollout CRD may not
// be installed, and an installation made before cuscon restarted Jobs and CronJobs may
// not grant their list yet. Such a kind is skipped (and the caller told why).
var optionalKinds = map[string]bool{"Rollout": true, "CronJob": true, "Job": true}

// kinds lists the kinds the options have the mode restart.
func (o Options) kinds() []string {
	var out []string
	for _, k := range workloadKinds {
		switch {
		case k == "Rollout" && o.ArgoRollouts != "true":
		case o.IgnoresKind(k):
		default:
			out = append(out, k)
		}
	}
	return out
}

// listWorkloads calls fn with every workload of kinds in ns ("": all) that keep keeps,
// one at a time, in the order of kinds. Unless consistent, resourceVersion=0 has the API
// server answer from its watch cache as it is, which may not yet hold a workload created
// a moment before the change being checked (each kind's cache lags on its own): a check
// for a change asks for a consistent list, which the API server serves from etcd, or
// from its cache once that has caught up. A CronJob's Job template's pod template is
// handed on as its Spec.Template, the one every later step reads. An optional kind the
// API does not serve (404) or does not let cuscon list (403) is skipped and reported to
// skipped; any other failure ends every list and is returned.
//
// The kinds are listed at once: one after another, a change's check waited for five
// round trips. The first kind streams into fn as it is decoded; of the others, what keep
// keeps (few: it is the quick opt-in filter) waits until the first is done, so that fn
// sees the kinds in order and holds no more than it would keep.
func listWorkloads(ctx context.Context, c *kube.Client, ns string, kinds []string, consistent bool, keep func(*workloadObj) bool,
	skipped func(kind string, err error), fn func(*workloadObj)) error {
	q := url.Values{"resourceVersion": {"0"}}
	if consistent {
		q = nil
	}
	if len(kinds) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	later := make([][]*workloadObj, len(kinds))
	errs := make([]error, len(kinds))
	list := func(i int, fn func(*workloadObj)) {
		errs[i] = listKind(ctx, c, ns, kinds[i], q, func(w *workloadObj) {
			if keep(w) {
				fn(w)
			}
		})
		if errs[i] != nil && !skippable(kinds[i], errs[i]) {
			cancel(errs[i]) // the check fails whatever the other kinds say
		}
	}
	var wg sync.WaitGroup
	for i := 1; i < len(kinds); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			list(i, func(w *workloadObj) { later[i] = append(later[i], w) })
		}()
	}
	list(0, fn)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		for i, err := range errs {
			if err == cause {
				return fmt.Errorf("list %ss: %w", strings.ToLower(kinds[i]), err)
			}
		}
		return cause // the caller's context ended
	}
	for i, kind := range kinds {
		if errs[i] != nil { // skippable: any other ended the lists above
			if skipped != nil {
				skipped(kind, errs[i])
			}
			continue
		}
		for _, w := range later[i] {
			fn(w)
		}
	}
	return nil
}

// skippable reports whether a list of kind that failed with err is skipped rather than
// failing the check: an optional kind the API does not serve or cuscon may not list.
func skippable(kind string, err error) bool {
	code := kube.Code(err)
	return optionalKinds[kind] && (code == http.StatusNotFound || code == http.StatusForbidden)
}

// listKind calls fn with every workload of one kind in ns, page by page.
func listKind(ctx context.Context, c *kube.Client, ns, kind string, q url.Values, fn func(*workloadObj)) error {
	_, err := kube.ListPages(ctx, c, kube.AppsCollectionPath(kind, ns), q, nil, func(w *workloadObj) {
		w.Kind = kind
		if w.Spec.JobTemplate != nil {
			w.Spec.Template = w.Spec.JobTemplate.Spec.Template
			w.Spec.JobTemplate = nil
		}
		fn(w)
	})
	return err
}

// optsIn is a quick filter: whether w or its template carries any of the annotations
// that opt in (with --auto-reload-all, any workload but a Job or CronJob does).
func (r *Mode) optsIn(w *workloadObj) bool {
	if r.rules.autoReloadAll && w.Kind != "Job" && w.Kind != "CronJob" {
		return true
	}
	k := r.rules.keys
	keys := []string{k.Auto, k.Search, k.Reload[0], k.Reload[1], k.TypedAuto[0], k.TypedAuto[1]}
	return hasAny(w.Metadata.Annotations, keys...) || w.Kind != "Job" && hasAny(w.Spec.Template.Metadata.Annotations, keys...)
}

// skippedKind reports, once per kind and reason, a kind of workload that could not be
// listed: its workloads are not restarted until it can be.
func (r *Mode) skippedKind(kind string, err error) {
	r.warnOnce("list/"+kind, fmt.Sprintf("Could not list %ss: they are not restarted (install their API, grant list on them, or leave them out with --ignored-workload-types)",
		strings.ToLower(kind)), err)
}

// warnOnce logs msg with err the first time what fails so, and again only if the error
// changes: what the operator must grant is said once, not at every check.
func (r *Mode) warnOnce(what, msg string, err error) {
	r.mu.Lock()
	first := r.skipped[what] != err.Error()
	r.skipped[what] = err.Error()
	r.mu.Unlock()
	if first {
		r.log.Warn(msg, "err", err)
	}
}
