// ops_test.go proves what operating cuscon relies on: probes, metrics in a strictly
// read Prometheus text format, leader election over a Lease, and direct in-cluster
// access with a rotating token.

package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	"cuscon/internal/kubetest"
	"cuscon/internal/promtext"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsMoveWhenARestartHappens(t *testing.T) {
	fx := newFixture(t, nil)
	base := fx.log.ServerURL(t)
	scrape := func() []promtext.Sample {
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, telemetry.ContentType, resp.Header.Get("Content-Type"))
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return kubetest.ParseMetrics(t, string(b))
	}
	before := scrape()
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.log.WaitFor(t, "Restarted 3 of 3 pods", 1)
	after := scrape()
	delta := func(name string, labels ...string) float64 {
		return kubetest.Value(after, name, labels...) - kubetest.Value(before, name, labels...)
	}
	assert.Equal(t, 3.0, delta("cuscon_pods_total", "strategy", "delete", "result", "restarted"))
	assert.Equal(t, 1.0, delta("cuscon_restarts_total", "strategy", "delete", "result", "ok"))
	assert.Equal(t, 1.0, delta("cuscon_reaction_seconds_count"))
	assert.Equal(t, 3.0, delta("cuscon_api_requests_total", "verb", "DELETE", "code", "200"))
	assert.GreaterOrEqual(t, delta("cuscon_watch_events_total", "resource", "configmaps", "type", "MODIFIED"), 1.0)
	assert.Positive(t, kubetest.Value(after, "cuscon_last_sync_timestamp_seconds"))
	assert.Equal(t, 1.0, kubetest.Value(after, "cuscon_leader"))
}

func TestReadyzFailsWhileTheProxyIsDownAndRecovers(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.tuning.readyGrace = 50 * time.Millisecond })
	base := fx.log.ServerURL(t)
	kubetest.WaitStatus(t, base+"/readyz", http.StatusOK)
	fx.f.Stop()
	kubetest.WaitStatus(t, base+"/readyz", http.StatusServiceUnavailable)
	_, why := kubetest.Get(t, base+"/readyz")
	assert.Contains(t, why, "watch disconnected")
	code, _ := kubetest.Get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code, "a proxy that is down is no reason to restart cuscon")
	fx.f.Restart()
	kubetest.WaitStatus(t, base+"/readyz", http.StatusOK)
}

func TestReadyzWaitsForTheFirstList(t *testing.T) {
	f := kubetest.New(t, "default")
	f.Stop()
	log, _ := startCuscon(t, f, nil)
	base := log.ServerURL(t)
	log.WaitFor(t, "Could not list configmaps, retrying", 1)
	code, why := kubetest.Get(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, why, "first list not done")
	f.Restart()
	kubetest.WaitStatus(t, base+"/readyz", http.StatusOK)
}

func TestOnlyTheLeaderActsAndAStoppedLeaderHandsOver(t *testing.T) {
	f := kubetest.New(t, "default")
	f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v1"))
	f.AddPods("frontend", 3, map[string]string{"app": "frontend"})
	elect := func(id string) func(*config) {
		return func(c *config) { c.LeaderElect = true; c.Identity = id }
	}
	logA, stopA := startCuscon(t, f, elect("replica-a"))
	logA.WaitFor(t, "Became the leader", 1)
	logB, _ := startCuscon(t, f, elect("replica-b"))
	logB.WaitFor(t, "Synced configmaps", 1)
	f.WaitUntil("the leader's baseline recorded", func() bool { return f.Patches >= 1 })

	f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.Data = msg("v2") })
	f.WaitDeleted(frontendPods...)
	logA.WaitFor(t, "Restarted 3 of 3 pods", 1)
	f.Snapshot(func() { assert.Len(t, f.DeleteReqs, 3, "one DELETE per pod: the follower sent none") })
	assert.NotContains(t, logB.String(), "Modification detected")

	stopA() // releases the Lease
	logB.WaitFor(t, "Became the leader", 1)
	f.Snapshot(func() { assert.Equal(t, "replica-b", f.Leases["cuscon"].Spec.HolderIdentity) })
	f.AddPods("frontend-next", 3, map[string]string{"app": "frontend"})
	f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.Data = msg("v3") })
	f.WaitDeleted("frontend-next-0", "frontend-next-1", "frontend-next-2")
	f.Snapshot(func() { assert.Len(t, f.DeleteReqs, 6, "each change applied once") })
}

func TestANewLeaderAppliesWhatTheOldOneLeftUndone(t *testing.T) {
	f := kubetest.New(t, "default")
	f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v1"))
	f.AddPods("frontend", 3, map[string]string{"app": "frontend"})
	// A follower that never became leader saw the baseline get recorded...
	logA, stopA := startCuscon(t, f, func(c *config) { c.LeaderElect = true; c.Identity = "a" })
	logA.WaitFor(t, "Became the leader", 1)
	f.WaitUntil("the baseline recorded", func() bool { return f.Patches == 1 })
	stopA()
	// ...then the content changed while no leader was there.
	f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.Data = msg("v2") })
	logB, _ := startCuscon(t, f, func(c *config) { c.LeaderElect = true; c.Identity = "b" })
	logB.WaitFor(t, "Became the leader", 1)
	f.WaitDeleted(frontendPods...)
}
