// reloaderwaves_test.go runs the Reloader mode's waves against the fake API, for what the
// real plane cannot show on demand: a wave restarted by deleting its pods gates the next
// until its replacements are Ready (the fake recreates nothing).

package main

import (
	"testing"

	"cuscon/internal/kubetest"
	"cuscon/internal/waves"

	"github.com/stretchr/testify/assert"
)

func TestAWaveRestartedByDeletionGatesTheNextUntilItsReplacementsAreReady(t *testing.T) {
	f := reloaderFake(t, map[string]string{reloaderAuto: "true", "cuscon.dev/strategy": "delete", waves.WaveAnnotation: "1"})
	f.PutWorkload("Deployment", "web", map[string]string{reloaderAuto: "true", waves.WaveAnnotation: "2"}, nil,
		`{"containers":[{"name":"web","env":[{"name":"LEVEL","valueFrom":{"configMapKeyRef":{"name":"app-config","key":"log.level"}}}]}]}`)
	log, _ := startReloader(t, f, nil)
	f.WaitUntil("web's baseline", func() bool {
		return f.Workloads["deployments/default/web"].Metadata.Annotations["cuscon.dev/applied-configs"] != ""
	})

	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitUntil("app's two pods deleted", func() bool { return len(f.Deleted) == 2 })
	checks := log.Count("Checked workloads")
	log.WaitFor(t, "Checked workloads", checks+2) // two checks of the wave since: it is not healthy
	assert.Zero(t, f.RolloutsOf("deployments/web"), "wave 2 waits while wave 1 has no Ready pod")
	assert.Contains(t, f.WorkloadAnnotation("Deployment", "app", waves.LastRestartAnnotation), " wave 1: configmap/app-config key log.level")

	f.AddPods("app-new", 1, map[string]string{"app": "app"}) // the replacement, Ready
	f.WaitUntil("web rolled", func() bool { return kubetest.Contains(f.Rollouts, "deployments/web") })
	assert.Contains(t, f.WorkloadAnnotation("Deployment", "web", waves.LastRestartAnnotation), " wave 2: configmap/app-config key log.level")
	assert.Equal(t, 1, f.RolloutsOf("deployments/web"))
}

func TestAWorkloadFirstSeenJustAfterTheChangeStaysOwedWhileItsWaveWaits(t *testing.T) {
	f := reloaderFake(t, map[string]string{reloaderAuto: "true", waves.WaveAnnotation: "1"})
	startReloader(t, f, nil)
	before := appRecord(f)["configmap/app-config"]["log.level"]
	// Created after the sweep: no record yet; the change below is the first it is seen with.
	f.PutWorkload("Deployment", "web", map[string]string{reloaderAuto: "true", waves.WaveAnnotation: "2"}, nil,
		`{"containers":[{"name":"web","env":[{"name":"LEVEL","valueFrom":{"configMapKeyRef":{"name":"app-config","key":"log.level"}}}]}]}`)
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitUntil("app rolled", func() bool { return kubetest.Contains(f.Rollouts, "deployments/app") })
	f.WaitUntil("web's record", func() bool {
		return f.Workloads["deployments/default/web"].Metadata.Annotations["cuscon.dev/applied-configs"] != ""
	})
	web := recordOf(f.WorkloadAnnotation("Deployment", "web", "cuscon.dev/applied-configs"))
	assert.Equal(t, before, web["configmap/app-config"]["log.level"], "what it runs, so that the change stays owed while wave 1 is not healthy")
	assert.Zero(t, f.RolloutsOf("deployments/web"))
}
