// plan_test.go tests `cuscon plan`: its rows as tables over the pure parts (planview.go)
// for the annotation and for Reloader's annotations, its flags, its two output formats,
// and the whole plan against the fake API, which proves it writes nothing.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// annotatedSource is an object of res in "default" with annotations.
func annotatedSource(res resource, name string, annotations map[string]string) *source {
	return &source{Resource: res, Metadata: objectMeta{Name: name, Namespace: "default", Annotations: annotations}}
}

func TestPlanOfAnAnnotatedObjectIsWhatDecideWouldDoOnAChange(t *testing.T) {
	for _, row := range []struct {
		name        string
		res         resource
		annotations map[string]string
		strategy    string
		want        planRow // Why, Object, Namespace are checked apart
		refused     string
	}{
		{"a selector: its pods, by the default strategy", configMaps, sel("app=frontend"), "delete",
			planRow{Strategy: "delete", selector: "app=frontend"}, ""},
		{"--strategy=rollout: pods stand for their workloads", configMaps, sel("app=frontend"), "rollout",
			planRow{Strategy: "rollout", selector: "app=frontend", rollout: true}, ""},
		{"the object's strategy beats --strategy", configMaps, map[string]string{selectorKey: "app=web", strategyAnnotation: "evict"}, "delete",
			planRow{Strategy: "evict", selector: "app=web"}, ""},
		{"a Secret is planned as a ConfigMap is", secrets, sel("app=db"), "delete",
			planRow{Strategy: "delete", selector: "app=db"}, ""},
		{"a strategy the operator did not allow objects is refused", configMaps, map[string]string{selectorKey: "app=web", strategyAnnotation: "rollout"}, "delete",
			planRow{}, `not a strategy objects may choose here`},
		{"an unknown strategy is refused", configMaps, map[string]string{selectorKey: "app=web", strategyAnnotation: "recreate"}, "delete",
			planRow{}, `cuscon.dev/strategy "recreate": want delete, evict or rollout`},
		{"an empty selector is refused", configMaps, sel(""), "delete", planRow{}, errEmptySelector.Error()},
		{"a blank selector is refused", configMaps, sel("   "), "delete", planRow{}, errEmptySelector.Error()},
		{"a selector with only negative requirements is refused", configMaps, sel("!app"), "delete", planRow{}, errBroadSelector.Error()},
		{"tier!=db is refused too", configMaps, sel("tier!=db"), "rollout", planRow{}, errBroadSelector.Error()},
		{"a malformed selector is refused", configMaps, sel("app in (web"), "delete", planRow{}, "want a non-empty (v1, v2, ...)"},
	} {
		t.Run(row.name, func(t *testing.T) {
			got := articleRow(annotatedSource(row.res, "cfg", row.annotations), selectorKey, policy{strategy: row.strategy, overrides: []string{"delete", "evict"}})
			assert.Equal(t, "default", got.Namespace)
			assert.Equal(t, keysFor(row.res).kind+"/cfg", got.Object)
			assert.Equal(t, selectorKey+": "+`"`+row.annotations[selectorKey]+`"`, got.Why, "why names the annotation and its selector")
			if row.refused != "" {
				assert.Contains(t, got.Refused, row.refused)
				assert.Empty(t, got.Strategy+got.selector, "nothing to restart")
				return
			}
			assert.Empty(t, got.Refused)
			assert.Equal(t, row.want.Strategy, got.Strategy)
			assert.Equal(t, row.want.selector, got.selector)
			assert.Equal(t, row.want.rollout, got.rollout)
		})
	}
}

func TestPlanReadsTheAnnotationItIsTold(t *testing.T) {
	obj := annotatedSource(configMaps, "cfg", map[string]string{"example.com/pods": "app=web", selectorKey: "!app"})
	got := articleRow(obj, "example.com/pods", policy{strategy: "delete"})
	assert.Equal(t, "app=web", got.selector, "--annotation names the selector's key; the article's is then just an annotation")
	assert.Equal(t, `example.com/pods: "app=web"`, got.Why)
}

// planned returns the rows of a workload, by object, with Why and Restarts kept.
func planned(t *testing.T, w *workloadObj, objs sourceLookup, kinds ...resource) map[string]planRow {
	t.Helper()
	out := map[string]planRow{}
	for _, r := range reloaderRows(w, objs, nil, kinds, []string{"delete", "evict"}, self{}) {
		_, dup := out[r.Object]
		require.False(t, dup, "one row per object and workload: %s", r.Object)
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
		kinds       []resource
		want        map[string]planRow // Object → Strategy, Restarts, Why, Refused, Note, selector
	}{
		{"auto: each used ConfigMap rolls the workload, and says through what", auto, usesAppConfig, []resource{configMaps},
			map[string]planRow{"configmap/app-config": {Strategy: "rollout", Restarts: web, Why: `Deployment/web: reloader.stakater.com/auto; volume "cfg"`}}},
		{"Secrets only when they are watched (--secrets)", auto, usesAppConfig, []resource{configMaps, secrets},
			map[string]planRow{
				"configmap/app-config": {Strategy: "rollout", Restarts: web, Why: `Deployment/web: reloader.stakater.com/auto; volume "cfg"`},
				"secret/db":            {Strategy: "rollout", Restarts: web, Why: `Deployment/web: reloader.stakater.com/auto; env PW in "app" (keys password)`},
			}},
		{"a reload list names objects whatever the pods use", map[string]string{"configmap.reloader.stakater.com/reload": "flags"}, `{}`, []resource{configMaps},
			map[string]planRow{"configmap/flags": {Strategy: "rollout", Restarts: web, Why: "Deployment/web: configmap.reloader.stakater.com/reload"}}},
		{"ignore on the object: no row", auto, `{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"ignored"}}]}]}`, []resource{configMaps}, map[string]planRow{}},
		{"no Reloader annotation: no row", nil, usesAppConfig, []resource{configMaps, secrets}, map[string]planRow{}},
		{"delete strategy: the pods its selector selects, its spec untouched", map[string]string{reloaderAuto: "true", strategyAnnotation: "delete"}, usesAppConfig,
			[]resource{configMaps},
			map[string]planRow{"configmap/app-config": {Strategy: "delete", Why: `Deployment/web: reloader.stakater.com/auto; volume "cfg"`, selector: "app=web"}}},
		{"an unknown strategy is refused", map[string]string{reloaderAuto: "true", strategyAnnotation: "recreate"}, usesAppConfig, []resource{configMaps},
			map[string]planRow{"configmap/app-config": {Why: `Deployment/web: reloader.stakater.com/auto; volume "cfg"`,
				Refused: `Deployment/web: cuscon.dev/strategy "recreate": want delete, evict or rollout; nothing restarted`}}},
		{"a required object that does not exist restarts nothing", map[string]string{"configmap.reloader.stakater.com/reload": "gone"}, `{}`, []resource{configMaps},
			map[string]planRow{"configmap/gone": {Why: "Deployment/web: configmap.reloader.stakater.com/reload",
				Note: "does not exist, or --watch-selector leaves it out: nothing to compare; creating it restarts nothing (the pods wait for it)"}}},
		{"an optional one that does not exist: its creation rolls the workload", auto,
			`{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"maybe","optional":true}}]}]}`, []resource{configMaps},
			map[string]planRow{"configmap/maybe": {Strategy: "rollout", Restarts: web, Why: `Deployment/web: reloader.stakater.com/auto; envFrom in "a" (optional)`}}},
	} {
		t.Run(row.name, func(t *testing.T) {
			w := deployment(t, row.annotations, nil, row.spec)
			w.Spec.Selector = &labelSelector{MatchLabels: map[string]string{"app": "web"}}
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
			w := deployment(t, map[string]string{reloaderAuto: "true", strategyAnnotation: "evict"}, nil, usesAppConfig)
			require.NoError(t, json.Unmarshal([]byte(selector), &w.Spec.Selector))
			got := planned(t, w, objs, configMaps)["configmap/app-config"]
			assert.Contains(t, got.Refused, "the pods of Deployment/web, selected by")
			assert.Empty(t, got.Strategy+got.selector)
		})
	}
}

func TestPlanListsThePodsARestartWouldReplaceAndThoseItWouldSkip(t *testing.T) {
	mk := func(name, owner, phase string, terminating bool) pod {
		var p pod
		p.Metadata.Name, p.Status.Phase = name, phase
		if owner != "" {
			yes := true
			p.Metadata.OwnerReferences = []ownerReference{{Kind: owner, Name: "x", Controller: &yes}}
		}
		if terminating {
			now := "2026-01-01T00:00:00Z"
			p.Metadata.DeletionTimestamp = &now
		}
		return p
	}
	pods := []pod{mk("web-0", "ReplicaSet", "Running", false), mk("bare", "", "Running", false), mk("going", "ReplicaSet", "Running", true),
		mk("done", "Job", "Succeeded", false), mk("cuscon-0", "ReplicaSet", "Running", false)}
	for _, row := range []struct {
		name          string
		deleteUnowned bool
		restarts      []string
		skipped       []string
	}{
		{"by default", false, []string{"pod/web-0"}, []string{
			"pod/bare: no controller owns it, so nothing would recreate it (--delete-unowned-pods allows it)",
			"pod/going: already terminating", "pod/done: already finished (Succeeded)", "pod/cuscon-0: it is cuscon's own pod"}},
		{"--delete-unowned-pods", true, []string{"pod/web-0", "pod/bare"}, []string{
			"pod/going: already terminating", "pod/done: already finished (Succeeded)", "pod/cuscon-0: it is cuscon's own pod"}},
	} {
		t.Run(row.name, func(t *testing.T) {
			var r planRow
			podTargets(&r, pods, self{name: "cuscon-0"}, row.deleteUnowned)
			assert.Equal(t, row.restarts, r.Restarts)
			assert.Equal(t, row.skipped, r.Skipped)
		})
	}
}

func TestPlanIsATableOrJSON(t *testing.T) {
	rows := []planRow{
		{Namespace: "shop", Object: "configmap/web", Strategy: "delete", Restarts: []string{"pod/web-0", "pod/web-1"},
			Skipped: []string{"pod/bare: no controller"}, Why: `magalix.com/podDeleteMatch: "app=web"`},
		{Namespace: "shop", Object: "configmap/all", Refused: "empty selector", Why: `magalix.com/podDeleteMatch: ""`},
		{Namespace: "shop", Object: "configmap/gone", Note: "does not exist", Why: "Deployment/app: configmap.reloader.stakater.com/reload"},
	}
	var text bytes.Buffer
	require.NoError(t, writePlan(&text, rows, "text"))
	assert.Equal(t, strings.Join([]string{
		"NAMESPACE  OBJECT          WHY                                                     STRATEGY  RESTARTS",
		`shop       configmap/web   magalix.com/podDeleteMatch: "app=web"                   delete    pod/web-0, pod/web-1 (skips pod/bare: no controller)`,
		`shop       configmap/all   magalix.com/podDeleteMatch: ""                          -         refused: empty selector`,
		`shop       configmap/gone  Deployment/app: configmap.reloader.stakater.com/reload  -         nothing (does not exist)`,
		""}, "\n"), text.String())

	var js bytes.Buffer
	require.NoError(t, writePlan(&js, rows, "json"))
	var back []map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Len(t, back, 3)
	assert.Equal(t, map[string]any{"namespace": "shop", "object": "configmap/all", "restarts": nil, "why": `magalix.com/podDeleteMatch: ""`,
		"refused": "empty selector"}, back[1])
	js.Reset()
	require.NoError(t, writePlan(&js, nil, "json"))
	assert.Equal(t, "[]\n", js.String(), "an empty plan is an empty array")
}

func TestPlanFlagsAreTheControllersWithKubectlsShortForms(t *testing.T) {
	parse := func(args []string, twins map[string]string) (planConfig, error) {
		return parsePlanConfig(args, env(twins), io.Discard)
	}
	c, err := parse(nil, map[string]string{"res_namespace": "shop", "CUSCON_RELOADER_ANNOTATIONS": "true", "CUSCON_SECRETS": "true",
		"CUSCON_WATCH_SELECTOR": "team=a", "CUSCON_STRATEGY": "evict", "CUSCON_ANNOTATION": "x/y", "POD_NAME": "cuscon-0",
		"CUSCON_API_URL": "http://127.0.0.1:9001"})
	require.NoError(t, err)
	assert.Equal(t, "shop", c.Namespace)
	assert.True(t, c.ReloaderAnnotations && c.Secrets)
	assert.Equal(t, []string{"team=a", "evict", "x/y", "cuscon-0", "http://127.0.0.1:9001", "text"},
		[]string{c.WatchSelector, c.Strategy, c.Annotation, c.podName, c.APIURL, c.Output})

	c, err = parse([]string{"-n", "web", "-o", "json"}, map[string]string{"res_namespace": "shop"})
	require.NoError(t, err)
	assert.Equal(t, []string{"web", "json"}, []string{c.Namespace, c.Output}, "-n beats res_namespace")
	c, err = parse([]string{"-A"}, nil)
	require.NoError(t, err)
	assert.Equal(t, []watchScope{{resource: configMaps}}, c.scopes(), "-A: every namespace")

	for args, why := range map[string]string{
		"-o yaml":              `-o "yaml": want text or json`,
		"--strategy recreate":  `--strategy "recreate"`,
		"--annotation=":        "must not be empty",
		"extra":                "unexpected arguments",
		"--state annotation":   "flag provided but not defined",
		"--listen-address :80": "flag provided but not defined",
	} {
		_, err := parse(strings.Fields(args), nil)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), why, args)
	}
	_, err = parse(nil, map[string]string{"CUSCON_SECRETS": "maybe"})
	assert.ErrorContains(t, err, "env CUSCON_SECRETS")
}

// planOf runs the plan against f with args, failing the test on error.
func planOf(t *testing.T, f *fakeAPI, args ...string) []planRow {
	t.Helper()
	cfg, err := parsePlanConfig(append([]string{"--api-url", f.url()}, args...), env(nil), io.Discard)
	require.NoError(t, err)
	rows, err := makePlan(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return rows
}
