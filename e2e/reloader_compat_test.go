// reloader_compat_test.go: the Reloader mode restarts as stakater/Reloader does, on the
// real control plane: its markers (env-vars, annotations) on the pod template, a paused
// Deployment marked and rolled once resumed (CronJobs and Jobs: reloader_jobs_test.go;
// Argo Rollouts: reloader_rollouts_test.go).
package e2e

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newModeCluster is newReloaderCluster with the Roles of rbac granted too, and env.
func newModeCluster(t *testing.T, yaml string, rbac []string, env ...string) *reloaderCluster {
	c := newCluster(t, append([]string{"CUSCON_RELOADER_ANNOTATIONS=true"}, env...)...)
	c.applyManifests(c.ns, append([]string{"manifests/components/reloader/rbac.yaml"}, rbac...)...)
	c.kubectlIn(reloaderYAML+"---\n"+yaml, "apply", "-n", c.ns, "-f", "-")
	c.waitPods("app", 2)
	c.waitPods("rsentinel", 1)
	c.stopCuscon() // start again with the workloads in place and the rights granted
	c.startCuscon()
	c.waitLog("Checked workloads", 1)
	return &reloaderCluster{cluster: c}
}

// reloaderHash is Reloader's hash of content: SHA-1 of the sorted key=value strings,
// joined with ";" (computed here as Reloader's source describes it, not with cuscon's).
func reloaderHash(data map[string]string) string {
	var parts []string
	for k, v := range data {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	h := sha1.Sum([]byte(strings.Join(parts, ";")))
	return hex.EncodeToString(h[:])
}

// envOf is the variables of a container of a workload's pod template, by name.
func (c *reloaderCluster) envOf(kind, name, container string) map[string]string {
	c.t.Helper()
	out := c.kubectl("get", kind, name, "-n", c.ns, "-o", `jsonpath={.spec.template.spec.containers[?(@.name=="`+container+`")].env}`)
	var env []struct{ Name, Value string }
	if out != "" {
		require.NoError(c.t, json.Unmarshal([]byte(out), &env), out)
	}
	m := map[string]string{}
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return m
}

const markersYAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {a: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: side, image: side:1}
        - name: app
          image: web:1
          envFrom: [{configMapRef: {name: web-config}}]
          env:
            - {name: USER_VAR, value: kept}
            - {name: STAKATER_GONE_CONFIGMAP, value: stale}
            - {name: PW, valueFrom: {secretKeyRef: {name: db, key: password}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow, annotations: {reloader.stakater.com/auto: "true", deployment.reloader.stakater.com/pause-period: 5s}}
spec:
  replicas: 1
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec:
      containers: [{name: app, image: slow:1, envFrom: [{configMapRef: {name: web-config}}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: held, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: held}}
  template:
    metadata: {labels: {app: held}}
    spec:
      containers: [{name: app, image: held:1, envFrom: [{configMapRef: {name: web-config}}]}]
`

func TestReloadersMarkersAndAPausedDeployment(t *testing.T) {
	c := newModeCluster(t, markersYAML, []string{"manifests/components/secrets/rbac.yaml"}, "CUSCON_SECRETS=true", "CUSCON_RELOAD_STRATEGY=env-vars")
	c.waitPods("web", 1)
	c.waitPods("held", 1)
	c.waitPods("slow", 1)
	c.kubectl("rollout", "pause", "deployment/held", "-n", c.ns)
	c.rsettle()
	errors := c.logCount("level=ERROR") // before its rights were granted
	web, held, slow := c.uids("web"), c.uids("held"), c.uids("slow")

	// env-vars, Reloader's default: the variable in the container that uses the object.
	c.setData("web-config", "a", "2")
	c.waitReplaced("web", web, 1)
	env := c.envOf("deployment", "web", "app")
	assert.Equal(t, reloaderHash(map[string]string{"a": "2"}), env["STAKATER_WEB_CONFIG_CONFIGMAP"], "Reloader's name and hash")
	assert.Equal(t, "kept", env["USER_VAR"], "the user's variables kept")
	assert.NotContains(t, env, "STAKATER_GONE_CONFIGMAP", "a variable of an object no longer used removed (Reloader's #1123)")
	assert.Empty(t, c.envOf("deployment", "web", "side"), "a container that does not use it untouched")
	assert.Contains(t, c.log(), "Changes detected in 'web-config' of type 'CONFIGMAP' in namespace '"+c.ns+"'; updated 'web' of type 'Deployment'")

	// A pause-period pauses the Deployment as it is marked; cuscon stopped meanwhile, the
	// one that starts resumes it when the period is over (Reloader's timer dies with it).
	c.eventually("slow paused, marked paused-at", func() bool {
		return c.kubectl("get", "deployment", "slow", "-n", c.ns, "-o", `jsonpath={.metadata.annotations.deployment\.reloader\.stakater\.com/paused-at}`) != ""
	})
	assert.Equal(t, slow, c.uids("slow"), "paused: not rolled yet")
	assert.Equal(t, "true", c.kubectl("get", "deployment", "slow", "-n", c.ns, "-o", "jsonpath={.spec.paused}"))
	c.stopCuscon()
	c.startCuscon()
	c.waitReplaced("slow", slow, 1)
	c.waitLog("Deployment/slow resumed: its pause-period is over", 1)
	assert.Empty(t, c.kubectl("get", "deployment", "slow", "-n", c.ns, "-o", `jsonpath={.metadata.annotations.deployment\.reloader\.stakater\.com/paused-at}`))

	// A paused Deployment is marked; its pods are replaced once it is resumed.
	c.eventually("held marked", func() bool { return c.envOf("deployment", "held", "app")["STAKATER_WEB_CONFIG_CONFIGMAP"] != "" })
	c.rsettle()
	assert.Equal(t, held, c.uids("held"), "paused: not rolled yet")
	assert.Contains(t, c.log(), "it is paused: its pods are replaced once it is resumed")
	c.kubectl("rollout", "resume", "deployment/held", "-n", c.ns)
	c.waitReplaced("held", held, 1)

	// A Secret's hash is keyed: not SHA-1 of its content, which a reader of the
	// Deployment could test guesses against.
	web = c.uids("web")
	c.kubectl("patch", "secret", "db", "-n", c.ns, "--type", "merge", "-p", `{"stringData":{"password":"sunshine1"}}`)
	c.waitReplaced("web", web, 1)
	env = c.envOf("deployment", "web", "app")
	assert.Len(t, env["STAKATER_DB_SECRET"], 40)
	assert.NotEqual(t, reloaderHash(map[string]string{"password": "sunshine1"}), env["STAKATER_DB_SECRET"])
	assert.Equal(t, reloaderHash(map[string]string{"a": "2"}), env["STAKATER_WEB_CONFIG_CONFIGMAP"], "the marker of an object still used kept")

	// annotations: last-reloaded-from with Reloader's fields.
	c.stopCuscon()
	c.cusconEnv = append(c.cusconEnv, "CUSCON_RELOAD_STRATEGY=annotations")
	c.startCuscon()
	web = c.uids("web")
	changed := time.Now()
	c.setData("web-config", "a", "3")
	c.waitReplaced("web", web, 1)
	raw := c.kubectl("get", "deployment", "web", "-n", c.ns, "-o", `jsonpath={.spec.template.metadata.annotations.reloader\.stakater\.com/last-reloaded-from}`)
	var from struct {
		Type, Name, Namespace, Hash string
		ContainerRefs               []string
		ObservedAt                  int64
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &from), raw)
	assert.Equal(t, "CONFIGMAP", from.Type)
	assert.Equal(t, "web-config", from.Name)
	assert.Equal(t, c.ns, from.Namespace)
	assert.Equal(t, reloaderHash(map[string]string{"a": "3"}), from.Hash)
	assert.Equal(t, []string{"app"}, from.ContainerRefs)
	assert.InDelta(t, changed.Unix(), from.ObservedAt, 30)
	assert.Equal(t, errors, c.logCount("level=ERROR"))
}
