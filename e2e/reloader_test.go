// reloader_test.go: the Reloader mode (--reloader-annotations) on the real control
// plane: workloads opted in with stakater/Reloader's annotations are rolled when, and
// only when, something they use changed, once, across cuscon's restarts.
package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// reloaderYAML is a Deployment reading one key of app-config (auto), and the sentinel
// the mode's settle rolls.
const reloaderYAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {log.level: info, other: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unused}
data: {k: v1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: rsentinel}
data: {n: "0"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          image: app:1
          env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: app-config, key: log.level}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: rsentinel}
spec:
  replicas: 1
  selector: {matchLabels: {app: rsentinel}}
  template:
    metadata: {labels: {app: rsentinel}, annotations: {configmap.reloader.stakater.com/reload: rsentinel}}
    spec: {containers: [{name: app, image: sentinel:1}]}
`

// newReloaderCluster is newCluster with the mode on, its Role, and yaml applied; it
// waits until cuscon has swept the workloads and recorded their baselines.
func newReloaderCluster(t *testing.T, yaml string, extraEnv ...string) *reloaderCluster {
	c := newCluster(t, append([]string{"CUSCON_RELOADER_ANNOTATIONS=true", "CUSCON_RELOAD_STRATEGY=rollout"}, extraEnv...)...)
	c.applyManifests(c.ns, "manifests/components/reloader/rbac.yaml")
	c.kubectlIn(reloaderYAML+"---\n"+yaml, "apply", "-n", c.ns, "-f", "-")
	c.waitPods("app", 2)
	c.waitPods("rsentinel", 1)
	c.stopCuscon() // start again with the workloads in place and the rights granted
	c.startCuscon()
	c.waitLog("Checked workloads", 1)
	return &reloaderCluster{cluster: c}
}

type reloaderCluster struct {
	*cluster
	rsentinel int
}

// rsettle proves the mode has handled every change made before it: it changes the
// sentinel ConfigMap and waits for its Deployment's roll, which comes after theirs.
func (c *reloaderCluster) rsettle() {
	c.t.Helper()
	c.rsentinel++
	before := c.logCount("Deployment/rsentinel was restarted") // counted after the change, the roll may be in it
	c.setData("rsentinel", "n", fmt.Sprint(c.rsentinel))
	c.waitLog("Deployment/rsentinel was restarted", before+1)
}

// restartedAt is the rollout stamp on a workload's pod template ("" if never rolled).
func (c *reloaderCluster) restartedAt(kind, name string) string {
	return c.kubectl("get", kind, name, "-n", c.ns, "-o", `jsonpath={.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}`)
}

func (c *reloaderCluster) applied(kind, name string) string {
	return c.kubectl("get", kind, name, "-n", c.ns, "-o", `jsonpath={.metadata.annotations.cuscon\.dev/applied-configs}`)
}

func TestReloaderAutoRollsOnlyForTheKeyItUsesOnceAcrossRestarts(t *testing.T) {
	c := newReloaderCluster(t, "")
	c.eventually("the baseline recorded on the Deployment", func() bool { return c.applied("deployment", "app") != "" })
	baseline := c.applied("deployment", "app")
	assert.Contains(t, baseline, `"configmap/app-config":{"log.level":`, "one key, not the object")
	pods := c.uids("app")

	c.setData("app-config", "other", "2") // a key app does not use
	c.setData("unused", "k", "v2")        // a ConfigMap nobody uses
	c.rsettle()
	assert.Empty(t, c.restartedAt("deployment", "app"), "nothing app uses changed")
	assert.Equal(t, pods, c.uids("app"))

	c.setData("app-config", "log.level", "debug")
	c.waitLog("Deployment/app was restarted (rollout)", 1)
	c.kubectl("rollout", "status", "deployment/app", "-n", c.ns, "--timeout=60s")
	c.waitReplaced("app", pods, 2)
	assert.NotEqual(t, baseline, c.applied("deployment", "app"), "the new view recorded")
	assert.Contains(t, c.log(), `reason="configmap/app-config key log.level (env LEVEL in \"app\") changed"`)
	c.waitEvent("Deployment", "app", "Restarted")

	for range 2 { // restarted with no change: nothing
		c.stopCuscon()
		c.startCuscon()
	}
	c.rsettle()
	assert.Equal(t, 1, c.logCount("Deployment/app was restarted (rollout)"))

	c.stopCuscon() // a change made while cuscon is down: applied once when it is back
	c.setData("app-config", "log.level", "warn")
	c.startCuscon()
	c.waitLog("Deployment/app was restarted (rollout)", 2)
	c.rsettle()
	assert.Equal(t, 2, c.logCount("Deployment/app was restarted (rollout)"))
	assert.False(t, strings.Contains(c.log(), "level=ERROR"), "no errors")
}
