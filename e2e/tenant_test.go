// tenant_test.go proves on the real plane what a tenant who may edit ConfigMaps and
// workloads' metadata in one namespace cannot do (issue 22): have cuscon restart itself
// or its replicas, stall other namespaces with a Reloader annotation, or grow cuscon's
// memory without bound with keys.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cusconYAML is a stand-in for cuscon's own Deployment in the test's namespace: two
// replicas labelled app=cuscon, as the HA manifests run them (kwok runs the pods; the
// cuscon under test is told it is the first of them).
const cusconYAML = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: cuscon}
spec:
  replicas: 2
  selector: {matchLabels: {app: cuscon}}
  template:
    metadata: {labels: {app: cuscon}}
    spec: {containers: [{name: app, image: cuscon:1}]}
`

func TestATenantCannotMakeCusconRestartItselfOrItsReplicas(t *testing.T) {
	c := newCluster(t)
	c.applyManifests(c.ns, "manifests/components/rollout/rbac.yaml") // the rights the attack needed
	c.kubectlIn(cusconYAML, "apply", "-n", c.ns, "-f", "-")
	c.waitPods("cuscon", 2)
	replicas := c.uids("cuscon")
	me := c.pods("cuscon")[0].Name
	c.stopCuscon()
	c.cusconEnv = append(c.cusconEnv, "POD_NAME="+me, "POD_NAMESPACE="+c.ns)
	c.startCuscon()

	// A tenant's ConfigMap names cuscon's pods and asks for a rollout of their workload.
	c.kubectl("create", "configmap", "evil", "-n", c.ns, "--from-literal=k=v1")
	c.kubectl("annotate", "configmap", "evil", "-n", c.ns, "magalix.com/podDeleteMatch=app=cuscon", "cuscon.dev/strategy=rollout")
	c.setData("evil", "k", "v2")
	c.waitEvent("ConfigMap", "evil", "InvalidStrategy") // the operator chose delete; objects may not choose rollout
	c.settle()
	assert.Equal(t, replicas, c.uids("cuscon"))

	// With the annotation's own strategy (delete), and with rollout as the operator's
	// choice: cuscon's own pod and its replica are skipped, its Deployment never rolled.
	c.kubectl("annotate", "configmap", "evil", "-n", c.ns, "cuscon.dev/strategy-") // the refused change is tried again, by delete
	c.waitLog("Restarted 0 of 2 pods matching app=cuscon", 1)
	for i, strategy := range []string{"delete", "rollout"} {
		c.stopCuscon()
		c.cusconEnv = append(c.cusconEnv, "CUSCON_STRATEGY="+strategy)
		c.startCuscon()
		c.setData("evil", "k", fmt.Sprint("v", 3+i))
		c.waitLog("Restarted 0 of 2 pods matching app=cuscon", i+2)
	}
	assert.Equal(t, 3, c.logCount("it is a replica of cuscon itself (Deployment/cuscon)"))
	assert.Equal(t, 3, c.logCount("Skipping "+me+": it is cuscon's own pod"))
	c.settle()
	assert.Equal(t, replicas, c.uids("cuscon"), "neither replica replaced")
	stamp := c.kubectl("get", "deployment", "cuscon", "-n", c.ns, "-o", `jsonpath={.spec.template.metadata.annotations}`)
	assert.NotContains(t, stamp, "restartedAt", "cuscon's Deployment never rolled")
}

// hugeReloadList is the attack the review reproduced: 83,000 patterns (249 KB) in a
// reload annotation.
var hugeReloadList = strings.TrimSuffix(strings.Repeat("a*,", 83_000), ",")

func TestAHugeReloadListIsRefusedAndStallsNoOtherNamespace(t *testing.T) {
	other := "{ns}-other"
	c := newCluster(t, "CUSCON_RELOADER_ANNOTATIONS=true", "CUSCON_RELOAD_STRATEGY=rollout", "CUSCON_NAMESPACES={ns},"+other)
	victim := c.ns + "-other"
	c.kubectl("create", "namespace", victim)
	t.Cleanup(func() {
		if !t.Failed() {
			_, _ = suite.plane.Kubectl(c.ctx, "delete", "namespace", victim, "--wait=false")
		}
	})
	c.applyManifests(c.ns, "manifests/components/reloader/rbac.yaml")
	c.eventually("the default ServiceAccount in "+victim, func() bool {
		_, err := suite.plane.Kubectl(c.ctx, "get", "serviceaccount", "default", "-n", victim)
		return err == nil
	})
	c.applyManifests(victim, "manifests/base/rbac.yaml")
	c.applyManifests(victim, "manifests/components/reloader/rbac.yaml")
	for _, role := range []string{"cuscon", "cuscon-reloader"} {
		c.kubectl("create", "rolebinding", role+"-from-test", "-n", victim, "--role="+role, "--serviceaccount="+c.ns+":cuscon")
	}
	c.kubectlIn(reloaderYAML, "apply", "-n", victim, "-f", "-")
	c.waitPodsIn(victim, "app", 2)
	// Five Deployments of the tenant carry the 249 KB list (create, not apply: apply
	// would copy it into another annotation and exceed the bound on annotations).
	for i := range 5 {
		c.kubectlIn(fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"hog-%d","annotations":{"configmap.reloader.stakater.com/reload":%q}},
"spec":{"replicas":0,"selector":{"matchLabels":{"app":"hog-%d"}},"template":{"metadata":{"labels":{"app":"hog-%d"}},"spec":{"containers":[{"name":"a","image":"a:1"}]}}}}`,
			i, hugeReloadList, i, i), "create", "-n", c.ns, "-f", "-")
	}
	c.stopCuscon()
	c.startCuscon()
	c.waitLog("Checked workloads namespace="+victim, 1)
	c.waitLog("Checked workloads namespace="+c.ns, 1)
	c.waitEvent("Deployment", "hog-0", "InvalidAnnotation")
	assert.Contains(t, c.log(), "Deployment/hog-0: configmap.reloader.stakater.com/reload: 248999 bytes, over the bound of 4096; refused")

	// The tenant keeps its namespace busy while the victim's ConfigMap changes.
	for i := range 3 {
		c.setData("frontend-config", "n", fmt.Sprint(i))
	}
	began := time.Now()
	_, err := suite.plane.Kubectl(c.ctx, "patch", "configmap", "app-config", "-n", victim, "--type=merge", "-p", `{"data":{"log.level":"debug"}}`)
	require.NoError(t, err)
	c.eventually("the victim's Deployment rolled", func() bool {
		return strings.Contains(c.log(), "Deployment/app was restarted (rollout)")
	})
	reaction := time.Since(began)
	checks := checkSeconds(c.log(), c.ns)
	t.Logf("the other namespace's roll: %s after its change; checks of the tenant's namespace: %v s", reaction.Round(time.Millisecond), checks)
	assert.Less(t, reaction, 3*time.Second, "the review measured 30-36 s")
	for _, s := range checks {
		assert.Less(t, s, 0.5, "a check of the tenant's namespace takes milliseconds (the review measured 13-19 s)")
	}
}

// checkSeconds lists the seconds= of each "Checked workloads" line of namespace ns.
func checkSeconds(log, ns string) []float64 {
	var out []float64
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "Checked workloads namespace="+ns+" ") {
			continue
		}
		_, v, _ := strings.Cut(line, " seconds=")
		if f, err := strconv.ParseFloat(strings.Fields(v + " ")[0], 64); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func TestManyKeysDoNotGrowCusconsMemoryPastItsLimit(t *testing.T) {
	c := newReloaderCluster(t, "", "GOMEMLIMIT=54MiB") // as the manifests set it
	// ConfigMaps of 120,000 empty 4-character keys (1.44 MB each), one of them used by
	// key: the review saw 132 MB at peak with 20 of them. The apiserver takes 15-20 s to
	// store each (their managed fields), so CI makes 2; CUSCON_MEASURE=1 makes the 20.
	objects := 2
	if os.Getenv("CUSCON_MEASURE") == "1" {
		objects = 20
	}
	keys := make([]string, 120_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%04s", strconv.FormatInt(int64(i), 36))
	}
	for n := range objects {
		var b strings.Builder
		fmt.Fprintf(&b, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keys-%d"},"data":{`, n)
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q:\"\"", k)
		}
		b.WriteString("}}")
		c.eventually("keys-"+fmt.Sprint(n)+" created", func() bool {
			// 120,000 keys take the apiserver seconds (their managed fields): on a busy
			// machine it may time out, and then it created nothing
			_, err := suite.plane.KubectlIn(c.ctx, strings.NewReader(b.String()), "create", "-n", c.ns, "-f", "-")
			return err == nil || strings.Contains(err.Error(), "AlreadyExists")
		})
	}
	c.kubectlIn(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"keyed","annotations":{"reloader.stakater.com/auto":"true"}},
"spec":{"replicas":0,"selector":{"matchLabels":{"app":"keyed"}},"template":{"metadata":{"labels":{"app":"keyed"}},
"spec":{"containers":[{"name":"a","image":"a:1","env":[{"name":"K","valueFrom":{"configMapKeyRef":{"name":"keys-0","key":"0001"}}}]}]}}}}`,
		"create", "-n", c.ns, "-f", "-")
	checks := c.logCount("Checked workloads")
	c.stopCuscon()
	c.startCuscon() // lists them all
	c.waitLog("Checked workloads", checks+1)
	for n := range objects { // and sees each change again
		c.kubectl("patch", "configmap", fmt.Sprint("keys-", n), "-n", c.ns, "--type=merge", "-p", `{"data":{"0002":"x"}}`)
	}
	c.waitLog("Deployment/keyed was restarted (rollout)", 1) // keys-0 has too many keys: any change counts
	c.rsettle()
	hwm, rss := procStatus(t, c.cuscon.Pid(), "VmHWM"), procStatus(t, c.cuscon.Pid(), "VmRSS")
	t.Logf("with %d ConfigMaps of 120,000 keys: peak RSS %d KiB, now %d KiB", objects, hwm, rss)
	assert.Less(t, hwm, 60<<10, "under the manifests' 64 MiB limit, with room (the review saw 132 MB)")
}

// procStatus reads one field of /proc/PID/status, in KiB.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// costlyList is a reload list within bounds of bytes and entries whose patterns would
// compile to a large program (bounded repetitions), different for each seed.
func costlyList(seed int) string {
	var entries []string
	for i := range 10 {
		entries = append(entries, fmt.Sprintf(`(?:.?){99%d}%d`, i, seed*100+i))
	}
	return strings.Join(entries, ",")
}

func TestListsThatCompileLargeAreRefusedAndCostNoMemory(t *testing.T) {
	// The review's second attack: lists within 4 KiB and 100 entries that compile to
	// programs of 150,000 instructions, six of them a workload: 7.8 s a check and 97 MB.
	c := newReloaderCluster(t, "", "GOMEMLIMIT=54MiB")
	for i := range 10 {
		c.kubectl("create", "configmap", fmt.Sprintf("filler-%053d", i), "-n", c.ns, "--from-literal=k=v")
	}
	keys := []string{"configmap.reloader.stakater.com/reload", "configmaps.exclude.reloader.stakater.com/reload",
		"secret.reloader.stakater.com/reload", "secrets.exclude.reloader.stakater.com/reload"}
	for d := range 2 {
		annotations := map[string]string{}
		for i, k := range keys {
			annotations[k] = costlyList(d*10 + i)
		}
		b, err := json.Marshal(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": fmt.Sprint("hog-", d), "annotations": annotations},
			"spec": map[string]any{"replicas": 0, "selector": map[string]any{"matchLabels": map[string]string{"app": fmt.Sprint("hog-", d)}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"app": fmt.Sprint("hog-", d)}},
					"spec": map[string]any{"containers": []any{map[string]string{"name": "a", "image": "a:1"}}}}}})
		require.NoError(t, err)
		c.kubectlIn(string(b), "create", "-n", c.ns, "-f", "-")
	}
	checks := c.logCount("Checked workloads namespace=" + c.ns)
	c.stopCuscon()
	c.startCuscon()
	c.waitLog("Checked workloads namespace="+c.ns, checks+1)
	c.waitEvent("Deployment", "hog-0", "InvalidAnnotation")
	began := time.Now()
	c.setData("app-config", "log.level", "debug")
	c.eventually("app rolled", func() bool { return strings.Contains(c.log(), "Deployment/app was restarted (rollout)") })
	reaction := time.Since(began)
	hwm := procStatus(t, c.cuscon.Pid(), "VmHWM")
	seconds := checkSeconds(c.log(), c.ns)
	t.Logf("checks of the namespace: %v s; app rolled %s after its change; peak RSS %d KiB", seconds, reaction.Round(time.Millisecond), hwm)
	assert.Contains(t, c.log(), "instructions, over the bound of 1000; refused")
	for _, s := range seconds {
		assert.Less(t, s, 0.5, "a check takes milliseconds (the review measured 5.9-7.8 s)")
	}
	assert.Less(t, reaction, 3*time.Second)
	assert.Less(t, hwm, 48<<10, "the review measured 97 MB")
}
