// strategies_test.go: restarts without downtime and their safety nets, on the real
// control plane: eviction under a PodDisruptionBudget, rollout, debounce, dry run,
// Secrets, scope, the cluster-wide manifests, and Events.
package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readyWatch follows pods through a real watch (kubectl get -w) and keeps the lowest
// number of Ready pods seen once the initial count was reached.
type readyWatch struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	ready map[string]bool
	armed bool
	low   int
	seen  int
}

// watchReady starts following the pods labelled app=app; want is the count at rest.
func (c *cluster) watchReady(app string, want int) *readyWatch {
	c.t.Helper()
	w := &readyWatch{ready: map[string]bool{}, low: want}
	w.cmd = exec.Command(suite.plane.KubectlPath(), "--kubeconfig", suite.plane.Kubeconfig, "get", "pods",
		"-n", c.ns, "-l", "app="+app, "--watch", "--output-watch-events", "-o", "json")
	out, err := w.cmd.StdoutPipe()
	require.NoError(c.t, err)
	require.NoError(c.t, w.cmd.Start())
	c.t.Cleanup(func() { _ = w.cmd.Process.Kill(); _ = w.cmd.Wait() })
	go func() {
		dec := json.NewDecoder(out)
		for {
			var ev struct {
				Type   string  `json:"type"`
				Object podJSON `json:"object"`
			}
			if dec.Decode(&ev) != nil {
				return
			}
			p := ev.Object.state()
			w.update(p.UID, ev.Type != "DELETED" && p.Ready && !p.Terminating, want)
		}
	}()
	c.eventually("the pod watch to see every pod Ready", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.armed
	})
	return w
}

func (w *readyWatch) update(uid string, ready bool, want int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ready[uid] = ready
	n := 0
	for _, r := range w.ready {
		if r {
			n++
		}
	}
	w.seen++
	if n >= want {
		w.armed = true
	}
	if w.armed {
		w.low = min(w.low, n)
	}
}

// lowest is the fewest Ready pods seen since all were Ready.
func (w *readyWatch) lowest() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.low
}

func TestEvictWithBudgetNeverDropsBelowMinAvailable(t *testing.T) {
	c := newCluster(t)
	c.kubectlIn(`{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"frontend"},
		"spec":{"minAvailable":2,"selector":{"matchLabels":{"app":"frontend"}}}}`, "apply", "-n", c.ns, "-f", "-")
	c.eventually("the budget to allow one disruption", func() bool {
		out := c.kubectl("get", "pdb", "frontend", "-n", c.ns, "-o", "jsonpath={.status.disruptionsAllowed}")
		return strings.TrimSpace(out) == "1"
	})
	c.applyManifests(c.ns, "manifests/components/evict/rbac.yaml")
	c.kubectl("annotate", "configmap", "frontend-config", "-n", c.ns, "cuscon.dev/strategy=evict")
	watch := c.watchReady("frontend", 3)
	frontend := c.uids("frontend")

	c.changeFrontendConfig("evicted politely")
	c.waitReplaced("frontend", frontend, 3)
	c.waitLog("Restarted 3 of 3 pods matching app=frontend", 1)
	assert.Equal(t, 2, watch.lowest(), "one pod at a time went away, never two")
	assert.Equal(t, 3, c.logCount("was evicted successfully"))
	assert.Zero(t, c.logCount("was deleted successfully"), "evict never falls back to DELETE")
	t.Logf("evictions the budget blocked first: %d", c.logCount("blocked for now"))
}

func TestRolloutRollsTheDeploymentAndDeletesNoPod(t *testing.T) {
	c := newCluster(t, "CUSCON_OVERRIDE_STRATEGIES=delete,evict,rollout") // the operator lets objects choose rollout
	c.applyManifests(c.ns, "manifests/components/rollout/rbac.yaml")
	c.kubectl("annotate", "configmap", "frontend-config", "-n", c.ns, "cuscon.dev/strategy=rollout")
	frontend := c.uids("frontend")
	c.changeFrontendConfig("rolled")
	c.waitLog("Deployment/frontend was restarted (rollout)", 1)
	c.kubectl("rollout", "status", "deployment/frontend", "-n", c.ns, "--timeout=60s")
	c.waitReplaced("frontend", frontend, 3)
	rs := c.kubectl("get", "replicasets", "-n", c.ns, "-l", "app=frontend", "-o", "name")
	assert.Len(t, strings.Fields(rs), 2, "the Deployment rolled to a new ReplicaSet")
	assert.NotEmpty(t, c.kubectl("get", "deployment", "frontend", "-n", c.ns, "-o",
		`jsonpath={.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}`))
	assert.Zero(t, c.logCount("was deleted successfully"), "cuscon deleted no pod")
	c.waitEvent("Deployment", "frontend", "Restarted")
	c.waitEvent("ConfigMap", "frontend-config", "Restarted")
	assert.Contains(t, c.kubectl("describe", "configmap", "frontend-config", "-n", c.ns), "by rolling Deployment/frontend")
}

func TestBurstOfFiveEditsRestartsEachPodAtMostTwice(t *testing.T) {
	c := newCluster(t)
	frontend := c.uids("frontend")
	for i := range 5 {
		c.changeFrontendConfig(fmt.Sprint("burst ", i))
	}
	c.waitReplaced("frontend", frontend, 3)
	c.settle()
	batches := c.logCount("pods matching app=frontend")
	deleted := 0
	for _, line := range strings.Split(c.log(), "\n") {
		if strings.Contains(line, "frontend-") && strings.Contains(line, "was deleted successfully") {
			deleted++
		}
	}
	t.Logf("5 edits: %d restarts of the frontend, %d pod deletions", batches, deleted)
	assert.LessOrEqual(t, batches, 2, "at once, then once more when the debounce window ends")
	assert.LessOrEqual(t, deleted, 6, "each pod restarted at most twice")
}

func TestDryRunChangesNothingButReportsEachAction(t *testing.T) {
	c := newCluster(t, "CUSCON_DRY_RUN=true")
	frontend := c.uids("frontend")
	names := c.pods("frontend")
	c.changeFrontendConfig("not really")
	c.waitLog("Dry run: Restarted 3 of 3 pods matching app=frontend", 1)
	for _, p := range names {
		assert.Equal(t, 1, c.logCount("Dry run: "+p.Name+" would be deleted"), p.Name)
	}
	c.waitEvent("ConfigMap", "frontend-config", "Restarted")
	assert.Equal(t, frontend, c.uids("frontend"), "no pod was deleted")
	assert.Empty(t, c.annotation("frontend-config", "cuscon.dev/applied-hash"), "not even the record was written")
}

func TestSecretChangeRestartsItsPods(t *testing.T) {
	c := newCluster(t, "CUSCON_SECRETS=true")
	c.applyManifests(c.ns, "manifests/components/secrets/rbac.yaml")
	c.waitLog(`Synced secrets in "`+c.ns+`"`, 1)
	c.kubectl("create", "secret", "generic", "db-creds", "-n", c.ns, "--from-literal=password=first-s3cret")
	c.kubectl("annotate", "secret", "db-creds", "-n", c.ns, "magalix.com/podDeleteMatch=app=frontend")
	frontend := c.uids("frontend")
	patch := `{"stringData":{"password":"second-s3cret"}}`
	c.kubectl("patch", "secret", "db-creds", "-n", c.ns, "--type", "merge", "-p", patch)
	c.waitReplaced("frontend", frontend, 3)
	c.waitEvent("Secret", "db-creds", "Restarted")
	for _, secret := range []string{"s3cret", "czNjcmV0"} { // plain and base64
		assert.NotContains(t, c.log(), secret)
	}
}

func TestNamespaceOutsideTheScopeIsUntouched(t *testing.T) {
	inScope, outOfScope := namespaceFor(t)+"-in", namespaceFor(t)+"-out"
	c := newCluster(t, "CUSCON_NAMESPACES={ns},"+inScope)
	for _, ns := range []string{inScope, outOfScope} {
		c.kubectl("create", "namespace", ns)
		c.t.Cleanup(func() { _, _ = suite.plane.Kubectl(c.ctx, "delete", "namespace", ns, "--wait=false") })
		c.eventually("the default ServiceAccount in "+ns, func() bool {
			_, err := suite.plane.Kubectl(c.ctx, "get", "serviceaccount", "default", "-n", ns)
			return err == nil
		})
		// cuscon's ServiceAccount may act in both: only its scope keeps it out of one.
		c.applyManifests(ns, "manifests/base/rbac.yaml")
		c.kubectl("create", "rolebinding", "cuscon-from-test", "-n", ns, "--role=cuscon", "--serviceaccount="+c.ns+":cuscon")
		c.kubectl("apply", "-n", ns, "-f", suite.root+"/manifests/example/configmap.yaml", "-f", suite.root+"/manifests/example/deployment.yaml")
	}
	c.waitLog(`Synced configmaps in "`+inScope+`"`, 1)
	c.waitPodsIn(inScope, "frontend", 3)
	c.waitPodsIn(outOfScope, "frontend", 3)
	before := c.uidsIn(outOfScope, "frontend")
	inBefore := c.uidsIn(inScope, "frontend")
	for _, ns := range []string{outOfScope, inScope} {
		c.kubectl("patch", "configmap", "frontend-config", "-n", ns, "--type", "merge", "-p", `{"data":{"config.cfg":"MSG=\"scoped\"\n"}}`)
	}
	c.eventually("the in-scope frontend to be replaced", func() bool {
		now := c.uidsIn(inScope, "frontend")
		for _, u := range now {
			if contains(inBefore, u) {
				return false
			}
		}
		return len(now) == 3
	})
	assert.Equal(t, before, c.uidsIn(outOfScope, "frontend"))
	assert.NotContains(t, c.log(), outOfScope)
}

func TestClusterManifestsRestartAcrossNamespaces(t *testing.T) {
	c := newCluster(t)
	c.stopCuscon()
	c.stopProxy()
	c.kubectl("apply", "-k", suite.root+"/manifests/cluster")
	token := strings.TrimSpace(c.kubectl("create", "token", "cuscon", "-n", "cuscon-system", "--duration", "1h"))
	kubeconfig := c.dir + "/cluster.kubeconfig"
	require.NoError(t, writeKubeconfig(kubeconfig, token))
	c.startProxy(kubeconfig)
	c.cusconEnv = append(c.cusconEnv, "CUSCON_ALL_NAMESPACES=true")
	c.startCuscon()
	frontend := c.uids("frontend")
	c.changeFrontendConfig("cluster-wide")
	c.waitReplaced("frontend", frontend, 3)
	assert.Contains(t, c.log(), "Synced configmaps in all namespaces")
}
