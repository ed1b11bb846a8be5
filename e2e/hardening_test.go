// hardening_test.go proves on the real plane what issue 10 found missing: a selector that
// requires nothing deletes nothing; a DELETE refused by a ValidatingAdmissionPolicy is
// retried until the policy is lifted; a flapping proxy delays no change; annotated data
// of hundreds of megabytes is not held; and the strategies' rights are opt-in.

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"cuscon/internal/promtext"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectorsThatRequireNothingDeleteNothing(t *testing.T) {
	c := newCluster(t)
	frontend, backend := c.uids("frontend"), c.uids("backend")
	for name, selector := range map[string]string{"not-exists": "!nonexistent", "notin": "app notin (zzz)", "not-equal": "tier!=db"} {
		c.kubectl("create", "configmap", name, "-n", c.ns, "--from-literal=k=v1")
		c.kubectl("annotate", "configmap", name, "-n", c.ns, "magalix.com/podDeleteMatch="+selector)
		c.setData(name, "k", "v2")
		c.waitEvent("ConfigMap", name, "InvalidSelector")
	}
	c.settle()
	assert.Equal(t, frontend, c.uids("frontend"), "other apps' pods untouched")
	assert.Equal(t, backend, c.uids("backend"))
	assert.Contains(t, c.log(), "no requirement a pod must meet")
}

// noDeletePolicy refuses to delete pods labelled locked=true in namespace ns.
func noDeletePolicy(ns string) string {
	return fmt.Sprintf(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: %[1]s-no-delete}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["DELETE"], resources: ["pods"]}
  validations:
    - expression: "!has(oldObject.metadata.labels) || !('locked' in oldObject.metadata.labels)"
      message: locked pods may not be deleted
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: %[1]s-no-delete}
spec:
  policyName: %[1]s-no-delete
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %[1]s}}
`, ns)
}

func TestADeleteRefusedByAdmissionIsRetriedOnceThePolicyIsLifted(t *testing.T) {
	c := newCluster(t)
	pods := c.pods("frontend")
	locked := pods[0].Name
	c.kubectl("label", "pod", locked, "-n", c.ns, "locked=true")
	c.kubectlIn(noDeletePolicy(c.ns), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _ = suite.plane.Kubectl(c.ctx, "delete", "validatingadmissionpolicy,validatingadmissionpolicybinding", c.ns+"-no-delete")
	})
	c.eventually("the policy to refuse a dry-run delete", func() bool {
		_, err := suite.plane.Kubectl(c.ctx, "delete", "pod", locked, "-n", c.ns, "--dry-run=server")
		return err != nil && strings.Contains(err.Error(), "locked pods may not be deleted")
	})
	frontend := c.uids("frontend")
	var baseline string
	c.eventually("the baseline recorded", func() bool {
		baseline = c.annotation("frontend-config", "cuscon.dev/applied-hash")
		return baseline != ""
	})

	c.changeFrontendConfig("refused once")
	c.waitEvent("ConfigMap", "frontend-config", "RestartIncomplete")
	c.eventually("the locked pod recorded as owed", func() bool {
		return strings.Contains(c.annotation("frontend-config", "cuscon.dev/owed"), pods[0].UID)
	})
	assert.Equal(t, 1.0, promtext.Value(c.scrape(suite.health), "cuscon_pods_owed"))
	assert.Equal(t, baseline, c.annotation("frontend-config", "cuscon.dev/applied-hash"), "not recorded as applied yet")
	c.waitLog("Could not delete "+locked, 2) // retried, not given up

	c.kubectl("delete", "validatingadmissionpolicybinding", c.ns+"-no-delete")
	c.waitReplaced("frontend", frontend, 3)
	c.eventually("nothing owed any more", func() bool { return c.annotation("frontend-config", "cuscon.dev/owed") == "" })
	assert.NotEqual(t, baseline, c.annotation("frontend-config", "cuscon.dev/applied-hash"), "now recorded as applied")
	assert.Equal(t, 0.0, promtext.Value(c.scrape(suite.health), "cuscon_pods_owed"))
	assert.Equal(t, 1, c.logCount(locked+" was deleted successfully"))
}

func TestAFlappingProxyDelaysNoChange(t *testing.T) {
	c := newCluster(t)
	kubeconfig := c.dir + "/cuscon.kubeconfig"
	stop := make(chan struct{})
	flapped := make(chan int)
	go func() { // the proxy dies every 1-4 s and stays down up to 3 s
		n := 0
		defer func() { flapped <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second + rand.N(3*time.Second)):
			}
			c.stopProxy()
			n++
			time.Sleep(rand.N(3 * time.Second)) // the proxy is down: the fault itself, not a wait
			c.startProxy(kubeconfig)
		}
	}()
	const changes = 8
	var delays []time.Duration
	for i := range changes {
		old := c.uids("frontend")
		made := time.Now()
		c.changeFrontendConfig(fmt.Sprint("flap ", i))
		c.waitReplaced("frontend", old, 3)
		delays = append(delays, time.Since(made))
		time.Sleep(time.Until(made.Add(4 * time.Second))) // changes 4 s apart, as the issue measured
	}
	close(stop)
	t.Logf("proxy stopped %d times; %d changes applied, delays %v", <-flapped, changes, delays)
	assert.Equal(t, changes, c.logCount("Modification detected"), "each change applied once")
	// A DELETE can reach the API server while the proxy dies before answering: cuscon
	// then counts the pod as owed and finds it gone on the retry. Never more than
	// the three pods of each change are deleted.
	assert.LessOrEqual(t, c.logCount("was deleted successfully"), 3*changes, "no pod deleted twice for one change")
}

func TestLargeAnnotatedConfigMapsAreNotHeldInMemory(t *testing.T) {
	c := newCluster(t)
	c.stopCuscon()
	blob := strings.Repeat("x", 900_000)
	var yaml strings.Builder
	for i := range 60 {
		fmt.Fprintf(&yaml, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-%d\n  annotations: {magalix.com/podDeleteMatch: app=big-%d}\ndata:\n  blob: %s\n", i, i, blob)
	}
	c.kubectlIn(yaml.String(), "apply", "--server-side", "-n", c.ns, "-f", "-")
	c.startCuscon()
	frontend := c.uids("frontend")
	c.kubectl("annotate", "configmap", "big-7", "-n", c.ns, "--overwrite", "magalix.com/podDeleteMatch=app=frontend")
	c.kubectlIn(fmt.Sprintf(`{"data":{"blob":"%s"}}`, strings.Repeat("y", 900_000)), "patch", "configmap", "big-7", "-n", c.ns, "--type=merge", "--patch-file=/dev/stdin")
	c.waitReplaced("frontend", frontend, 3)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cuscon.Pid()))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM") || strings.HasPrefix(line, "VmRSS") {
			t.Logf("cuscon with 60 annotated ConfigMaps of 900 KB (54 MB): %s", strings.Join(strings.Fields(line), " "))
		}
	}
}

func TestStrategyRightsAreOptInAndTheLeaseIsNamed(t *testing.T) {
	c := newCluster(t)
	can := func(verb, resource string) string {
		args := []string{"auth", "can-i", verb, resource, "-n", c.ns, "--as=system:serviceaccount:" + c.ns + ":cuscon"}
		if r, sub, ok := strings.Cut(resource, "/"); ok && r == "pods" {
			args[3] = r
			args = append(args, "--subresource="+sub)
		}
		out, _ := suite.plane.Kubectl(c.ctx, args...)
		return strings.TrimSpace(out)
	}
	assert.Equal(t, "yes", can("delete", "pods"), "the default strategy's right")
	assert.Equal(t, "no", can("create", "pods/eviction"), "evict is opt-in")
	assert.Equal(t, "no", can("patch", "deployments"), "rollout is opt-in")
	assert.Equal(t, "no", can("list", "secrets"), "secrets are opt-in")
	for _, f := range []string{"manifests/components/evict/rbac.yaml", "manifests/components/rollout/rbac.yaml", "manifests/ha/lease-rbac.yaml"} {
		c.applyManifests(c.ns, f)
	}
	for _, right := range [][2]string{{"create", "pods/eviction"}, {"patch", "deployments"}, {"update", "leases/cuscon"}} {
		c.eventually(right[0]+" "+right[1]+" granted by its component", func() bool { return can(right[0], right[1]) == "yes" })
	}
	assert.Equal(t, "no", can("update", "leases/kube-controller-manager"), "only the Lease cuscon elects with")
	assert.Equal(t, "yes", can("create", "leases"), "create cannot be limited to a name")
}
