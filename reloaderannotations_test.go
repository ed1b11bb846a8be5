// reloaderannotations_test.go runs each of Reloader's other annotations against the fake
// API, one row each: what it opts in or out, proved by a change that rolls the workload
// or, rolled before the sentinel, does not.

package main

import (
	"testing"

	"cuscon/internal/kubetest"
	"cuscon/internal/reloader"

	"github.com/stretchr/testify/assert"
)

// rolledAfter changes app-config's data (its annotations kept) and reports whether
// Deployment app was rolled once the mode has handled the change (the sentinel rolled
// after it).
func rolledAfter(t *testing.T, f *kubetest.API, annotations, data map[string]string) bool {
	t.Helper()
	f.PutConfigMap("app-config", annotations, data)
	rsettle(t, f)
	return f.RolloutsOf("deployments/app") > 0
}

// levelChanged is app-config with the key Deployment app reads changed.
var levelChanged = map[string]string{"log.level": "debug", "other": "1"}

// otherChanged is app-config with only a key Deployment app does not read changed.
var otherChanged = map[string]string{"log.level": "info", "other": "2"}

func TestEachReloaderAnnotationOptsInOrOutAsReloaderDoes(t *testing.T) {
	for _, row := range []struct {
		name     string
		workload map[string]string // on Deployment app
		template map[string]string // on its pod template
		cm       map[string]string // annotations of app-config
		change   map[string]string
		rolls    bool
	}{
		{name: "auto, a key it reads", workload: autoOn, change: levelChanged, rolls: true},
		{name: "configmap auto, a key it reads", workload: map[string]string{"configmap.reloader.stakater.com/auto": "true"}, change: levelChanged, rolls: true},
		{name: "secret auto only: ConfigMaps do not count", workload: map[string]string{"secret.reloader.stakater.com/auto": "true"}, change: levelChanged},
		{name: "auto on the pod template, none on the workload", template: autoOn, change: levelChanged, rolls: true},
		{name: "auto false", workload: map[string]string{reloaderAuto: "false"}, change: levelChanged},
		{name: "reload list naming it: any key counts", workload: map[string]string{"configmap.reloader.stakater.com/reload": "app-config"}, change: otherChanged, rolls: true},
		{name: "reload list by a whole-name pattern", workload: map[string]string{"configmap.reloader.stakater.com/reload": "app-.*"}, change: otherChanged, rolls: true},
		{name: "reload list naming another", workload: map[string]string{"configmap.reloader.stakater.com/reload": "other-config"}, change: levelChanged},
		{name: "ignore on the ConfigMap", workload: autoOn, cm: map[string]string{"reloader.stakater.com/ignore": "true"}, change: levelChanged},
		{name: "search, the ConfigMap matched", workload: map[string]string{"reloader.stakater.com/search": "true"}, cm: map[string]string{"reloader.stakater.com/match": "true"}, change: levelChanged, rolls: true},
		{name: "search, the ConfigMap not matched", workload: map[string]string{"reloader.stakater.com/search": "true"}, change: levelChanged},
		{name: "auto, excluded by name", workload: map[string]string{reloaderAuto: "true", "configmaps.exclude.reloader.stakater.com/reload": "app-config"}, change: levelChanged},
		{name: "auto, another excluded", workload: map[string]string{reloaderAuto: "true", "configmaps.exclude.reloader.stakater.com/reload": "unused"}, change: levelChanged, rolls: true},
		{name: "no annotation at all", change: levelChanged},
	} {
		t.Run(row.name, func(t *testing.T) {
			f := reloaderFake(t, row.workload)
			if row.template != nil {
				f.PutWorkload("Deployment", "app", nil, row.template,
					`{"containers":[{"name":"app","env":[{"name":"LEVEL","valueFrom":{"configMapKeyRef":{"name":"app-config","key":"log.level"}}}]}]}`)
			}
			if row.cm != nil {
				f.PutConfigMap("app-config", row.cm, map[string]string{"log.level": "info", "other": "1"})
			}
			startReloaderQuiet(t, f)
			assert.Equal(t, row.rolls, rolledAfter(t, f, row.cm, row.change))
			f.Snapshot(func() { assert.Empty(t, f.Deleted, "no pod deleted by rollout") })
		})
	}
}

// startReloaderQuiet runs the Reloader mode and waits until its first sweep recorded
// the sentinel's baseline (app may be opted out, so it may have none).
func startReloaderQuiet(t *testing.T, f *kubetest.API) {
	t.Helper()
	log, _ := startCuscon(t, f, func(c *config) { c.ReloaderAnnotations, c.Reloader.Strategy = true, reloader.StrategyRollout })
	log.WaitFor(t, "Checked workloads namespace=default sweep=true", 1)
	f.WaitUntil("the sentinel's baseline recorded", func() bool {
		return f.Workloads["deployments/default/rsentinel"].Metadata.Annotations[reloader.AppliedConfigsAnnotation] != ""
	})
}

func TestTheArticlesModeAloneIgnoresReloaderAnnotations(t *testing.T) {
	f := reloaderFake(t, autoOn)
	log, _ := startCuscon(t, f, nil) // --reloader-annotations off: the default
	log.WaitFor(t, `Synced configmaps in "default"`, 1)
	f.PutConfigMap("app-config", nil, levelChanged)
	f.PutConfigMap("sentinel", sel("app=sentinel"), msg("0"))
	f.AddPod("sentinel-1", map[string]string{"app": "sentinel"}, true)
	f.PutConfigMap("sentinel", sel("app=sentinel"), msg("1"))
	f.WaitDeleted("sentinel-1")
	f.Snapshot(func() {
		assert.Empty(t, f.Rollouts, "a Reloader user's workload is untouched until the mode is asked for")
		assert.Empty(t, f.Workloads["deployments/default/app"].Metadata.Annotations[reloader.AppliedConfigsAnnotation], "nothing recorded on it")
	})
}
