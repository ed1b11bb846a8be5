// helm_test.go proves the Helm chart (charts/cuscon) against the real apiserver: every
// values file in charts/cuscon/ci lints, renders and is accepted by a server-side dry
// run; values that cannot work are refused; and a release installed for real runs
// cuscon as its Deployment says — the release's own ServiceAccount, Role and
// environment — and a ConfigMap edit restarts the pods. kwok runs no container, so the
// cuscon binary is started here with exactly the environment of the installed pod.
package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chartDir is the chart, relative to the repository root.
const chartDir = "charts/cuscon"

// helmBin is the helm that hack/build-tool.sh built (hack/test.sh sets CUSCON_HELM).
func helmBin(t *testing.T) string {
	t.Helper()
	h := os.Getenv("CUSCON_HELM")
	if h == "" {
		if os.Getenv("CUSCON_E2E") == "1" {
			t.Fatal("CUSCON_E2E=1 but CUSCON_HELM is not set; run hack/test.sh")
		}
		t.Skip("CUSCON_HELM is not set (hack/test.sh builds helm and sets it)")
	}
	return h
}

// helm runs helm as the plane's admin and returns its output and error.
func (c *cluster) helm(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(c.ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBin(c.t), append(args, "--kubeconfig", suite.plane.Kubeconfig)...)
	cmd.Dir = suite.root
	home := filepath.Join(c.dir, "helm")
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config",
		"HELM_DATA_HOME="+home+"/data")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustHelm is helm, failing the test on error.
func (c *cluster) mustHelm(args ...string) string {
	c.t.Helper()
	out, err := c.helm(args...)
	require.NoError(c.t, err, "helm %s:\n%s", strings.Join(args, " "), out)
	return out
}

var (
	docSep     = regexp.MustCompile(`(?m)^---\s*$`)
	kindLine   = regexp.MustCompile(`(?m)^kind: (\S+)`)
	apiVersion = regexp.MustCompile(`(?m)^apiVersion: (\S+)`)
)

// renderedObject is one object of helm template's output.
type renderedObject struct{ apiVersion, kind, yaml string }

// render runs helm template for the test's namespace and splits the objects.
func (c *cluster) render(args ...string) []renderedObject {
	c.t.Helper()
	out := c.mustHelm(append([]string{"template", "ci", chartDir, "-n", c.ns}, args...)...)
	var objs []renderedObject
	for _, doc := range docSep.Split(out, -1) {
		k, v := kindLine.FindStringSubmatch(doc), apiVersion.FindStringSubmatch(doc)
		if k == nil || v == nil {
			continue
		}
		objs = append(objs, renderedObject{apiVersion: v[1], kind: k[1], yaml: doc})
	}
	return objs
}

func TestHelmChartIsAcceptedByTheAPIServerForEveryValuesFile(t *testing.T) {
	c := newCluster(t)
	for _, ns := range []string{"cuscon-ci-a", "cuscon-ci-b"} { // namespaces-values.yaml's
		c.kubectl("create", "namespace", ns)
		t.Cleanup(func() { _, _ = suite.plane.Kubectl(c.ctx, "delete", "namespace", ns, "--wait=false") })
	}
	files, err := filepath.Glob(filepath.Join(suite.root, chartDir, "ci", "*-values.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	monitoring := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		c.mustHelm("lint", "--strict", chartDir, "-f", file)
		var applied []string
		for _, o := range c.render("-f", file) {
			// prometheus-operator's kinds need its CRDs, which the plane lacks: they are
			// checked by lint and below, not by the server.
			if strings.HasPrefix(o.apiVersion, "monitoring.coreos.com/") {
				monitoring[o.kind] = true
				continue
			}
			applied = append(applied, o.yaml)
		}
		out := c.kubectlIn(strings.Join(applied, "\n---\n"), "apply", "--dry-run=server", "-f", "-")
		assert.Equal(t, len(applied), strings.Count(out, "(server dry run)"), "%s: every object accepted:\n%s", name, out)
		t.Logf("%s: %d objects accepted by the API server", name, len(applied))
	}
	assert.Equal(t, map[string]bool{"ServiceMonitor": true, "PodMonitor": true, "PrometheusRule": true}, monitoring,
		"monitoring-values.yaml renders each prometheus-operator object")
}

func TestHelmChartGrantsStrategyRightsOnlyWhenAskedAndRefusesValuesThatCannotWork(t *testing.T) {
	c := newCluster(t)
	joined := func(objs []renderedObject) string {
		var b strings.Builder
		for _, o := range objs {
			b.WriteString(o.yaml)
		}
		return b.String()
	}
	plain := joined(c.render())
	assert.NotContains(t, plain, "pods/eviction")
	assert.NotContains(t, plain, "deployments")
	assert.NotContains(t, plain, "secrets")
	assert.Contains(t, joined(c.render("--set", "strategy=evict")), `resources: ["pods/eviction"]`)
	assert.Contains(t, joined(c.render("--set", "strategy=rollout")), `resources: ["deployments", "statefulsets", "daemonsets"]`)
	assert.Contains(t, joined(c.render("--set", "secrets.enabled=true")), `resources: ["secrets"]`)

	for _, tc := range []struct{ set, refusal string }{
		{"replicas=2", "replicas > 1 needs leaderElection.enabled"},
		{"clusterWide=true,watchNamespaces={a}", "clusterWide and watchNamespaces exclude each other"},
		{"strategy=evict,rbac.evict=false", "strategy evict needs rbac.evict"},
		{"leaderElection.enabled=true,config.state=memory", "leaderElection needs config.state annotation"},
		{"strategy=restart", "strategy"},
		{"stratgey=delete", "stratgey"},
	} {
		out, err := c.helm("template", "ci", chartDir, "-n", c.ns, "--set", tc.set)
		assert.Error(t, err, "--set %s must be refused", tc.set)
		assert.Contains(t, out, tc.refusal, "--set %s", tc.set)
	}
}

func TestHelmInstallRestartsPodsOnConfigMapEdit(t *testing.T) {
	c := newCluster(t)
	c.stopCuscon()
	c.stopProxy()
	c.mustHelm("install", "helm", chartDir, "-n", c.ns, "--wait", "--timeout", "60s")
	c.startFromRelease("helm-cuscon")

	frontend := c.uids("frontend")
	c.changeFrontendConfig("installed with Helm")
	c.waitReplaced("frontend", frontend, 3)
	c.waitEvent("ConfigMap", "frontend-config", "Restarted")
	c.mustHelm("uninstall", "helm", "-n", c.ns, "--wait")
	_, err := suite.plane.Kubectl(c.ctx, "get", "role", "helm-cuscon", "-n", c.ns)
	assert.Error(t, err, "uninstall removes the Role")
}

func TestHelmHAReleaseLeadsThroughItsOwnLeaseOnly(t *testing.T) {
	c := newCluster(t)
	c.stopCuscon()
	c.stopProxy()
	c.mustHelm("install", "helm", chartDir, "-n", c.ns, "-f", filepath.Join(chartDir, "ci", "ha-values.yaml"),
		"--wait", "--timeout", "60s")
	pod := c.startFromRelease("helm-cuscon")
	c.eventually("the release's replica to lead", func() bool {
		return c.logCountOf("helm", "Became the leader") > 0
	})
	holder := c.kubectl("get", "lease", "helm-cuscon", "-n", c.ns, "-o", "jsonpath={.spec.holderIdentity}")
	assert.Equal(t, pod, holder, "the Lease the Role names, held by the pod's name")

	frontend := c.uids("frontend")
	c.changeFrontendConfig("led through a named Lease")
	c.waitReplaced("frontend", frontend, 3)
}

// startFromRelease starts cuscon as a pod of the release's Deployment deploy would run:
// as its ServiceAccount, behind a kubectl proxy, with the app container's environment
// (the downward API resolved for one of its pods, whose name it returns). Only where
// cuscon listens is moved to the suite's ports.
func (c *cluster) startFromRelease(deploy string) string {
	c.t.Helper()
	var d struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Template struct {
				Spec struct {
					ServiceAccountName string `json:"serviceAccountName"`
					Containers         []struct {
						Name string `json:"name"`
						Env  []struct {
							Name      string `json:"name"`
							Value     string `json:"value"`
							ValueFrom *struct {
								FieldRef *struct {
									FieldPath string `json:"fieldPath"`
								} `json:"fieldRef"`
							} `json:"valueFrom"`
						} `json:"env"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	require.NoError(c.t, json.Unmarshal([]byte(c.kubectl("get", "deployment", deploy, "-n", c.ns, "-o", "json")), &d))
	var selector []string
	for k, v := range d.Spec.Selector.MatchLabels {
		selector = append(selector, k+"="+v)
	}
	pod := strings.TrimSpace(c.kubectl("get", "pods", "-n", c.ns, "-l", strings.Join(selector, ","),
		"-o", "jsonpath={.items[0].metadata.name}"))
	require.NotEmpty(c.t, pod, "the release's Deployment has a pod")

	var env []string
	found := false
	for _, ctr := range d.Spec.Template.Spec.Containers {
		if ctr.Name != "app" {
			continue
		}
		found = true
		for _, e := range ctr.Env {
			value := e.Value
			if e.ValueFrom != nil {
				require.NotNil(c.t, e.ValueFrom.FieldRef, "env %s: only the downward API is emulated", e.Name)
				switch e.ValueFrom.FieldRef.FieldPath {
				case "metadata.namespace":
					value = c.ns
				case "metadata.name":
					value = pod
				default:
					c.t.Fatalf("env %s: field %s is not emulated", e.Name, e.ValueFrom.FieldRef.FieldPath)
				}
			}
			if e.Name == "CUSCON_API_URL" {
				require.Equal(c.t, "http://127.0.0.1:8001", value, "cuscon talks to its sidecar")
				value = suite.proxyURL
			}
			if e.Name == "CUSCON_LISTEN_ADDRESS" {
				value = strings.TrimPrefix(suite.health, "http://")
			}
			env = append(env, e.Name+"="+value)
		}
	}
	require.True(c.t, found, "the Deployment has a container named app")

	sa := d.Spec.Template.Spec.ServiceAccountName
	token := strings.TrimSpace(c.kubectl("create", "token", sa, "-n", c.ns, "--duration", "1h"))
	kubeconfig := filepath.Join(c.dir, "release.kubeconfig")
	require.NoError(c.t, writeKubeconfig(kubeconfig, token))
	c.startProxy(kubeconfig)
	c.cuscon = c.startCusconAs("helm", env)
	c.t.Logf("cuscon started as pod %s of %s, ServiceAccount %s, env %v", pod, deploy, sa, env)
	return pod
}
