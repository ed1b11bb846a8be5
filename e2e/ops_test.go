// ops_test.go: operating cuscon on the real control plane: probes, metrics, two
// replicas with leader election (the leader killed mid-way), direct in-cluster access
// with a real ServiceAccount token, and every manifest variant accepted by the server.
package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cuscon/internal/plane"
	"cuscon/internal/promtext"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probe returns the status code and body of cuscon's endpoint path at base.
func probe(base, path string) (int, string) {
	resp, err := http.Get(base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape reads /metrics at base with the strict reader.
func (c *cluster) scrape(base string) []promtext.Sample {
	c.t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(c.t, err)
	defer resp.Body.Close()
	assert.Equal(c.t, "text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	samples, err := promtext.Parse(string(b))
	require.NoError(c.t, err, "metrics:\n%s", b)
	return samples
}

func TestReadyzFailsWhileTheProxyIsDownAndRecovers(t *testing.T) {
	c := newCluster(t)
	c.eventually("/readyz to pass", func() bool { code, _ := probe(suite.health, "/readyz"); return code == 200 })
	c.stopProxy()
	down := time.Now()
	c.eventually("/readyz to fail", func() bool { code, _ := probe(suite.health, "/readyz"); return code == 503 })
	t.Logf("/readyz failed %.1fs after the proxy stopped", time.Since(down).Seconds())
	code, why := probe(suite.health, "/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, why, "watch disconnected")
	code, _ = probe(suite.health, "/healthz")
	assert.Equal(t, 200, code, "alive: the proxy being down is no reason to restart cuscon")
	c.startProxy(filepath.Join(c.dir, "cuscon.kubeconfig"))
	c.eventually("/readyz to pass again", func() bool { code, _ := probe(suite.health, "/readyz"); return code == 200 })
}

func TestMetricsParseStrictlyAndMoveWhenARestartHappens(t *testing.T) {
	c := newCluster(t)
	frontend := c.uids("frontend")
	// The pod cache has listed and its watch is open once it knows every pod of the
	// namespace; from then on a restart finds its pods without a LIST.
	c.eventually("the pod cache to know the namespace's pods", func() bool {
		all := strings.Fields(c.kubectl("get", "pods", "-n", c.ns, "-o", "name"))
		return promtext.Value(c.scrape(suite.health), "cuscon_pod_cache_pods") >= float64(len(all))
	})
	before := c.scrape(suite.health)
	c.changeFrontendConfig("counted")
	c.waitReplaced("frontend", frontend, 3)
	c.waitLog("Restarted 3 of 3 pods matching app=frontend", 1)
	after := c.scrape(suite.health)
	delta := func(name string, labels ...string) float64 {
		return promtext.Value(after, name, labels...) - promtext.Value(before, name, labels...)
	}
	assert.Equal(t, 3.0, delta("cuscon_pods_total", "strategy", "delete", "result", "restarted"))
	assert.Equal(t, 1.0, delta("cuscon_restarts_total", "strategy", "delete", "result", "ok"))
	assert.Equal(t, 1.0, delta("cuscon_reaction_seconds_count"))
	assert.Equal(t, 3.0, delta("cuscon_api_requests_total", "verb", "DELETE", "code", "200"))
	assert.Equal(t, 1.0, delta("cuscon_pod_lookups_total", "source", "cache"), "the pods were known")
	assert.Equal(t, 0.0, delta("cuscon_pod_lookups_total", "source", "list"), "no pod LIST on the way to the DELETEs")
	assert.GreaterOrEqual(t, delta("cuscon_watch_events_total", "resource", "configmaps", "type", "MODIFIED"), 1.0)
	assert.Equal(t, 1.0, promtext.Value(after, "cuscon_leader"))
	t.Logf("reaction: %.1f ms for 3 pods", 1000*delta("cuscon_reaction_seconds_sum"))
}

func TestTwoReplicasElectOneLeaderAndAKilledLeaderHandsOver(t *testing.T) {
	c := newCluster(t)
	c.stopCuscon()
	c.applyManifests(c.ns, "manifests/ha/lease-rbac.yaml")
	ports, err := plane.FreePorts(2)
	require.NoError(t, err)
	replica := func(name string, port int) *plane.Process {
		env := append(append([]string{}, c.cusconEnv...), "CUSCON_LEADER_ELECT=true", "POD_NAME="+name,
			fmt.Sprintf("CUSCON_LISTEN_ADDRESS=127.0.0.1:%d", port))
		return c.startCusconAs(name, env)
	}
	a := replica("cuscon-a", ports[0])
	c.eventually("cuscon-a to lead", func() bool { return c.logCountOf("cuscon-a", "Became the leader") == 1 })
	replica("cuscon-b", ports[1])

	frontend := c.uids("frontend")
	c.changeFrontendConfig("with two replicas")
	c.waitReplaced("frontend", frontend, 3)
	c.eventually("the leader's summary", func() bool { return c.logCountOf("cuscon-a", "Restarted 3 of 3 pods") == 1 })
	assert.Zero(t, c.logCountOf("cuscon-b", "Modification detected"), "the follower acts on nothing")
	follower := c.scrape(fmt.Sprintf("http://127.0.0.1:%d", ports[1]))
	assert.Equal(t, 0.0, promtext.Value(follower, "cuscon_leader"), "cuscon-b reports itself a follower")

	require.NoError(t, a.Signal(syscall.SIGKILL)) // no release: the lease must expire
	killed := time.Now()
	frontend = c.uids("frontend")
	c.changeFrontendConfig("changed while the leader was dead")
	c.eventually("cuscon-b to lead", func() bool { return c.logCountOf("cuscon-b", "Became the leader") == 1 })
	handover := time.Since(killed)
	c.waitReplaced("frontend", frontend, 3)
	t.Logf("handover after SIGKILL: %.1fs (lease duration 15s, retry period 2s)", handover.Seconds())
	// The follower counts the lease duration from when it saw the last renewal, which
	// is up to one retry period (2 s, +20% jitter) after it happened, and takes over at
	// its next retry: at most 15 s + 2 × 2.4 s after the kill.
	assert.Less(t, handover, 15*time.Second+5*time.Second, "within the lease duration, plus two retry periods")
	c.settle()
	assert.Equal(t, 1, c.logCountOf("cuscon-b", "Modification detected namespace="+c.ns+" configmap=frontend-config"),
		"the change made during the handover is applied once")
	assert.Equal(t, 1, c.logCountOf("cuscon-a", "Modification detected namespace="+c.ns+" configmap=frontend-config"))
}

func TestDirectModeWorksWithARealServiceAccountToken(t *testing.T) {
	c := newCluster(t)
	c.stopCuscon()
	c.stopProxy()
	sa := filepath.Join(c.dir, "serviceaccount")
	require.NoError(t, os.MkdirAll(sa, 0o755))
	token := c.kubectl("create", "token", "cuscon", "-n", c.ns, "--duration", "1h")
	require.NoError(t, os.WriteFile(filepath.Join(sa, "token"), []byte(token), 0o600))
	ca, err := os.ReadFile(filepath.Join(suite.dir, "certs", "apiserver.crt"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(sa, "ca.crt"), ca, 0o644))
	host, port, _ := strings.Cut(strings.TrimPrefix(suite.plane.Server, "https://"), ":")
	env := append(append([]string{}, c.cusconEnv...), "CUSCON_IN_CLUSTER=true", "CUSCON_SERVICE_ACCOUNT_DIR="+sa,
		"KUBERNETES_SERVICE_HOST="+host, "KUBERNETES_SERVICE_PORT="+port)
	c.cuscon = c.startCusconAs("cuscon", env)
	assert.Contains(t, c.log(), "api="+suite.plane.Server)
	frontend := c.uids("frontend")
	c.changeFrontendConfig("straight to the API server")
	c.waitReplaced("frontend", frontend, 3)
	c.waitEvent("ConfigMap", "frontend-config", "Restarted")
}

func TestEveryManifestVariantIsAcceptedByTheAPIServer(t *testing.T) {
	c := newCluster(t)
	for _, dir := range []string{"manifests", "manifests/ha", "manifests/direct", "manifests/example", "manifests/sync",
		"manifests/evict", "manifests/rollout"} {
		out := c.kubectl("apply", "--dry-run=server", "-k", filepath.Join(suite.root, dir))
		assert.Contains(t, out, "(server dry run)", dir)
	}
}
