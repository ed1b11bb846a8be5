// decide.go is the mode's decision, pure: which ConfigMaps and Secrets a Deployment,
// StatefulSet or DaemonSet opted in to with stakater/Reloader's annotations (optedIn,
// within bounds a tenant cannot stretch), and whether what it uses of them changed since
// it was last restarted (decideWorkload).

package reloader

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"cuscon/internal/kube"
	"cuscon/internal/labels"
)

// The annotations of stakater/Reloader (v1.4.21) that cuscon honours.
const (
	reloaderAuto   = "reloader.stakater.com/auto"
	reloaderSearch = "reloader.stakater.com/search"
	reloaderMatch  = "reloader.stakater.com/match"
	reloaderIgnore = "reloader.stakater.com/ignore"
)

// reloaderKeys are the per-kind annotations: auto, reload (a list of names) and exclude.
type reloaderKeys struct{ kind, auto, reload, exclude string }

// keysFor returns the per-kind annotations of res.
func keysFor(res kube.Resource) reloaderKeys {
	if res == kube.Secrets {
		return reloaderKeys{"secret", "secret.reloader.stakater.com/auto", "secret.reloader.stakater.com/reload", "secrets.exclude.reloader.stakater.com/reload"}
	}
	return reloaderKeys{"configmap", "configmap.reloader.stakater.com/auto", "configmap.reloader.stakater.com/reload", "configmaps.exclude.reloader.stakater.com/reload"}
}

// workloadObj is the part of a Deployment, StatefulSet or DaemonSet the mode reads.
type workloadObj struct {
	Kind     string          `json:"-"` // set by whoever listed it
	Metadata kube.ObjectMeta `json:"metadata"`
	Spec     struct {
		Selector *labels.Selector `json:"selector,omitempty"`
		Paused   bool             `json:"paused,omitempty"`
		Template struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations,omitempty"`
			} `json:"metadata"`
			Spec podSpec `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// ref names w.
func (w *workloadObj) ref() kube.Workload {
	return kube.Workload{Kind: w.Kind, Namespace: w.Metadata.Namespace, Name: w.Metadata.Name}
}

// sourceInfo is what is known of one ConfigMap or Secret: its annotations that matter
// here and its digests (nil: it does not exist).
type sourceInfo struct {
	ignore, match bool
	d             *digests
	// unknown: a Secret whose digests cannot be made yet (no digest key): not compared,
	// its record kept, until the key is there and the Secrets are listed again.
	unknown bool
}

// sourceLookup finds the objects of one namespace by kind and name.
type sourceLookup interface {
	get(res kube.Resource, name string) (sourceInfo, bool)
	names(res kube.Resource) []string
}

// concern is one object a workload is restarted for: how it uses it, and why.
type concern struct {
	res  kube.Resource
	name string
	use  *use
	why  string
}

// optedIn returns the objects of kind res that w must be restarted for, by
// "configmap/NAME" or "secret/NAME". As Reloader does, the annotations are read from the
// workload, or from its pod template when the workload has none of them; an object
// annotated ignore, or named by an exclude list (on either), never counts; auto and
// search count only objects the pods use, reload names objects whatever the pods use.
// Lists over the bounds that keep one tenant's annotation cheap (parseList) are refused
// with an error naming the annotation; lists parses each distinct one once.
func optedIn(w *workloadObj, res kube.Resource, objs sourceLookup, lists *listCache) (map[string]concern, error) {
	k := keysFor(res)
	a := w.Metadata.Annotations
	if !hasAny(a, k.reload, reloaderAuto, k.auto, reloaderSearch) {
		a = w.Spec.Template.Metadata.Annotations
	}
	var excluded []string
	for _, on := range []map[string]string{w.Metadata.Annotations, w.Spec.Template.Metadata.Annotations} {
		l, err := lists.parse(on[k.exclude], false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.exclude, err)
		}
		excluded = append(excluded, l.names...)
	}
	reload, err := lists.parse(a[k.reload], true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.reload, err)
	}
	auto := ""
	for _, key := range []string{reloaderAuto, k.auto} {
		if on, _ := strconv.ParseBool(a[key]); on {
			auto = key
			break
		}
	}
	search := a[reloaderSearch] == "true"
	out := map[string]concern{}
	skip := func(name string) (sourceInfo, bool) {
		info, _ := objs.get(res, name)
		return info, info.ignore || slices.Contains(excluded, name)
	}
	refs := uses(&w.Spec.Template.Spec)
	for ref, u := range refs {
		name, ok := strings.CutPrefix(ref, k.kind+"/")
		if !ok {
			continue
		}
		info, skipped := skip(name)
		switch {
		case skipped:
		case auto != "":
			out[ref] = concern{res: res, name: name, use: u, why: auto + "; " + u.why()}
		case search && info.match:
			out[ref] = concern{res: res, name: name, use: u, why: reloaderSearch + " + " + reloaderMatch + "; " + u.why()}
		}
	}
	var names []string
	if reload.re != nil {
		names = objs.names(res) // of the workload's own namespace only
	}
	for _, name := range reload.matching(names) {
		ref := k.kind + "/" + name
		if _, done := out[ref]; done {
			continue
		}
		if _, skipped := skip(name); skipped {
			continue
		}
		out[ref] = concern{res: res, name: name, use: &use{all: true}, why: k.reload}
	}
	return out, nil
}

// hasAny reports whether a has any of keys.
func hasAny(a map[string]string, keys ...string) bool {
	for _, k := range keys {
		if _, ok := a[k]; ok {
			return true
		}
	}
	return false
}

// splitNames splits a comma-separated list, dropping blanks.
func splitNames(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// workloadVerdictKind names what to do with one workload.
type workloadVerdictKind int

const (
	wUnchanged workloadVerdictKind = iota // what it uses is as recorded
	wBaseline                             // first sight: record what it uses, restart nothing
	wRecord                               // nothing it uses changed, but the record is out of date
	wPending                              // a restart for this very view is under way
	wRestart                              // something it uses changed: restart it
)

// workloadVerdict is decideWorkload's answer: what to do, the view to record, and what
// changed (e.g. "configmap/app-config key log.level").
type workloadVerdict struct {
	kind    workloadVerdictKind
	view    workloadView
	changed []string
	// anew lists the objects whose record was made with another digest key: it cannot
	// be compared, and is replaced without a restart.
	anew []string
}

// decideWorkload compares what a workload uses now (current; missing lists required
// objects that do not exist, whose record is kept) with what its annotation recorded.
// A workload without a record is seen for the first time: if an object just changed
// (previous holds its view before the change) and what the workload uses of it
// differs, it restarts; otherwise it is the baseline. pending is the view of a restart
// under way, if any.
func decideWorkload(recorded string, current, legacy workloadView, missing []string, previous workloadView, pending string) workloadVerdict {
	rec, ok := parseView(recorded)
	if !ok {
		rec = previous
	}
	view := workloadView{}
	for ref, v := range current {
		view[ref] = v
	}
	for _, ref := range missing {
		if was, ok := rec[ref]; ok {
			view[ref] = was
		}
	}
	var changed, anew []string
	for ref, now := range current {
		keys := changedKeys(rec[ref], now, legacy[ref])
		switch {
		case keys != nil:
			changed = append(changed, describeChange(ref, keys))
		case len(rec[ref]) == len(now) && !maps.Equal(rec[ref], now) && sameKeys(rec[ref], now):
			anew = append(anew, ref) // made with another digest key: recorded anew
		}
	}
	slices.Sort(changed)
	slices.Sort(anew)
	switch {
	case len(changed) > 0 && pending == view.String():
		return workloadVerdict{kind: wPending, view: view, changed: changed}
	case len(changed) > 0:
		return workloadVerdict{kind: wRestart, view: view, changed: changed}
	case !ok:
		return workloadVerdict{kind: wBaseline, view: view}
	case view.String() != rec.String():
		return workloadVerdict{kind: wRecord, view: view, anew: anew}
	}
	return workloadVerdict{kind: wUnchanged, view: view}
}

// sameKeys reports whether two views are of the same keys.
func sameKeys(a, b objectView) bool {
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return len(a) == len(b)
}

// describeChange says what changed of one object, for logs and Events.
func describeChange(ref string, keys []string) string {
	if len(keys) == 1 && keys[0] == "*" {
		return ref
	}
	word := "key "
	if len(keys) > 1 {
		word = "keys "
	}
	return ref + " " + word + strings.Join(keys, ", ")
}
