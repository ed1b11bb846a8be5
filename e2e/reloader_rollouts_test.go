// reloader_rollouts_test.go: the Reloader mode on the real control plane restarts Argo
// Rollouts (their CRD installed, no Argo controller) as stakater/Reloader does.
package e2e

import (
	"context"
	"strings"
	"testing"

	"cuscon/internal/plane"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rolloutCRD is enough of Argo Rollouts' CRD for the API server to serve Rollouts (no
// Argo controller runs: the test reads what cuscon writes).
const rolloutCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: rollouts.argoproj.io}
spec:
  group: argoproj.io
  names: {kind: Rollout, listKind: RolloutList, plural: rollouts, singular: rollout}
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
      subresources: {status: {}}
`

const rolloutsYAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: canary-config}
data: {a: "1"}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers: [{name: main, image: main:1, envFrom: [{configMapRef: {name: canary-config}}]}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: restarter, annotations: {reloader.stakater.com/auto: "true", reloader.stakater.com/rollout-strategy: restart}}
spec:
  replicas: 1
  selector: {matchLabels: {app: restarter}}
  template:
    metadata: {labels: {app: restarter}}
    spec:
      containers: [{name: main, image: main:1, envFrom: [{configMapRef: {name: canary-config}}]}]
`

func TestArgoRolloutsAreRestartedAsReloaderDoes(t *testing.T) {
	ctx := context.Background()
	_, err := suite.plane.KubectlIn(ctx, strings.NewReader(rolloutCRD), "apply", "-f", "-")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = suite.plane.Kubectl(ctx, "delete", "crd", "rollouts.argoproj.io", "--wait=false") })
	require.NoError(t, plane.Eventually(ctx, waitTimeout, "the Rollout CRD established", func() (bool, error) {
		out, err := suite.plane.Kubectl(ctx, "get", "crd", "rollouts.argoproj.io", "-o", `jsonpath={.status.conditions[?(@.type=="Established")].status}`)
		return err == nil && out == "True", nil
	}))
	c := newModeCluster(t, "", nil, "CUSCON_IS_ARGO_ROLLOUTS=true")
	c.kubectl("create", "role", "cuscon-rollouts", "-n", c.ns, "--verb=get,list,patch", "--resource=rollouts.argoproj.io")
	c.kubectl("create", "rolebinding", "cuscon-rollouts", "-n", c.ns, "--role=cuscon-rollouts", "--serviceaccount="+c.ns+":cuscon")
	c.kubectlIn(rolloutsYAML, "apply", "-n", c.ns, "-f", "-")
	c.stopCuscon() // swept again with the Rollouts there and the right to list them
	c.startCuscon()
	c.eventually("the Rollouts' baselines", func() bool { return c.applied("rollout", "canary") != "" && c.applied("rollout", "restarter") != "" })

	c.setData("canary-config", "a", "2")
	c.eventually("canary marked", func() bool {
		return c.envOf("rollout", "canary", "main")["STAKATER_CANARY_CONFIG_CONFIGMAP"] == reloaderHash(map[string]string{"a": "2"})
	})
	c.eventually("restarter's restartAt set", func() bool {
		return c.kubectl("get", "rollout", "restarter", "-n", c.ns, "-o", "jsonpath={.spec.restartAt}") != ""
	})
	assert.Empty(t, c.envOf("rollout", "restarter", "main"), "rollout-strategy restart writes restartAt, no marker")
	assert.NotContains(t, c.log(), "level=ERROR")
}
