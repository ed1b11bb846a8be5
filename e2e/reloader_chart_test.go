// reloader_chart_test.go: cuscon started as stakater/Reloader's chart starts Reloader
// (its arguments and environment, image swapped) on the real control plane: every
// namespace watched, Reloader's namespace filters, alerts, reload-on-create and
// reload-on-delete under a resource label selector, /live, and a leader change through
// Reloader's Lease.
package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cuscon/internal/plane"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clusterReloaderRBAC is what a cluster-wide install needs beyond manifests/cluster and
// its cluster-reloader component: Secrets, and the namespaces --namespace-selector
// reads, in every namespace; Leases in cuscon-system for --enable-ha.
const clusterReloaderRBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cuscon-reloader-e2e}
rules:
  - {apiGroups: [""], resources: [secrets], verbs: [list, watch, patch]}
  - {apiGroups: [""], resources: [namespaces], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: cuscon-reloader-e2e}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cuscon-reloader-e2e}
subjects: [{kind: ServiceAccount, name: cuscon, namespace: cuscon-system}]
`

// chartApp is a ConfigMap cfg (labelled reload=true) and a Deployment app that uses it
// (auto), for each namespace.
const chartApp = `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {reload: "true"}}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec: {containers: [{name: app, image: app:1, envFrom: [{configMapRef: {name: cfg}}]}]}
`

// marker is a workload's last-reloaded-from ("" if never reloaded).
func (c *cluster) marker(ns, kind, name string) string {
	return c.kubectl("get", kind, name, "-n", ns, "-o", `jsonpath={.spec.template.metadata.annotations.reloader\.stakater\.com/last-reloaded-from}`)
}

func TestStartedAsReloadersChartStartsIt(t *testing.T) {
	c := newCluster(t)
	c.stopCuscon()
	c.stopProxy()
	c.kubectl("apply", "-k", suite.root+"/manifests/cluster")
	c.applyManifests("cuscon-system", "manifests/components/cluster-reloader/rbac.yaml", "manifests/components/secrets/rbac.yaml")
	c.kubectl("create", "role", "reloader-lease", "-n", "cuscon-system", "--verb=get,create,update", "--resource=leases.coordination.k8s.io")
	c.kubectl("create", "rolebinding", "reloader-lease", "-n", "cuscon-system", "--role=reloader-lease", "--serviceaccount=cuscon-system:cuscon")
	t.Cleanup(func() {
		_, _ = suite.plane.Kubectl(c.ctx, "delete", "role,rolebinding", "reloader-lease", "-n", "cuscon-system")
	})
	c.kubectlIn(clusterReloaderRBAC, "apply", "-f", "-")
	token := strings.TrimSpace(c.kubectl("create", "token", "cuscon", "-n", "cuscon-system", "--duration", "1h"))
	kubeconfig := c.dir + "/cluster.kubeconfig"
	require.NoError(t, writeKubeconfig(kubeconfig, token))
	c.startProxy(kubeconfig)

	other, ignored := c.ns+"-b", c.ns+"-c"
	for _, ns := range []string{other, ignored} {
		c.kubectl("create", "namespace", ns)
		t.Cleanup(func() { _, _ = suite.plane.Kubectl(c.ctx, "delete", "namespace", ns, "--wait=false") })
	}
	c.kubectl("label", "namespace", c.ns, "env=test")
	c.kubectl("label", "namespace", ignored, "env=test")
	for _, ns := range []string{c.ns, other, ignored} {
		c.kubectlIn(chartApp, "apply", "-n", ns, "-f", "-")
		c.waitPodsIn(ns, "app", 1)
	}

	alerts := make(chan string, 16)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		alerts <- r.Header.Get("Content-Type") + " " + string(b)
	}))
	t.Cleanup(sink.Close)

	// Reloader's chart: its arguments for these values, its environment, and only the
	// address of this plane's API and of a free port on top.
	chart := []string{"RELOADER_NAMESPACE=cuscon-system", "RELOADER_DEPLOYMENT_NAME=reloader-x-reloader",
		"ALERT_ON_RELOAD=true", "ALERT_SINK=slack", "ALERT_WEBHOOK_URL=" + sink.URL,
		"CUSCON_API_URL=" + suite.proxyURL, "CUSCON_LISTEN_ADDRESS=" + strings.TrimPrefix(suite.health, "http://")}
	c.cusconEnv = chart
	c.cusconArgs = []string{"--log-level=info", `--namespace-selector="env=test"`, "--namespaces-to-ignore=" + ignored, "--reload-strategy=annotations"}
	c.startCuscon()
	c.waitLog("sweep=true", 1)
	assert.Contains(t, c.log(), "Synced configmaps in all namespaces", "every namespace, as Reloader without KUBERNETES_NAMESPACE")
	assert.Contains(t, c.log(), "Synced secrets in all namespaces")
	live, err := http.Get(suite.health + "/live")
	require.NoError(t, err)
	live.Body.Close()
	assert.Equal(t, http.StatusOK, live.StatusCode, "Reloader's liveness probe")

	for _, ns := range []string{other, ignored, c.ns} {
		c.kubectl("patch", "configmap", "cfg", "-n", ns, "--type", "merge", "-p", `{"data":{"a":"2"}}`)
	}
	c.eventually("app in the selected namespace reloaded", func() bool { return c.marker(c.ns, "deployment", "app") != "" })
	select {
	case got := <-alerts:
		assert.Equal(t, `application/json {"attachments":[{"author_name":"Reloader","color":"good","text":"Reloader detected changes in *cfg* of type *CONFIGMAP* in namespace *`+
			c.ns+`*. Hence reloaded *app* of type *Deployment* in namespace *`+c.ns+`*"}]}`, got)
	case <-time.After(waitTimeout):
		t.Fatal("no alert")
	}
	// The unselected namespace becomes selected: swept, its baseline recorded (the change
	// made while it was out of scope restarts nothing: nothing was recorded to compare).
	c.kubectl("label", "namespace", other, "env=test")
	c.waitLog("Checked workloads namespace="+other+" sweep=true", 1)
	c.kubectl("patch", "configmap", "cfg", "-n", other, "--type", "merge", "-p", `{"data":{"a":"3"}}`)
	c.eventually("app in the newly selected namespace reloaded", func() bool { return c.marker(other, "deployment", "app") != "" })
	assert.Empty(t, c.marker(ignored, "deployment", "app"), "--namespaces-to-ignore")
	assert.Zero(t, c.logCount("namespace="+ignored), "an ignored namespace is never even checked")

	// Reloader's create and delete switches, under its resource label selector.
	c.stopCuscon()
	c.cusconArgs = []string{"--reload-strategy=annotations", "--reload-on-create=true", "--reload-on-delete=true", "--resource-label-selector=reload=true"}
	c.kubectlIn(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: named, annotations: {configmap.reloader.stakater.com/reload: "later,cfg"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: named}}
  template:
    metadata: {labels: {app: named}}
    spec: {containers: [{name: app, image: app:1}]}
`, "apply", "-n", c.ns, "-f", "-")
	c.startCuscon()
	c.waitLog("Checked workloads namespace=", 1)
	c.eventually("named's baseline", func() bool {
		return strings.Contains(c.kubectl("get", "deployment", "named", "-n", c.ns, "-o", `jsonpath={.metadata.annotations}`), "applied-configs")
	})
	c.kubectl("create", "configmap", "later", "-n", c.ns, "--from-literal=k=v")
	c.kubectl("label", "configmap", "later", "-n", c.ns, "reload=true")
	c.eventually("named reloaded for later's creation", func() bool { return strings.Contains(c.marker(c.ns, "deployment", "named"), `"name":"later"`) })
	created := c.marker(c.ns, "deployment", "named")
	c.kubectl("label", "configmap", "cfg", "-n", c.ns, "reload-") // leaves the selection: not a deletion
	c.kubectl("delete", "configmap", "later", "-n", c.ns)
	c.eventually("named reloaded for later's deletion", func() bool {
		m := c.marker(c.ns, "deployment", "named")
		return m != created && strings.Contains(m, `"hash":"aae45badef99284e4dae01d6046154ea9d99532f"`)
	})
	deleted := c.marker(c.ns, "deployment", "named")
	c.kubectl("create", "configmap", "later", "-n", c.ns, "--from-literal=k=v2")
	c.kubectl("label", "configmap", "later", "-n", c.ns, "reload=true")
	c.eventually("named reloaded for later's creation again", func() bool { m := c.marker(c.ns, "deployment", "named"); return m != deleted })
	assert.Contains(t, c.marker(c.ns, "deployment", "named"), `"name":"later"`)
	assert.Zero(t, c.logCount("Changes detected in 'cfg' of type 'CONFIGMAP' in namespace '"+c.ns+"'; updated 'named'"),
		"cfg left the label selection; it was not deleted")
	assert.NotContains(t, c.log(), "level=ERROR")
	// After a restart, cfg (out of the selection) is absent from the list, as if deleted:
	// asked by name, the API says it is there, and nothing restarts for it.
	restarted := c.marker(c.ns, "deployment", "named")
	const sweep = `Checked workloads namespace="" sweep=true` // every namespace, as Reloader's chart watches them
	sweeps := c.logCount(sweep)
	c.stopCuscon()
	c.startCuscon()
	c.waitLog(sweep, sweeps+1)
	assert.Equal(t, restarted, c.marker(c.ns, "deployment", "named"), "cfg's absence from the list is not its deletion")
	c.kubectl("patch", "configmap", "later", "-n", c.ns, "--type", "merge", "-p", `{"data":{"k":"v3"}}`)
	c.eventually("named reloaded for later's change", func() bool { return c.marker(c.ns, "deployment", "named") != restarted })
	assert.Contains(t, c.marker(c.ns, "deployment", "named"), `"name":"later"`, "later's change, not cfg's absence")
	assert.Zero(t, c.logCount("Changes detected in 'cfg' of type 'CONFIGMAP' in namespace '"+c.ns+"'; updated 'named'"))
	// Deleted while cuscon was down: the API confirms it, and named restarts for it.
	c.stopCuscon()
	c.kubectl("delete", "configmap", "cfg", "-n", c.ns)
	c.startCuscon()
	c.eventually("named reloaded for cfg's deletion", func() bool { return strings.Contains(c.marker(c.ns, "deployment", "named"), `"name":"cfg"`) })
	gone := c.marker(c.ns, "deployment", "named")
	c.kubectl("create", "configmap", "cfg", "-n", c.ns, "--from-literal=a=back") // for what follows
	c.kubectl("label", "configmap", "cfg", "-n", c.ns, "reload=true")
	c.eventually("named reloaded for cfg's creation", func() bool { return c.marker(c.ns, "deployment", "named") != gone })

	// --webhook-url: nothing is restarted; each change is posted instead.
	c.stopCuscon()
	hooks := make(chan string, 4)
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- r.Method + " " + string(b)
	}))
	t.Cleanup(webhook.Close)
	c.cusconArgs = []string{"--webhook-url=" + webhook.URL}
	c.startCuscon()
	before := c.marker(c.ns, "deployment", "app")
	c.kubectl("patch", "configmap", "cfg", "-n", c.ns, "--type", "merge", "-p", `{"data":{"a":"webhook"}}`)
	select {
	case got := <-hooks:
		assert.Equal(t, `POST {"webhook":"update successful"}`, got)
	case <-time.After(waitTimeout):
		t.Fatal("no webhook")
	}
	assert.Equal(t, before, c.marker(c.ns, "deployment", "app"), "nothing restarted")

	// --enable-ha: two replicas share Reloader's Lease; a stopped leader hands over.
	c.stopCuscon()
	ports, err := plane.FreePorts(1)
	require.NoError(t, err)
	c.cusconArgs = []string{"--reload-strategy=annotations", "--enable-ha=true"}
	c.cusconEnv = append(chart, "POD_NAME=reloader-a", "POD_NAMESPACE=cuscon-system")
	c.startCuscon()
	c.eventually("the first replica leads", func() bool { return c.logCount("Became the leader lease=cuscon-system/stakater-reloader-lock") == 1 })
	b := c.startCusconAs("b", append(append([]string{}, chart...), "POD_NAME=reloader-b", "POD_NAMESPACE=cuscon-system",
		fmt.Sprintf("CUSCON_LISTEN_ADDRESS=127.0.0.1:%d", ports[0])))
	before = c.marker(c.ns, "deployment", "app")
	c.stopCuscon() // releases the Lease
	c.eventually("the second replica leads", func() bool { return c.logCountOf("b", "Became the leader") == 1 })
	c.kubectl("patch", "configmap", "cfg", "-n", c.ns, "--type", "merge", "-p", `{"data":{"a":"4"}}`)
	c.eventually("the new leader reloads", func() bool { m := c.marker(c.ns, "deployment", "app"); return m != "" && m != before })
	b.Stop(waitTimeout)
}
