// ops_test.go proves what operating cuscon relies on: probes, metrics in a strictly
// read Prometheus text format, leader election over a Lease, and direct in-cluster
// access with a rotating token.

package main

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cuscon/internal/promtext"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serverURL is the base URL of the health and metrics server named in log.
func serverURL(t *testing.T, log *logSink) string {
	t.Helper()
	log.waitFor(t, "Serving health and metrics", 1)
	m := regexp.MustCompile(`Serving health and metrics.* address=(\S+)`).FindStringSubmatch(log.String())
	require.NotNil(t, m)
	return "http://" + m[1]
}

// get returns the status code and body of url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// waitStatus polls an endpoint until it answers code.
func waitStatus(t *testing.T, url string, code int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got, _ := get(t, url)
		if got == code {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s still answers %d, want %d", url, got, code)
		time.Sleep(5 * time.Millisecond) // polling the probe is the observation itself
	}
}

// parseMetrics reads exposition text with the strict reader, failing the test on any
// deviation from the format.
func parseMetrics(t *testing.T, text string) []promtext.Sample {
	t.Helper()
	samples, err := promtext.Parse(text)
	require.NoError(t, err, "metrics:\n%s", text)
	return samples
}

// value is promtext.Value.
var value = promtext.Value

func TestMetricsFollowTheTextFormatStrictly(t *testing.T) {
	m := newMetrics()
	m.apiRequests.inc("verb", "GET", "code", "200")
	m.watchEvents.inc("resource", `odd"name\with`+"\nnewline", "type", "ADDED")
	m.reaction.observe(0.003)
	m.reaction.observe(7)
	m.reaction.observe(1e6)
	var b strings.Builder
	require.NoError(t, m.write(&b))
	samples := parseMetrics(t, b.String())
	assert.Equal(t, 3.0, value(samples, "cuscon_reaction_seconds_count"))
	assert.Equal(t, 1.0, value(samples, "cuscon_reaction_seconds_bucket", "le", "0.005"))
	assert.Equal(t, 2.0, value(samples, "cuscon_reaction_seconds_bucket", "le", "10"))
	assert.Equal(t, 1.0, value(samples, "cuscon_build_info", "version", version))
	assert.Contains(t, b.String(), `resource="odd\"name\\with\nnewline"`)
}

func TestMetricsMoveWhenARestartHappens(t *testing.T) {
	fx := newFixture(t, nil)
	base := serverURL(t, fx.log)
	scrape := func() []promtext.Sample {
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, metricsContentType, resp.Header.Get("Content-Type"))
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return parseMetrics(t, string(b))
	}
	before := scrape()
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.log.waitFor(t, "Restarted 3 of 3 pods", 1)
	after := scrape()
	delta := func(name string, labels ...string) float64 {
		return value(after, name, labels...) - value(before, name, labels...)
	}
	assert.Equal(t, 3.0, delta("cuscon_pods_total", "strategy", "delete", "result", "restarted"))
	assert.Equal(t, 1.0, delta("cuscon_restarts_total", "strategy", "delete", "result", "ok"))
	assert.Equal(t, 1.0, delta("cuscon_reaction_seconds_count"))
	assert.Equal(t, 3.0, delta("cuscon_api_requests_total", "verb", "DELETE", "code", "200"))
	assert.GreaterOrEqual(t, delta("cuscon_watch_events_total", "resource", "configmaps", "type", "MODIFIED"), 1.0)
	assert.Positive(t, value(after, "cuscon_last_sync_timestamp_seconds"))
	assert.Equal(t, 1.0, value(after, "cuscon_leader"))
}

func TestReadyzFailsWhileTheProxyIsDownAndRecovers(t *testing.T) {
	fx := newFixture(t, nil, func(a *app) { a.health.readyGrace = 50 * time.Millisecond })
	base := serverURL(t, fx.log)
	waitStatus(t, base+"/readyz", http.StatusOK)
	fx.f.stop()
	waitStatus(t, base+"/readyz", http.StatusServiceUnavailable)
	_, why := get(t, base+"/readyz")
	assert.Contains(t, why, "watch disconnected")
	code, _ := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code, "a proxy that is down is no reason to restart cuscon")
	fx.f.restart()
	waitStatus(t, base+"/readyz", http.StatusOK)
}

func TestReadyzWaitsForTheFirstList(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.stop()
	log, _ := startCuscon(t, f, nil)
	base := serverURL(t, log)
	log.waitFor(t, "Could not list configmaps, retrying", 1)
	code, why := get(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, why, "first list not done")
	f.restart()
	waitStatus(t, base+"/readyz", http.StatusOK)
}

func TestHealthzFailsWhenAWatchLoopIsWedged(t *testing.T) {
	h := newHealth()
	h.wedgedAfter = time.Minute
	ok, _ := h.healthy()
	assert.False(t, ok, "no watcher yet")
	h.listed("configmaps in \"default\"")
	ok, _ = h.healthy()
	assert.True(t, ok)
	h.watchers["configmaps in \"default\""].heartbeat = time.Now().Add(-2 * time.Minute)
	ok, why := h.healthy()
	assert.False(t, ok)
	assert.Contains(t, why, "no progress for 2m")
}

func TestOnlyTheLeaderActsAndAStoppedLeaderHandsOver(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.putConfigMap("frontend-config", sel("app=frontend"), msg("v1"))
	f.addPods("frontend", 3, map[string]string{"app": "frontend"})
	elect := func(id string) func(*config) {
		return func(c *config) { c.LeaderElect = true; c.Identity = id }
	}
	logA, stopA := startCuscon(t, f, elect("replica-a"))
	logA.waitFor(t, "Became the leader", 1)
	logB, _ := startCuscon(t, f, elect("replica-b"))
	logB.waitFor(t, "Synced configmaps", 1)
	f.waitUntil("the leader's baseline recorded", func() bool { return f.patches >= 1 })

	f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.Data = msg("v2") })
	f.waitDeleted(frontendPods...)
	logA.waitFor(t, "Restarted 3 of 3 pods", 1)
	f.snapshot(func() { assert.Len(t, f.deleteReqs, 3, "one DELETE per pod: the follower sent none") })
	assert.NotContains(t, logB.String(), "Modification detected")

	stopA() // releases the Lease
	logB.waitFor(t, "Became the leader", 1)
	f.snapshot(func() { assert.Equal(t, "replica-b", f.leases["cuscon"].Spec.HolderIdentity) })
	f.addPods("frontend-next", 3, map[string]string{"app": "frontend"})
	f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.Data = msg("v3") })
	f.waitDeleted("frontend-next-0", "frontend-next-1", "frontend-next-2")
	f.snapshot(func() { assert.Len(t, f.deleteReqs, 6, "each change applied once") })
}

func TestANewLeaderAppliesWhatTheOldOneLeftUndone(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.putConfigMap("frontend-config", sel("app=frontend"), msg("v1"))
	f.addPods("frontend", 3, map[string]string{"app": "frontend"})
	// A follower that never became leader saw the baseline get recorded...
	logA, stopA := startCuscon(t, f, func(c *config) { c.LeaderElect = true; c.Identity = "a" })
	logA.waitFor(t, "Became the leader", 1)
	f.waitUntil("the baseline recorded", func() bool { return f.patches == 1 })
	stopA()
	// ...then the content changed while no leader was there.
	f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.Data = msg("v2") })
	logB, _ := startCuscon(t, f, func(c *config) { c.LeaderElect = true; c.Identity = "b" })
	logB.waitFor(t, "Became the leader", 1)
	f.waitDeleted(frontendPods...)
}

func TestElectorWaitsForAnExpiredLeaseAndCountsTransitions(t *testing.T) {
	f := newFakeAPI(t, "default")
	api, err := newAPIClient(f.url(), nil)
	require.NoError(t, err)
	log, _ := newLogger(io.Discard, "text", 0)
	mk := func(id string) *elector {
		return &elector{api: api, log: log, metrics: newMetrics(), ns: "default", name: "l", identity: id,
			leaseDuration: 10 * time.Second, renewDeadline: 5 * time.Second, retryPeriod: time.Second}
	}
	a, b := mk("a"), mk("b")
	ctx := context.Background()
	t0 := time.Now()
	require.True(t, a.tryAcquireOrRenew(ctx, t0), "a creates the lease")
	require.False(t, b.tryAcquireOrRenew(ctx, t0.Add(time.Second)), "held and fresh")
	require.False(t, b.tryAcquireOrRenew(ctx, t0.Add(10*time.Second)), "b first saw it at t0+1s: not yet expired")
	require.True(t, b.tryAcquireOrRenew(ctx, t0.Add(12*time.Second)), "unchanged for longer than its duration: taken over")
	f.snapshot(func() {
		assert.Equal(t, "b", f.leases["l"].Spec.HolderIdentity)
		assert.Equal(t, 1, f.leases["l"].Spec.LeaseTransitions)
	})
	require.False(t, a.tryAcquireOrRenew(ctx, t0.Add(13*time.Second)), "a sees b's fresh record")

	f.snapshot(func() { f.leaseConflicts = 1 }) // another writer gets in between b's read and write
	assert.False(t, b.tryAcquireOrRenew(ctx, t0.Add(14*time.Second)), "a 409 is not leadership")
	assert.True(t, b.tryAcquireOrRenew(ctx, t0.Add(15*time.Second)))
}

func TestInClusterSendsTheCurrentTokenAndTrustsTheCA(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = io.WriteString(w, `{"metadata":{},"items":[]}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("first-token\n"), 0o600))
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "https://"), ":")
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)

	base, rt, err := inClusterConfig(dir)
	require.NoError(t, err)
	api, err := newAPIClient(base, rt)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, api.get(ctx, "/api/v1/namespaces/default/pods", nil, &podList{}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("rotated-token\n"), 0o600))
	rt.(*bearerTransport).tokens.every = 0 // as if a minute had passed
	require.NoError(t, api.get(ctx, "/api/v1/namespaces/default/pods", nil, &podList{}))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"Bearer first-token", "Bearer rotated-token"}, seen)
}

func TestInClusterNeedsItsEnvironment(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, _, err := inClusterConfig(t.TempDir())
	assert.ErrorContains(t, err, "KUBERNETES_SERVICE_HOST")
}
