// plan_test.go tests `cuscon plan`: its rows as tables over the pure parts (planview.go)
// for the annotation and for Reloader's annotations, its flags, its two output formats,
// and the whole plan against the fake API, which proves it writes nothing.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/labels"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// annotatedSource is an object of res in "default" with annotations.
func annotatedSource(res kube.Resource, name string, annotations map[string]string) *kube.Object {
	return &kube.Object{Resource: res, Metadata: kube.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations}}
}

func TestPlanOfAnAnnotatedObjectIsWhatDecideWouldDoOnAChange(t *testing.T) {
	for _, row := range []struct {
		name        string
		res         kube.Resource
		annotations map[string]string
		strategy    string
		want        planRow // Why, Object, Namespace are checked apart
		refused     string
	}{
		{"a selector: its pods, by the default strategy", kube.ConfigMaps, sel("app=frontend"), "delete",
			planRow{Strategy: "delete", selector: "app=frontend"}, ""},
		{"--strategy=rollout: pods stand for their workloads", kube.ConfigMaps, sel("app=frontend"), "rollout",
			planRow{Strategy: "rollout", selector: "app=frontend", rollout: true}, ""},
		{"the object's strategy beats --strategy", kube.ConfigMaps, map[string]string{selectorKey: "app=web", restart.StrategyAnnotation: "evict"}, "delete",
			planRow{Strategy: "evict", selector: "app=web"}, ""},
		{"a Secret is planned as a ConfigMap is", kube.Secrets, sel("app=db"), "delete",
			planRow{Strategy: "delete", selector: "app=db"}, ""},
		{"a strategy the operator did not allow objects is refused", kube.ConfigMaps, map[string]string{selectorKey: "app=web", restart.StrategyAnnotation: "rollout"}, "delete",
			planRow{}, `not a strategy objects may choose here`},
		{"an unknown strategy is refused", kube.ConfigMaps, map[string]string{selectorKey: "app=web", restart.StrategyAnnotation: "recreate"}, "delete",
			planRow{}, `cuscon.dev/strategy "recreate": want delete, evict or rollout`},
		{"an empty selector is refused", kube.ConfigMaps, sel(""), "delete", planRow{}, labels.ErrEmpty.Error()},
		{"a blank selector is refused", kube.ConfigMaps, sel("   "), "delete", planRow{}, labels.ErrEmpty.Error()},
		{"a selector with only negative requirements is refused", kube.ConfigMaps, sel("!app"), "delete", planRow{}, labels.ErrBroad.Error()},
		{"tier!=db is refused too", kube.ConfigMaps, sel("tier!=db"), "rollout", planRow{}, labels.ErrBroad.Error()},
		{"a malformed selector is refused", kube.ConfigMaps, sel("app in (web"), "delete", planRow{}, "want a non-empty (v1, v2, ...)"},
	} {
		t.Run(row.name, func(t *testing.T) {
			got := articleRow(annotatedSource(row.res, "cfg", row.annotations), selectorKey, policy{strategy: row.strategy, overrides: []string{"delete", "evict"}})
			assert.Equal(t, "default", got.Namespace)
			assert.Equal(t, strings.ToLower(row.res.Kind)+"/cfg", got.Object)
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
	obj := annotatedSource(kube.ConfigMaps, "cfg", map[string]string{"example.com/pods": "app=web", selectorKey: "!app"})
	got := articleRow(obj, "example.com/pods", policy{strategy: "delete"})
	assert.Equal(t, "app=web", got.selector, "--annotation names the selector's key; the article's is then just an annotation")
	assert.Equal(t, `example.com/pods: "app=web"`, got.Why)
}

func TestPlanListsThePodsARestartWouldReplaceAndThoseItWouldSkip(t *testing.T) {
	mk := func(name, owner, phase string, terminating bool) kube.Pod {
		var p kube.Pod
		p.Metadata.Name, p.Status.Phase = name, phase
		if owner != "" {
			yes := true
			p.Metadata.OwnerReferences = []kube.OwnerReference{{Kind: owner, Name: "x", Controller: &yes}}
		}
		if terminating {
			now := "2026-01-01T00:00:00Z"
			p.Metadata.DeletionTimestamp = &now
		}
		return p
	}
	pods := []kube.Pod{mk("web-0", "ReplicaSet", "Running", false), mk("bare", "", "Running", false), mk("going", "ReplicaSet", "Running", true),
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
		[]string{c.WatchSelector, c.Strategy, c.Annotation, c.podName, c.Connection.APIURL, c.Output})

	c, err = parse([]string{"-n", "web", "-o", "json"}, map[string]string{"res_namespace": "shop"})
	require.NoError(t, err)
	assert.Equal(t, []string{"web", "json"}, []string{c.Namespace, c.Output}, "-n beats res_namespace")
	c, err = parse([]string{"-A"}, nil)
	require.NoError(t, err)
	assert.Equal(t, []kube.Scope{{Resource: kube.ConfigMaps}}, c.scopes(), "-A: every namespace")

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
func planOf(t *testing.T, f *kubetest.API, args ...string) []planRow {
	t.Helper()
	cfg, err := parsePlanConfig(append([]string{"--api-url", f.URL()}, args...), env(nil), io.Discard)
	require.NoError(t, err)
	rows, err := makePlan(context.Background(), cfg)
	require.NoError(t, err)
	return rows
}
