// strategies_test.go proves the ways cuscon restarts pods without downtime and its
// safety nets, against the fake API: eviction under a PodDisruptionBudget, rollout of
// the owning workload, pacing, debounce, the rate limit, dry run, Secrets, scope and
// Events.

package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
)

// withStrategy returns frontend-config's annotations with a strategy override.
func withStrategy(s string) map[string]string {
	return map[string]string{selectorKey: "app=frontend", restart.StrategyAnnotation: s}
}

func TestEvictRetriesWhileBudgetBlocksAndNeverDeletes(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Strategy = "evict" })
	fx.f.Snapshot(func() { fx.f.EvictBlock["frontend-1"] = 3 })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.log.WaitFor(t, "Restarted 3 of 3 pods", 1)
	fx.f.Snapshot(func() {
		assert.ElementsMatch(t, frontendPods, fx.f.Evictions, "every pod went through the Eviction API")
	})
	assert.Equal(t, 3, fx.log.Count("Eviction of frontend-1 blocked for now, retrying"))
	assert.Equal(t, 3, fx.log.Count("was evicted successfully"))
	assert.Zero(t, fx.log.Count("was deleted successfully"))
}

func TestEvictGivesUpAtDeadlineAndReportsWhy(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Strategy = "evict"; c.EvictTimeout = 50 * time.Millisecond })
	fx.f.Snapshot(func() { fx.f.EvictBlock["frontend-1"] = 1 << 30 })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "EvictionBlocked")
	assert.Contains(t, ev.Message, "frontend-1")
	assert.Equal(t, "Warning", ev.Type)
	incomplete := fx.f.WaitEvent("ConfigMap/frontend-config", "RestartIncomplete")
	assert.Contains(t, incomplete.Message, "Restarted 2 of 3 pods")
	assert.Contains(t, incomplete.Message, "disruption budget")
	assert.Contains(t, fx.log.String(), "Could not evict frontend-1")
	fx.f.Snapshot(func() { assert.Contains(t, fx.f.Pods, "frontend-1", "a blocked pod is never deleted instead") })
}

// allowRollout lets objects choose the rollout strategy, as an operator may.
func allowRollout(c *config) { c.OverrideStrategies = "delete,evict,rollout" }

func TestRolloutPatchesEachWorkloadOnceAndDeletesNoPod(t *testing.T) {
	fx := newFixture(t, allowRollout)
	fx.f.PutConfigMap("frontend-config", withStrategy("rollout"), msg("v2"))
	fx.f.WaitEvent("Deployment/web", "Restarted")
	fx.settle()
	fx.f.Snapshot(func() {
		assert.Equal(t, []string{"deployments/web"}, fx.f.Rollouts, "three pods, one workload, one patch")
	})
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Contains(t, fx.log.String(), "Deployment/web was restarted (rollout)")
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "Restarted")
	assert.Contains(t, ev.Message, "by rolling Deployment/web")
}

func TestRolloutRollsStatefulSetsAndDeletesWhatCannotRoll(t *testing.T) {
	fx := newFixture(t, allowRollout)
	fx.f.AddPodIn("default", "db-0", map[string]string{"app": "db"}, "StatefulSet/db")
	fx.f.AddPodIn("default", "job-x", map[string]string{"app": "db"}, "Job/migrate")
	fx.f.PutConfigMap("db-config", map[string]string{selectorKey: "app=db", restart.StrategyAnnotation: "rollout"}, msg("v1"))
	fx.f.PutConfigMap("db-config", map[string]string{selectorKey: "app=db", restart.StrategyAnnotation: "rollout"}, msg("v2"))
	fx.f.WaitDeleted("job-x")
	fx.f.Snapshot(func() { assert.Equal(t, []string{"statefulsets/db"}, fx.f.Rollouts) })
	assert.Contains(t, fx.log.String(), "job-x has no Deployment, StatefulSet or DaemonSet to roll; deleting it instead")
}

func TestRolloutReportsPausedDeployment(t *testing.T) {
	fx := newFixture(t, allowRollout)
	fx.f.Snapshot(func() { fx.f.Paused = true })
	fx.f.PutConfigMap("frontend-config", withStrategy("rollout"), msg("v2"))
	fx.f.WaitEvent("Deployment/web", "DeploymentPaused")
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "DeploymentPaused")
	assert.Equal(t, "Warning", ev.Type)
	fx.settle()
	fx.f.Snapshot(func() { assert.Empty(t, fx.f.Rollouts) })
	assert.Empty(t, fx.deletedBesidesSentinels())
}

func TestInvalidStrategyAnnotationIsRefused(t *testing.T) {
	fx := newFixture(t, allowRollout)
	fx.f.PutConfigMap("frontend-config", withStrategy("reboot-the-cluster"), msg("v2"))
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "InvalidStrategy")
	assert.Contains(t, ev.Message, `"reboot-the-cluster"`)
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	// Fixing the annotation applies the owed restart.
	fx.f.PutConfigMap("frontend-config", withStrategy("delete"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
}

func TestPacedDeleteWaitsForReplacementsToBeReady(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.MaxUnavailable = 1 })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted("frontend-0")
	var lists int
	fx.f.Snapshot(func() { lists = len(fx.f.PodLists) })
	// cuscon checks readiness again and again, and deletes nothing more meanwhile.
	fx.f.WaitUntil("three readiness checks", func() bool { return len(fx.f.PodLists) >= lists+3 })
	assert.Equal(t, []string{"frontend-0"}, fx.deletedBesidesSentinels())
	fx.f.Snapshot(func() { fx.f.Replace = true })
	fx.f.AddPod("frontend-0-r", map[string]string{"app": "frontend"}, true)
	fx.f.WaitDeleted("frontend-1", "frontend-2")
	assert.Equal(t, []string{"frontend-0", "frontend-1", "frontend-2"}, fx.deletedBesidesSentinels(), "one at a time, in order")
}

func TestPacedRestartStopsWhenReplacementsNeverBecomeReady(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.MaxUnavailable = 1; c.ReadyTimeout = 50 * time.Millisecond })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "RestartIncomplete")
	assert.Contains(t, ev.Message, "only 2 of 3 pods Ready")
	assert.Contains(t, ev.Message, "left frontend-1, frontend-2")
	assert.Equal(t, []string{"frontend-0"}, fx.deletedBesidesSentinels(), "a new config that breaks pods stops the restart")
}

func TestBurstOfEditsRestartsPodsAtMostTwice(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Debounce = 2 * time.Second })
	fx.f.Snapshot(func() { fx.f.Replace = true })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("burst 0"))
	fx.log.WaitFor(t, "Restarted 3 of 3 pods", 1) // the first edit acts at once
	for i := 1; i < 5; i++ {
		fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg(fmt.Sprint("burst ", i)))
	}
	fx.log.WaitFor(t, "Modification detected", 5)
	fx.log.WaitFor(t, "Holding restarts until the debounce window ends", 1)
	assert.ElementsMatch(t, frontendPods, fx.deletedBesidesSentinels(), "the later edits wait for the window's end")
	fx.log.WaitFor(t, "Restarted 3 of 3 pods", 2)
	fx.f.WaitUntil("the last edit recorded", func() bool {
		return fx.f.ConfigMap("frontend-config").Metadata.Annotations[hashAnnotation] == kube.ContentHash(&kube.Object{Data: msg("burst 4")})
	})
	assert.Len(t, fx.deletedBesidesSentinels(), 6, "five edits, two restarts")
	assert.Equal(t, 2, fx.log.Count("pods matching app=frontend"))
}

func TestConfigMapsChangedTogetherRestartEachPodOnce(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Debounce = time.Second })
	fx.f.PutConfigMap("frontend-extra", sel("app=frontend"), msg("a"))
	fx.f.PutConfigMap("frontend-extra", sel("app=frontend"), msg("b"))
	fx.f.WaitDeleted(frontendPods...) // acts at once, and opens the window for these pods
	next := []string{"frontend-next-0", "frontend-next-1", "frontend-next-2"}
	fx.f.AddPods("frontend-next", 3, map[string]string{"app": "frontend"})
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.PutConfigMap("frontend-extra", sel("app=frontend"), msg("c"))
	fx.log.WaitFor(t, "Holding restarts until the debounce window ends", 1)
	fx.log.WaitFor(t, "Restarted 3 of 3 pods matching app=frontend", 3)
	fx.f.Snapshot(func() {
		var again []string
		for _, p := range fx.f.DeleteReqs {
			if strings.HasPrefix(p, "frontend-next-") {
				again = append(again, p)
			}
		}
		assert.ElementsMatch(t, next, again, "two ConfigMaps, one batch, one DELETE per pod")
	})
}

func TestDryRunChangesNothingButReportsEachAction(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.DryRun = true })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "Restarted")
	assert.True(t, strings.HasPrefix(ev.Message, "Dry run: Restarted 3 of 3 pods matching app=frontend"), ev.Message)
	for _, p := range frontendPods {
		assert.Contains(t, fx.log.String(), "Dry run: "+p+" would be deleted")
	}
	fx.f.Snapshot(func() {
		assert.Empty(t, fx.f.Deleted)
		assert.Subset(t, fx.f.DryRuns, []string{"DELETE frontend-0", "DELETE frontend-1", "DELETE frontend-2", "PATCH configmaps/default/frontend-config"})
		assert.Zero(t, fx.f.Patches, "not even the record is written")
	})
}

func TestRateLimitHoldsBackARunawayWriter(t *testing.T) {
	// Two actions a minute: the third pod waits about half a minute for its token.
	fx := newFixture(t, func(c *config) { c.RateLimit = 2 })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.log.WaitFor(t, "Rate limit reached; waiting", 1)
	fx.f.WaitDeleted("frontend-0", "frontend-1")
	assert.ElementsMatch(t, []string{"frontend-0", "frontend-1"}, fx.deletedBesidesSentinels(), "the third waits for the bucket to refill")
	assert.Contains(t, fx.log.String(), "pod=frontend-2 wait=")
}

func TestSecretChangeRestartsPodsAndNeverLogsData(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Secrets = true })
	secret := func(password string) func(*kubetest.ConfigMap) {
		return func(s *kubetest.ConfigMap) {
			s.Metadata.Annotations = sel("app=frontend")
			s.Data = map[string]string{"password": password}
		}
	}
	fx.f.UpdateObject("secrets", "default", "db-creds", secret("czNjcjN0LW9uZQ=="))
	fx.log.WaitFor(t, "Synced secrets", 1)
	fx.f.UpdateObject("secrets", "default", "db-creds", secret("czNjcjN0LXR3bw=="))
	fx.f.WaitDeleted(frontendPods...)
	fx.f.WaitEvent("Secret/db-creds", "Restarted")
	assert.Contains(t, fx.log.String(), "secret=db-creds")
	assert.NotContains(t, fx.log.String(), "czNjcjN0")
}

func TestNamespacesOutsideTheScopeAreUntouched(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Namespaces = "default,second" })
	fx.log.WaitFor(t, `Synced configmaps in "second"`, 1)
	for _, ns := range []string{"second", "third"} {
		fx.f.AddPodIn(ns, ns+"-pod", map[string]string{"app": "frontend"}, "ReplicaSet/rs")
		fx.f.UpdateObject("configmaps", ns, "cfg", func(cm *kubetest.ConfigMap) { cm.Metadata.Annotations = sel("app=frontend"); cm.Data = msg("1") })
	}
	for _, ns := range []string{"third", "second"} {
		fx.f.UpdateObject("configmaps", ns, "cfg", func(cm *kubetest.ConfigMap) { cm.Data = msg("2") })
	}
	fx.f.WaitDeleted("second-pod")
	fx.settle()
	assert.Equal(t, []string{"second-pod"}, fx.deletedBesidesSentinels(), "third is outside the scope; default's pods are not second's")
}

func TestAllNamespacesWatchesTheClusterWithTheWatchSelector(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.AllNamespaces = true; c.WatchSelector = "team=web" })
	fx.f.AddPodIn("elsewhere", "elsewhere-pod", map[string]string{"app": "web"}, "ReplicaSet/rs")
	labelled := func(data string) func(*kubetest.ConfigMap) {
		return func(cm *kubetest.ConfigMap) {
			cm.Metadata.Labels = map[string]string{"team": "web"}
			cm.Metadata.Annotations = sel("app=web")
			cm.Data = msg(data)
		}
	}
	fx.f.UpdateObject("configmaps", "elsewhere", "web-config", labelled("1"))
	fx.f.UpdateObject("configmaps", "elsewhere", "web-config", labelled("2"))
	fx.f.WaitDeleted("elsewhere-pod")
	fx.f.Snapshot(func() {
		for _, s := range fx.f.Selectors {
			assert.Equal(t, "team=web", s, "every list and watch asks the server to filter")
		}
	})
}

func TestRestartIsReportedAsAnEventOnTheConfigMap(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "Restarted")
	assert.Equal(t, "Normal", ev.Type)
	assert.Equal(t, "Restarted 3 of 3 pods matching app=frontend: content changed", ev.Message)

	fx.f.PutConfigMap("frontend-config", sel("app in (frontend"), msg("v3"))
	warn := fx.f.WaitEvent("ConfigMap/frontend-config", "InvalidSelector")
	assert.Equal(t, "Warning", warn.Type)
}
