// plan_test.go tests the mode's part of `cuscon plan` as tables: what a change of each
// object a workload opted in to would restart, and why, or why it is refused.

package reloader

import (
	"encoding/json"
	"testing"

	"cuscon/internal/kube"
	"cuscon/internal/labels"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// planned returns the rows of a workload, by object, with Why and Restarts kept.
func planned(t *testing.T, w *workloadObj, objs sourceLookup, kinds ...kube.Resource) map[string]Planned {
	t.Helper()
	return plannedWith(t, Options{Strategy: StrategyRollout}, w, objs, kinds...)
}

// plannedWith is planned by a mode told o.
func plannedWith(t *testing.T, o Options, w *workloadObj, objs sourceLookup, kinds ...kube.Resource) map[string]Planned {
	t.Helper()
	m := &Mode{cfg: Config{Options: o, Overrides: []string{"delete", "evict"}}, rules: o.rules(), lists: newListCache()}
	out := map[string]Planned{}
	rows, _ := m.planWorkload(w, objs, kinds, kube.Workload{})
	for _, r := range rows {
		_, dup := out[r.Object]
		require.False(t, dup, "one row per object and workload: %s", r.Object)
		r.workload = ""
		out[r.Object] = r
	}
	return out
}

func TestPlanOfAnOptedInWorkloadSaysHowItUsesEachObject(t *testing.T) {
	exists := &digests{}
	objs := lookup{"configmap/app-config": {d: exists}, "configmap/flags": {d: exists}, "configmap/ignored": {ignore: true, d: exists}, "secret/db": {d: exists}}
	auto := map[string]string{reloaderAuto: "true"}
	web := []string{"Deployment/web"}
	for _, row := range []struct {
		name        string
		annotations map[string]string
		spec        string
		kinds       []kube.Resource
		want        map[string]Planned // Object → Strategy, Restarts, Why, Refused, Note, selector
	}{
		{"auto: each used ConfigMap rolls the workload, and says through what", auto, usesAppConfig, []kube.Resource{kube.ConfigMaps},
			map[string]Planned{"configmap/app-config": {Strategy: "rollout", Restarts: web, Why: `Deployment/web: reloader.stakater.com/auto; volume "cfg"`}}},
		{"Secrets only when they are watched (--secrets)", auto, usesAppConfig, []kube.Resource{kube.ConfigMaps, kube.Secrets},
			map[string]Planned{
				"configmap/app-config": {Strategy: "rollout", Restarts: web, Why: `Deployment/web: reloader.stakater.com/auto; volume "cfg"`},
				"secret/db":            {Strategy: "rollout", Restarts: web, Why: `Deployment/web: reloader.stakater.com/auto; env PW in "app" (keys password)`},
			}},
		{"a reload list names objects whatever the pods use", map[string]string{"configmap.reloader.stakater.com/reload": "flags"}, `{}`, []kube.Resource{kube.ConfigMaps},
			map[string]Planned{"configmap/flags": {Strategy: "rollout", Restarts: web, Why: "Deployment/web: configmap.reloader.stakater.com/reload"}}},
		{"ignore on the object: no row", auto, `{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"ignored"}}]}]}`, []kube.Resource{kube.ConfigMaps}, map[string]Planned{}},
		{"no Reloader annotation: no row", nil, usesAppConfig, []kube.Resource{kube.ConfigMaps, kube.Secrets}, map[string]Planned{}},
		{"delete strategy: the pods its selector selects, its spec untouched", map[string]string{reloaderAuto: "true", restart.StrategyAnnotation: "delete"}, usesAppConfig,
			[]kube.Resource{kube.ConfigMaps},
			map[string]Planned{"configmap/app-config": {Strategy: "delete", Why: `Deployment/web: reloader.stakater.com/auto; volume "cfg"`, Selector: "app=web"}}},
		{"an unknown strategy is refused", map[string]string{reloaderAuto: "true", restart.StrategyAnnotation: "recreate"}, usesAppConfig, []kube.Resource{kube.ConfigMaps},
			map[string]Planned{"configmap/app-config": {Why: `Deployment/web: reloader.stakater.com/auto; volume "cfg"`,
				Refused: `Deployment/web: cuscon.dev/strategy "recreate": want delete, evict or rollout; nothing restarted`}}},
		{"a required object that does not exist restarts nothing", auto, `{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"gone"}}]}]}`, []kube.Resource{kube.ConfigMaps},
			map[string]Planned{"configmap/gone": {Why: `Deployment/web: reloader.stakater.com/auto; envFrom in "a"`,
				Note: "does not exist, or --watch-selector leaves it out: nothing to compare; creating it restarts nothing (the pods wait for it)"}}},
		{"an object only named that does not exist: its creation restarts nothing without --reload-on-create", map[string]string{"configmap.reloader.stakater.com/reload": "gone"}, `{}`, []kube.Resource{kube.ConfigMaps},
			map[string]Planned{"configmap/gone": {Why: "Deployment/web: configmap.reloader.stakater.com/reload",
				Note: "does not exist: creating it restarts nothing (--reload-on-create is off)"}}},
		{"an optional one that does not exist: its creation rolls the workload", auto,
			`{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"maybe","optional":true}}]}]}`, []kube.Resource{kube.ConfigMaps},
			map[string]Planned{"configmap/maybe": {Strategy: "rollout", Restarts: web, Why: `Deployment/web: reloader.stakater.com/auto; envFrom in "a" (optional)`}}},
	} {
		t.Run(row.name, func(t *testing.T) {
			w := deployment(t, row.annotations, nil, row.spec)
			w.Spec.Selector = &labels.Selector{MatchLabels: map[string]string{"app": "web"}}
			got := planned(t, w, objs, row.kinds...)
			require.Len(t, got, len(row.want))
			for obj, want := range row.want {
				want.Namespace, want.Object = "default", obj
				assert.Equal(t, want, got[obj], obj)
			}
		})
	}
}

func TestPlanRefusesAWorkloadWhoseSelectorWouldSelectTooMuch(t *testing.T) {
	objs := lookup{"configmap/app-config": {d: &digests{}}}
	for name, selector := range map[string]string{
		"no selector":         `null`,
		"only a DoesNotExist": `{"matchExpressions":[{"key":"canary","operator":"DoesNotExist"}]}`,
		"only a NotIn":        `{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["db"]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			w := deployment(t, map[string]string{reloaderAuto: "true", restart.StrategyAnnotation: "evict"}, nil, usesAppConfig)
			require.NoError(t, json.Unmarshal([]byte(selector), &w.Spec.Selector))
			got := planned(t, w, objs, kube.ConfigMaps)["configmap/app-config"]
			assert.Contains(t, got.Refused, "the pods of Deployment/web, selected by")
			assert.Empty(t, got.Strategy+got.Selector)
		})
	}
}
