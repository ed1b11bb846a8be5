// reloaderretry_test.go proves that the Reloader mode gives nothing up either: a delete
// whose DELETE is refused is recorded only once every pod is replaced, and retried until
// then; and an optional ConfigMap that appears restarts the workload that can now read it.

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReloaderRecordsAnIncompleteDeleteOnlyOnceEveryPodIsReplaced(t *testing.T) {
	f := reloaderFake(t, map[string]string{reloaderAuto: "true", strategyAnnotation: "delete"})
	log, _ := startReloader(t, f, nil)
	before := appRecord(f)
	f.snapshot(func() { f.refuseDelete["app-1"] = true })
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.waitDeleted("app-0")
	log.waitFor(t, "Could not delete app-1", 2) // retried, not given up
	assert.Equal(t, before, appRecord(f), "not recorded while a pod still runs the old content")

	f.snapshot(func() { f.refuseDelete["app-1"] = false })
	f.waitDeleted("app-1")
	f.waitUntil("the new view recorded", func() bool {
		v, _ := parseView(f.workloads["deployments/default/app"].Metadata.Annotations[appliedConfigsAnnotation])
		return v["configmap/app-config"]["log.level"] != before["configmap/app-config"]["log.level"]
	})
	f.snapshot(func() {
		assert.Equal(t, 1, countOf(f.deleted, "app-0"), "the pod replaced first is not deleted again")
	})
}

func TestReloaderRestartsAWorkloadWhenAnOptionalConfigMapAppears(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.putWorkload("Deployment", "opt", autoOn, nil,
		`{"containers":[{"name":"opt","envFrom":[{"configMapRef":{"name":"maybe","optional":true}}]}]}`)
	startReloader(t, f, nil)
	f.waitUntil("opt's baseline recorded", func() bool {
		return f.workloads["deployments/default/opt"].Metadata.Annotations[appliedConfigsAnnotation] != ""
	})
	assert.Zero(t, f.rolloutsOf("deployments/opt"), "its absence is what it started with")
	f.putConfigMap("maybe", nil, msg("now here"))
	f.waitUntil("opt rolled", func() bool { return countOf(f.rollouts, "deployments/opt") == 1 }) // the lock is held here
	rsettle(t, f)
	assert.Zero(t, f.rolloutsOf("deployments/app"), "app does not use it")
}

// countOf counts s in list.
func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
