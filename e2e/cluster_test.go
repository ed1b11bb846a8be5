// cluster_test.go gives each end-to-end test its own namespace on the shared plane, set
// up as in production: the article's example app beside unrelated pods, cuscon's
// ServiceAccount and Role from manifests/base/rbac.yaml, a kubectl proxy authenticating as
// that ServiceAccount, and the cuscon binary started with only res_namespace set.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cuscon/internal/plane"

	"github.com/stretchr/testify/require"
)

// waitTimeout bounds every wait on the plane's state.
const waitTimeout = 60 * time.Second

// cluster is one test's namespace and the processes serving it.
type cluster struct {
	t      *testing.T
	ctx    context.Context
	ns     string
	dir    string
	proxy  *plane.Process
	cuscon *plane.Process
	// cusconEnv is cuscon's whole environment; cusconArgs its arguments.
	cusconEnv  []string
	cusconArgs []string
	sentinel   int
}

// extraYAML adds what the article lacks: unrelated pods that must never be touched, and
// a sentinel ConfigMap and Deployment that settle uses to prove cuscon is caught up.
const extraYAML = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend}
spec:
  replicas: 2
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec: {containers: [{name: app, image: backend:1}]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: sentinel-config
  annotations: {magalix.com/podDeleteMatch: "app=sentinel"}
data: {n: "0"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sentinel}
spec:
  replicas: 1
  selector: {matchLabels: {app: sentinel}}
  template:
    metadata: {labels: {app: sentinel}}
    spec: {containers: [{name: app, image: sentinel:1}]}
`

// newCluster sets up a namespace for t and starts the proxy and cuscon in it. extraEnv
// is added to cuscon's environment (beyond res_namespace) where a test asks for more;
// "{ns}" in it stands for the test's namespace.
func newCluster(t *testing.T, extraEnv ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, ctx: context.Background(), ns: namespaceFor(t)}
	c.dir = filepath.Join(suite.dir, c.ns)
	require.NoError(t, os.MkdirAll(c.dir, 0o755))
	t.Cleanup(c.cleanup)

	c.kubectl("create", "namespace", c.ns)
	c.eventually("the default ServiceAccount", func() bool {
		_, err := suite.plane.Kubectl(c.ctx, "get", "serviceaccount", "default", "-n", c.ns)
		return err == nil
	})
	c.applyRBAC()
	c.kubectl("apply", "-n", c.ns, "-f", filepath.Join(suite.root, "manifests/example/configmap.yaml"),
		"-f", filepath.Join(suite.root, "manifests/example/deployment.yaml"))
	c.kubectlIn(extraYAML, "apply", "-n", c.ns, "-f", "-")
	c.waitPods("frontend", 3)
	c.waitPods("backend", 2)
	c.waitPods("sentinel", 1)

	token := strings.TrimSpace(c.kubectl("create", "token", "cuscon", "-n", c.ns, "--duration", "2h"))
	kubeconfig := filepath.Join(c.dir, "cuscon.kubeconfig")
	require.NoError(t, writeKubeconfig(kubeconfig, token))
	c.startProxy(kubeconfig)

	c.cusconEnv = []string{"res_namespace=" + c.ns}
	for _, e := range extraEnv {
		c.cusconEnv = append(c.cusconEnv, strings.ReplaceAll(e, "{ns}", c.ns))
	}
	if suite.proxyURL != "http://127.0.0.1:8001" {
		c.cusconEnv = append(c.cusconEnv, "CUSCON_API_URL="+suite.proxyURL)
	}
	if suite.health != "http://127.0.0.1:8080" {
		c.cusconEnv = append(c.cusconEnv, "CUSCON_LISTEN_ADDRESS="+strings.TrimPrefix(suite.health, "http://"))
	}
	c.startCuscon()
	return c
}

// writeKubeconfig writes a kubeconfig for the plane authenticated by token.
func writeKubeconfig(path, token string) error {
	return plane.WriteKubeconfig(path, suite.plane.Server, token)
}

// namespaceFor derives a valid namespace name from the test's name.
func namespaceFor(t *testing.T) string {
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(strings.TrimPrefix(t.Name(), "Test"), "-"))
	return strings.Trim(("e2e-" + name)[:min(len(name)+4, 60)], "-")
}

// applyRBAC applies manifests/base/rbac.yaml in the test's namespace through kustomize,
// as `kubectl apply -k manifests/` would with namespace set.
func (c *cluster) applyRBAC() { c.applyManifests(c.ns, "manifests/base/rbac.yaml") }

// applyManifests applies the repository's files in ns through kustomize, which also
// points RoleBinding subjects at ns.
func (c *cluster) applyManifests(ns string, files ...string) {
	c.t.Helper()
	k, err := os.MkdirTemp(c.dir, "kustomize-")
	require.NoError(c.t, err)
	var names []string
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join(suite.root, f))
		require.NoError(c.t, err)
		name := fmt.Sprint(i, "-", filepath.Base(f)) // components' files share names
		require.NoError(c.t, os.WriteFile(filepath.Join(k, name), b, 0o644))
		names = append(names, name)
	}
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + ns +
		"\nresources: [" + strings.Join(names, ", ") + "]\n"
	require.NoError(c.t, os.WriteFile(filepath.Join(k, "kustomization.yaml"), []byte(kust), 0o644))
	c.kubectl("apply", "-k", k)
}

// startProxy runs `kubectl proxy` as the sidecar does, as cuscon's ServiceAccount, and
// waits until it answers.
func (c *cluster) startProxy(kubeconfig string) {
	port := strings.TrimPrefix(suite.proxyURL, "http://127.0.0.1:")
	var err error
	c.proxy, err = plane.StartProcess(c.dir, "proxy", nil, suite.plane.KubectlPath(),
		"--kubeconfig", kubeconfig, "proxy", "--port="+port, "--address=127.0.0.1")
	require.NoError(c.t, err)
	c.eventually("kubectl proxy to answer", func() bool {
		require.False(c.t, c.proxy.Exited(), "kubectl proxy exited:\n%s", plane.Tail(c.proxy.Log, 20))
		resp, err := http.Get(suite.proxyURL + "/api/v1/namespaces/" + c.ns + "/configmaps?limit=1")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode < 500 // the API answered through it, whatever the Role allows
	})
}

// stopProxy ends the proxy, as when the sidecar crashes or restarts.
func (c *cluster) stopProxy() { c.proxy.Stop(10 * time.Second) }

// startCuscon starts the cuscon binary and waits for its first sync.
func (c *cluster) startCuscon() {
	c.cuscon = c.startCusconAs("cuscon", c.cusconEnv)
}

// startCusconAs starts another cuscon process, logging to name.log, with env as its
// whole environment, and waits for its first sync.
func (c *cluster) startCusconAs(name string, env []string) *plane.Process {
	c.t.Helper()
	before := c.logCountOf(name, "Synced configmaps")
	proc, err := plane.StartProcess(c.dir, name, env, suite.cuscon, c.cusconArgs...)
	require.NoError(c.t, err)
	c.t.Cleanup(func() { proc.Stop(5 * time.Second) })
	c.eventually(name+"'s first sync", func() bool {
		require.False(c.t, proc.Exited(), "%s exited:\n%s", name, plane.Tail(filepath.Join(c.dir, name+".log"), 20))
		return c.logCountOf(name, "Synced configmaps") > before
	})
	return proc
}

// stopCuscon sends SIGTERM and requires a clean exit with code 0.
func (c *cluster) stopCuscon() {
	c.cuscon.Stop(15 * time.Second)
	require.Equal(c.t, 0, c.cuscon.ExitCode(), "cuscon's exit code after SIGTERM")
}

func (c *cluster) cleanup() {
	if c.cuscon != nil {
		c.cuscon.Stop(5 * time.Second)
	}
	if c.proxy != nil {
		c.proxy.Stop(5 * time.Second)
	}
	if c.t.Failed() {
		logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
		for _, f := range logs {
			c.t.Logf("%s:\n%s", f, plane.Tail(f, 60))
		}
		return
	}
	_, _ = suite.plane.Kubectl(c.ctx, "delete", "namespace", c.ns, "--wait=false")
}

// kubectl runs kubectl as admin, failing the test on error.
func (c *cluster) kubectl(args ...string) string {
	c.t.Helper()
	out, err := suite.plane.Kubectl(c.ctx, args...)
	require.NoError(c.t, err)
	return out
}

func (c *cluster) kubectlIn(stdin string, args ...string) string {
	c.t.Helper()
	out, err := suite.plane.KubectlIn(c.ctx, strings.NewReader(stdin), args...)
	require.NoError(c.t, err)
	return out
}

// eventually waits for cond, failing the test after waitTimeout.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	require.NoError(c.t, plane.Eventually(c.ctx, waitTimeout, what, func() (bool, error) { return cond(), nil }))
}
