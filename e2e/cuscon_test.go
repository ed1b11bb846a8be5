// cuscon_test.go: the core controller's promises, on the real control plane.
package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContentChangeReplacesFrontendPodsAndNothingElse(t *testing.T) {
	c := newCluster(t)
	frontend, backend := c.uids("frontend"), c.uids("backend")
	names := c.pods("frontend")
	c.changeFrontendConfig("Welcome to Custom Controllers!")
	c.waitReplaced("frontend", frontend, 3)
	c.settle()
	assert.Equal(t, backend, c.uids("backend"), "backend pods untouched")
	assert.Equal(t, 2, c.logCount("Modification detected"), "frontend once, sentinel once")
	for _, p := range names {
		assert.Equal(t, 1, c.logCount(p.Name+" was deleted successfully"), p.Name)
	}
	assert.True(t, strings.HasPrefix(c.annotation("frontend-config", "cuscon.dev/applied-hash"), "sha256:"))
}

func TestMetadataOnlyChangesAndUnannotatedConfigMapsRestartNothing(t *testing.T) {
	c := newCluster(t)
	frontend, backend := c.uids("frontend"), c.uids("backend")
	c.kubectl("label", "configmap", "frontend-config", "-n", c.ns, "tier=web")
	c.kubectl("annotate", "configmap", "frontend-config", "-n", c.ns, "owner=team-a")
	c.kubectl("create", "configmap", "plain", "-n", c.ns, "--from-literal=k=v1")
	c.setData("plain", "k", "v2")
	c.settle()
	assert.Equal(t, frontend, c.uids("frontend"))
	assert.Equal(t, backend, c.uids("backend"))
	assert.Equal(t, 1, c.logCount("Modification detected"), "only the sentinel's")
}

func TestEmptyAndInvalidSelectorsDeleteNothingAndCusconKeepsWorking(t *testing.T) {
	c := newCluster(t)
	frontend, backend := c.uids("frontend"), c.uids("backend")
	for name, selector := range map[string]string{"empty": "", "blank": "  ", "invalid": "app in (frontend"} {
		c.kubectl("create", "configmap", name, "-n", c.ns, "--from-literal=k=v1")
		c.kubectl("annotate", "configmap", name, "-n", c.ns, "magalix.com/podDeleteMatch="+selector)
		c.setData(name, "k", "v2")
	}
	c.settle()
	assert.Equal(t, frontend, c.uids("frontend"))
	assert.Equal(t, backend, c.uids("backend"))
	log := c.log()
	assert.Contains(t, log, "empty selector would match every pod in the namespace; refused namespace="+c.ns+" configmap=empty")
	assert.Contains(t, log, "empty selector would match every pod in the namespace; refused namespace="+c.ns+" configmap=blank")
	// Refused before any pod list: a selector cuscon cannot read could be broader than meant.
	assert.Regexp(t, `Could not restart pods matching "app in \(frontend": .*want a non-empty \(v1, v2, ...\).* configmap=invalid`, log)

	c.changeFrontendConfig("still working")
	c.waitReplaced("frontend", frontend, 3)
}

func TestChangeWhileProxyIsDownIsAppliedWhenItReturns(t *testing.T) {
	c := newCluster(t)
	frontend := c.uids("frontend")
	c.stopProxy()
	c.changeFrontendConfig("edited while the sidecar was down")
	c.waitLog("Watch failed, resuming", 2)
	c.startProxy(c.dir + "/cuscon.kubeconfig")
	c.waitReplaced("frontend", frontend, 3)
	c.settle()
	assert.Equal(t, 2, c.logCount("Modification detected"), "frontend once, sentinel once")
}

func TestChangeWhileCusconIsDownIsAppliedWhenItReturns(t *testing.T) {
	c := newCluster(t)
	frontend := c.uids("frontend")
	c.stopCuscon()
	c.changeFrontendConfig("edited while cuscon was down")
	c.startCuscon()
	c.waitReplaced("frontend", frontend, 3)
	c.settle()
	assert.Equal(t, 2, c.logCount("Modification detected"), "frontend once, sentinel once")
}

func TestCusconRestartWithoutChangeRestartsNothing(t *testing.T) {
	c := newCluster(t)
	frontend, sentinel := c.uids("frontend"), c.uids("sentinel")
	for range 2 {
		c.stopCuscon()
		c.startCuscon()
	}
	assert.Equal(t, sentinel, c.uids("sentinel"))
	c.settle()
	assert.Equal(t, frontend, c.uids("frontend"))
	assert.Equal(t, 1, c.logCount("Modification detected"), "only the sentinel's")
}

func TestPodWithoutControllerIsNotDeleted(t *testing.T) {
	c := newCluster(t)
	c.kubectlIn(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bare","labels":{"app":"frontend"}},"spec":{"containers":[{"name":"app","image":"x"}]}}`,
		"apply", "-n", c.ns, "-f", "-")
	c.waitPods("frontend", 4)
	var bare string
	var owned []string
	for _, p := range c.pods("frontend") {
		if p.Name == "bare" {
			bare = p.UID
		} else {
			owned = append(owned, p.UID)
		}
	}
	c.changeFrontendConfig("v2")
	c.eventually("the owned frontend pods to be replaced", func() bool {
		n := 0
		for _, p := range c.pods("frontend") {
			if p.Ready && !p.Terminating && !contains(owned, p.UID) && p.Name != "bare" {
				n++
			}
		}
		return n == 3
	})
	c.settle()
	assert.Contains(t, c.uids("frontend"), bare, "the bare pod survives")
	assert.Contains(t, c.log(), "Skipping bare: no controller owns it")
}

func TestWatchesEndedByTheServerLoseNoChange(t *testing.T) {
	// Debug logging is the one addition to the sidecar's environment: it shows each
	// watch the apiserver ends (every 5-10 s on this plane) and cuscon resuming it.
	c := newCluster(t, "CUSCON_LOG_LEVEL=debug")
	const minChanges, minWatchEnds = 10, 2
	changes := 0
	for changes < minChanges || c.logCount("Watch ended, resuming") < minWatchEnds {
		require.Less(t, changes, 60, "the apiserver should have ended watches by now")
		frontend := c.uids("frontend")
		changes++
		c.changeFrontendConfig(fmt.Sprint("change ", changes))
		c.waitReplaced("frontend", frontend, 3)
	}
	c.settle()
	t.Logf("%d changes across %d server-ended watches", changes, c.logCount("Watch ended, resuming"))
	assert.Equal(t, changes+1, c.logCount("Modification detected"), "every change once, plus the sentinel")
	assert.Equal(t, 1, c.logCount("Synced configmaps"), "resumed from resourceVersions, never relisted")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
