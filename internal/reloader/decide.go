// decide.go is the first half of the mode's decision, pure: which ConfigMaps and Secrets
// a workload opted in to with stakater/Reloader's annotations (optedIn, within bounds a
// tenant cannot stretch), as Reloader's flags say; verdict.go is the second half.

package reloader

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cuscon/internal/kube"
	"cuscon/internal/labels"
)

// excludeKeys are Reloader's exclude lists (ConfigMaps, Secrets), which it does not let
// be renamed.
var excludeKeys = [2]string{"configmaps.exclude.reloader.stakater.com/reload", "secrets.exclude.reloader.stakater.com/reload"}

// kindIndex is the index of res in Keys' per-kind pairs: 0 ConfigMaps, 1 Secrets.
func kindIndex(res kube.Resource) int {
	if res == kube.Secrets {
		return 1
	}
	return 0
}

// refKind is how a workload's view names objects of res: "configmap" or "secret".
func refKind(res kube.Resource) string { return strings.ToLower(res.Kind) }

// rules are what the operator chose that the decision reads: Reloader's annotation keys
// and switches.
type rules struct {
	keys               Keys
	autoReloadAll      bool
	onCreate, onDelete bool
}

// rules returns what of o the decision reads.
func (o Options) rules() rules {
	keys := o.Keys
	if keys.Auto == "" { // zero Options: Reloader's keys
		keys = DefaultKeys()
	}
	return rules{keys: keys, autoReloadAll: o.AutoReloadAll, onCreate: o.ReloadOnCreate == "true", onDelete: o.ReloadOnDelete == "true"}
}

// workloadObj is the part of a workload the mode reads: a Deployment, StatefulSet,
// DaemonSet, Argo Rollout, CronJob (whose Job template's pod template is read as
// Spec.Template, see listWorkloads) or Job.
type workloadObj struct {
	Kind     string          `json:"-"` // set by whoever listed it
	Metadata kube.ObjectMeta `json:"metadata"`
	Spec     struct {
		Replicas *int32 `json:"replicas,omitempty"`
		// UpdateStrategy and Status are kept as they came, read only by a wave's gate.
		UpdateStrategy json.RawMessage  `json:"updateStrategy,omitempty"`
		Selector       *labels.Selector `json:"selector,omitempty"`
		Paused         bool             `json:"paused,omitempty"`
		Suspend        bool             `json:"suspend,omitempty"`
		Template       podTemplate      `json:"template"`
		JobTemplate    *struct {
			Spec struct {
				Template podTemplate `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate,omitempty"`
	} `json:"spec"`
	Status json.RawMessage `json:"status,omitempty"`
}

// podTemplate is the part of a pod template the mode reads.
type podTemplate struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec podSpec `json:"spec"`
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
	// left: it left the watch's label selection (or was deleted: that is being asked);
	// it is unknown, and stays so across lists, until it is seen again.
	left bool
	// unknown: a Secret whose digests cannot be made yet (no digest key): not compared,
	// its record kept, until the key is there and the Secrets are listed again.
	unknown bool
	// staging is its waves, wave timeout and maintenance window annotations; nil (the
	// common case) when it has none.
	staging *staging
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
	// named: the reload list names it; its creation and deletion count only as the
	// operator chose (--reload-on-create, --reload-on-delete).
	named bool
}

// optedIn returns the objects of kind res that w must be restarted for, by
// "configmap/NAME" or "secret/NAME". As Reloader does, the annotations are read from the
// workload, or from its pod template when the workload has none of them (a Job only
// from its own: re-creating it is not for a template's say); an object annotated ignore,
// or named by an exclude list (on either), never counts; auto and search count only
// objects the pods use, reload names objects whatever the pods use. Lists over the
// bounds that keep one tenant's annotation cheap (parseList) are refused with an error
// naming the annotation; lists parses each distinct one once. An object the reload list
// names but the pods do not use counts while it does not exist (recorded absent), so that
// its creation or deletion is a change, which restarts only as the operator chose
// (decideWorkload); with --reload-on-delete, so do the named objects recorded, which a
// pattern matched while they existed.
func optedIn(w *workloadObj, res kube.Resource, objs sourceLookup, lists *listCache, rl rules, recorded workloadView) (map[string]concern, error) {
	i, kind := kindIndex(res), refKind(res)
	reloadKey, typedAuto := rl.keys.Reload[i], rl.keys.TypedAuto[i]
	a := w.Metadata.Annotations
	if !hasAny(a, reloadKey, rl.keys.Auto, typedAuto, rl.keys.Search) && w.Kind != "Job" {
		a = w.Spec.Template.Metadata.Annotations
	}
	var excluded []string
	for _, on := range []map[string]string{w.Metadata.Annotations, w.Spec.Template.Metadata.Annotations} {
		l, err := lists.parse(on[excludeKeys[i]], false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", excludeKeys[i], err)
		}
		excluded = append(excluded, l.names...)
	}
	reload, err := lists.parse(a[reloadKey], true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", reloadKey, err)
	}
	auto := ""
	for _, key := range []string{rl.keys.Auto, typedAuto} {
		if on, _ := strconv.ParseBool(a[key]); on {
			auto = key
			break
		}
	}
	if auto == "" && rl.autoReloadAll && a[rl.keys.Auto] == "" && a[typedAuto] == "" && w.Kind != "Job" && w.Kind != "CronJob" {
		auto = "--auto-reload-all"
	}
	search := a[rl.keys.Search] == "true"
	out := map[string]concern{}
	skip := func(name string) (sourceInfo, bool) {
		info, _ := objs.get(res, name)
		return info, info.ignore || slices.Contains(excluded, name)
	}
	refs := uses(&w.Spec.Template.Spec)
	for ref, u := range refs {
		name, ok := strings.CutPrefix(ref, kind+"/")
		if !ok {
			continue
		}
		info, skipped := skip(name)
		switch {
		case skipped:
		case auto != "":
			out[ref] = concern{res: res, name: name, use: u, why: auto + "; " + u.why()}
		case search && info.match:
			out[ref] = concern{res: res, name: name, use: u, why: rl.keys.Search + " + " + rl.keys.Match + "; " + u.why()}
		}
	}
	var names []string
	if reload.re != nil {
		names = objs.names(res) // of the workload's own namespace only
		if rl.onDelete {
			for ref := range recorded {
				if n, ok := strings.CutPrefix(ref, kind+"/"); ok {
					names = append(names, n)
				}
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
	}
	for _, name := range reload.matching(names) {
		ref := kind + "/" + name
		if _, done := out[ref]; done {
			continue
		}
		if _, skipped := skip(name); skipped {
			continue
		}
		u := &use{all: true, containers: nil}
		if r, used := refs[ref]; used {
			u.containers = r.containers
		} else {
			u.optional = true // named only: a missing object is a state to compare, not a wait
		}
		out[ref] = concern{res: res, name: name, use: u, why: reloadKey, named: true}
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
