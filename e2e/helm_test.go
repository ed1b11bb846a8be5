// helm_test.go proves the Helm chart (charts/cuscon) against the real apiserver: every
// values file in charts/cuscon/ci lints, renders and is accepted by a server-side dry
// run; values that cannot work are refused; and a release installed for real runs
// cuscon as its Deployment says — the release's own ServiceAccount, Role and
// environment — and a ConfigMap edit restarts the pods. kwok runs no container, so the
// cuscon binary is started here with exactly the environment of the installed pod.
package e2e

import (
	"context"
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

func TestHelmDirectReleaseEvictsWithoutSidecarOrPatchRight(t *testing.T) {
	c := newCluster(t)
	c.stopCuscon()
	c.stopProxy()
	c.mustHelm("install", "helm", chartDir, "-n", c.ns, "-f", filepath.Join(chartDir, "ci", "direct-values.yaml"),
		"--wait", "--timeout", "60s")
	containers := c.kubectl("get", "deployment", "helm-cuscon", "-n", c.ns, "-o", "jsonpath={.spec.template.spec.containers[*].name}")
	assert.Equal(t, "app", containers, "no sidecar")
	c.startFromRelease("helm-cuscon")
	assert.Contains(t, c.logOf("helm"), "api="+suite.plane.Server)

	frontend := c.uids("frontend")
	c.changeFrontendConfig("evicted by a direct release")
	c.waitReplaced("frontend", frontend, 3)
	assert.Contains(t, c.logOf("helm"), "strategy=evict")
}
