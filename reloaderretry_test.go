// reloaderretry_test.go proves that the Reloader mode gives nothing up either: a delete
// whose DELETE is refused is recorded only once every pod is replaced, and retried until
// then; and an optional ConfigMap that appears restarts the workload that can now read it.

package main

import (
	"testing"

	"cuscon/internal/reloader"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
)

func TestReloaderRecordsAnIncompleteDeleteOnlyOnceEveryPodIsReplaced(t *testing.T) {
	f := reloaderFake(t, map[string]string{reloaderAuto: "true", restart.StrategyAnnotation: "delete"})
	log, _ := startReloader(t, f, nil)
	before := appRecord(f)
	f.Snapshot(func() { f.RefuseDelete["app-1"] = true })
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitDeleted("app-0")
	log.WaitFor(t, "Could not delete app-1", 2) // retried, not given up
	assert.Equal(t, before, appRecord(f), "not recorded while a pod still runs the old content")

	f.Snapshot(func() { f.RefuseDelete["app-1"] = false })
	f.WaitDeleted("app-1")
	f.WaitUntil("the new view recorded", func() bool {
		v := recordOf(f.Workloads["deployments/default/app"].Metadata.Annotations[reloader.AppliedConfigsAnnotation])
		return v["configmap/app-config"]["log.level"] != before["configmap/app-config"]["log.level"]
	})
	f.Snapshot(func() {
		assert.Equal(t, 1, countOf(f.Deleted, "app-0"), "the pod replaced first is not deleted again")
	})
}

func TestReloaderRestartsAWorkloadWhenAnOptionalConfigMapAppears(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.PutWorkload("Deployment", "opt", autoOn, nil,
		`{"containers":[{"name":"opt","envFrom":[{"configMapRef":{"name":"maybe","optional":true}}]}]}`)
	startReloader(t, f, nil)
	f.WaitUntil("opt's baseline recorded", func() bool {
		return f.Workloads["deployments/default/opt"].Metadata.Annotations[reloader.AppliedConfigsAnnotation] != ""
	})
	assert.Zero(t, f.RolloutsOf("deployments/opt"), "its absence is what it started with")
	f.PutConfigMap("maybe", nil, msg("now here"))
	f.WaitUntil("opt rolled", func() bool { return countOf(f.Rollouts, "deployments/opt") == 1 }) // the lock is held here
	rsettle(t, f)
	assert.Zero(t, f.RolloutsOf("deployments/app"), "app does not use it")
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
