// hardening_test.go proves, against the fake API, what issue 10 found missing: a broad
// selector deletes nothing, cuscon never restarts itself, a restart is recorded only
// when complete and what is owed is retried and resumed, a pod list cut off is retried,
// and a hung namespace holds up no other.

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectorsWithNoPositiveRequirementDeleteNothing(t *testing.T) {
	fx := newFixture(t, nil)
	for _, s := range []string{"!nonexistent", "app notin (zzz)", "tier!=db"} {
		name := "broad-" + strings.NewReplacer("!", "", " ", "-", "(", "", ")", "", "=", "").Replace(s)
		fx.f.PutConfigMap(name, sel(s), msg("a"))
		fx.f.PutConfigMap(name, sel(s), msg("b"))
		ev := fx.f.WaitEvent("ConfigMap/"+name, "InvalidSelector")
		assert.Contains(t, ev.Message, "no requirement a pod must meet")
	}
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels(), "not one pod of the namespace")
	fx.f.Snapshot(func() { assert.NotContains(t, fx.f.PodLists, "tier!=db", "refused before any pod list") })
	assert.Contains(t, fx.log.String(), "configmap=broad-tierdb")
}

func TestCusconNeverRestartsItsOwnPod(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Identity = "cuscon-5f7-abcde" })
	fx.f.AddPod("cuscon-5f7-abcde", map[string]string{"app": "frontend"}, true)
	fx.f.PutConfigMap("frontend-config", sel("app"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
	fx.log.WaitFor(t, "Skipping cuscon-5f7-abcde: it is cuscon's own pod", 1)
	fx.settle()
	assert.NotContains(t, fx.deletedBesidesSentinels(), "cuscon-5f7-abcde")
}

// cusconReplicas adds cuscon's two replicas to the fake, as the HA manifests run them:
// pods of ReplicaSet cuscon-5f7 of Deployment cuscon, labelled app=cuscon.
func cusconReplicas(f *kubetest.API) {
	for _, name := range []string{"cuscon-5f7-abcde", "cuscon-5f7-fghij"} {
		f.AddPodIn(f.NS, name, map[string]string{"app": "cuscon", "pod-template-hash": "5f7"}, "ReplicaSet/cuscon-5f7")
	}
}

// asReplica runs cuscon as the first of cuscon's replicas, in the fake's namespace.
func asReplica(c *config) { c.Identity, c.PodNamespace = "cuscon-5f7-abcde", "default" }

func TestATenantCannotHaveCusconRestartItsReplicas(t *testing.T) {
	for _, row := range []struct {
		name     string
		strategy string
	}{{"delete", "delete"}, {"evict", "evict"}, {"rollout chosen by the operator", "rollout"}} {
		t.Run(row.name, func(t *testing.T) {
			f := kubetest.New(t, "default")
			cusconReplicas(f)
			f.PutConfigMap("sentinel", sel("app=sentinel"), msg("0"))
			f.PutConfigMap("evil", sel("app=cuscon"), msg("v1"))
			fx := &fixture{t: t, f: f}
			fx.log, fx.stop = startCuscon(t, f, func(c *config) { asReplica(c); c.Strategy = row.strategy })
			fx.log.WaitFor(t, `Synced configmaps in "default"`, 1)
			f.PutConfigMap("evil", sel("app=cuscon"), msg("v2"))
			fx.log.WaitFor(t, "Skipping cuscon-5f7-fghij: it is a replica of cuscon itself (Deployment/cuscon)", 1)
			fx.log.WaitFor(t, "Skipping cuscon-5f7-abcde: it is cuscon's own pod", 1)
			fx.log.WaitFor(t, "Restarted 0 of 2 pods matching app=cuscon", 1) // the job's end
			assert.Empty(t, fx.deletedBesidesSentinels(), "neither replica")
			f.Snapshot(func() { assert.Empty(t, f.Rollouts, "nor the Deployment that runs them") })
		})
	}
}

func TestAnObjectCannotChooseRolloutUnlessTheOperatorAllowedIt(t *testing.T) {
	fx := newFixture(t, nil)
	annotations := map[string]string{selectorKey: "app=frontend", restart.StrategyAnnotation: "rollout"}
	fx.f.PutConfigMap("frontend-config", annotations, msg("v2"))
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "InvalidStrategy")
	assert.Contains(t, ev.Message, "not a strategy objects may choose here")
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	fx.f.Snapshot(func() { assert.Empty(t, fx.f.Rollouts) })
}

// owedLocked reads the cuscon.dev/owed record of frontend-config; the fake's lock is held
// (as in waitUntil's condition).
func (fx *fixture) owedLocked() *owedWork {
	raw := fx.f.Objects["configmaps/default/frontend-config"].Metadata.Annotations[owedAnnotation]
	if raw == "" {
		return nil
	}
	w := &owedWork{}
	require.NoError(fx.t, json.Unmarshal([]byte(raw), w))
	return w
}

// owed reads the cuscon.dev/owed record of frontend-config.
func (fx *fixture) owed() (w *owedWork) {
	fx.f.Snapshot(func() { w = fx.owedLocked() })
	return w
}

func TestARefusedDeleteStaysOwedAndIsRetriedUntilItWorks(t *testing.T) {
	fx := newFixture(t, nil)
	base := fx.log.ServerURL(t)
	fx.f.Snapshot(func() { fx.f.RefuseDelete["frontend-1"] = true })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	ev := fx.f.WaitEvent("ConfigMap/frontend-config", "RestartIncomplete")
	assert.Contains(t, ev.Message, "Restarted 2 of 3 pods")
	assert.Contains(t, ev.Message, "frontend-1: 403 Forbidden")
	fx.f.WaitUntil("the owed pod recorded", func() bool { return fx.owedLocked() != nil })
	fx.f.Snapshot(func() { assert.Equal(t, []string{fx.f.Pods["frontend-1"].Metadata.UID}, fx.owedLocked().Pods) })
	fx.f.Snapshot(func() {
		assert.NotEqual(t, kube.ContentHash(&kube.Object{Data: msg("v2")}), fx.f.Objects["configmaps/default/frontend-config"].Metadata.Annotations[hashAnnotation],
			"an incomplete restart is not recorded as applied")
	})
	_, body := kubetest.Get(t, base+"/metrics")
	samples := kubetest.ParseMetrics(t, body)
	assert.Equal(t, 1.0, kubetest.Value(samples, "cuscon_restarts_owed"))
	assert.Equal(t, 1.0, kubetest.Value(samples, "cuscon_pods_owed"))

	fx.log.WaitFor(t, "Could not delete frontend-1", 2) // retried, not given up
	fx.f.Snapshot(func() { fx.f.RefuseDelete["frontend-1"] = false })
	fx.f.WaitDeleted("frontend-1")
	fx.f.WaitUntil("the change recorded as applied", func() bool {
		return fx.f.Objects["configmaps/default/frontend-config"].Metadata.Annotations[hashAnnotation] == kube.ContentHash(&kube.Object{Data: msg("v2")})
	})
	assert.Nil(t, fx.owed(), "nothing owed any more")
	_, body = kubetest.Get(t, base+"/metrics")
	assert.Equal(t, 0.0, kubetest.Value(kubetest.ParseMetrics(t, body), "cuscon_pods_owed"))
	fx.f.Snapshot(func() {
		assert.Equal(t, 1, strings.Count(strings.Join(fx.f.Deleted, " "), "frontend-0"), "pods replaced are not restarted again")
	})
}

func TestARestartedCusconResumesOnlyThePodsLeft(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.Snapshot(func() { fx.f.RefuseDelete["frontend-2"] = true })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitUntil("the owed pod recorded", func() bool { return fx.owedLocked() != nil })
	fx.stop()
	// While cuscon is down, the ReplicaSet's new pods start, with the new content.
	fx.f.AddPods("frontend-new", 2, map[string]string{"app": "frontend"})
	fx.f.Snapshot(func() { fx.f.RefuseDelete["frontend-2"] = false })

	log, _ := startCuscon(t, fx.f, nil)
	fx.f.WaitDeleted("frontend-2")
	log.WaitFor(t, "reason=\"resuming an incomplete restart\"", 1)
	log.WaitFor(t, "Restarted 1 of 1 pods", 1)
	fx.f.Snapshot(func() {
		assert.ElementsMatch(t, []string{"frontend-0", "frontend-1", "frontend-2"}, fx.f.Deleted, "frontend-new-* already run v2")
	})
	fx.f.WaitUntil("nothing owed", func() bool { return fx.owedLocked() == nil })
}

func TestAPodListCutOffMidBodyIsRetried(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.Snapshot(func() { fx.f.CutLists = 1 })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
	assert.Contains(t, fx.log.String(), "Could not list pods, retrying")
}

func TestAHungNamespaceHoldsUpNoOther(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Namespaces = "default,slow" })
	fx.log.WaitFor(t, `Synced configmaps in "slow"`, 1)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	fx.f.AddPodIn("slow", "slow-0", map[string]string{"app": "frontend"}, "ReplicaSet/rs")
	fx.f.UpdateObject("configmaps", "slow", "cfg", func(cm *kubetest.ConfigMap) { cm.Metadata.Annotations = sel("app=frontend"); cm.Data = msg("1") })
	fx.f.Snapshot(func() { fx.f.ListGate["slow"] = gate })
	fx.f.UpdateObject("configmaps", "slow", "cfg", func(cm *kubetest.ConfigMap) { cm.Data = msg("2") })
	fx.f.WaitUntil("slow's pod list hanging", func() bool { return len(fx.f.PodLists) > 0 })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
	fx.f.Snapshot(func() { assert.NotContains(t, fx.f.Deleted, "slow-0", "still waiting for its list") })
}

func TestAnUnreadableOwedRecordRestartsEverythingAgain(t *testing.T) {
	obs := cm("x", "h2", map[string]string{selectorKey: "app=x", hashAnnotation: "h1", owedAnnotation: "{not json"})
	assert.Nil(t, obs.recorded.owed)
	_, v := decide(objState{}, false, obs, policy{strategy: "delete", recordState: true})
	assert.Equal(t, restartAll, v.kind, "nothing is known to be done: at least once beats never")
	assert.Nil(t, v.order.Only)
}

func TestDeletesAreSentTogetherNotOneAfterAnother(t *testing.T) {
	fx := newFixture(t, nil)
	gate := make(chan struct{})
	fx.f.Snapshot(func() { fx.f.DeleteGate = gate })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitUntil("all three DELETEs in flight at once", func() bool { return len(fx.f.DeleteReqs) == 3 })
	fx.f.Snapshot(func() { assert.Empty(t, fx.f.Deleted, "none has been answered yet") })
	fx.f.Snapshot(func() { fx.f.DeleteGate = nil })
	close(gate)
	fx.log.WaitFor(t, "Restarted 3 of 3 pods", 1)
}

func TestAnObjectPaddedToTheAnnotationBoundStillGetsARecordOfWhatIsOwed(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.Snapshot(func() { fx.f.RefuseDelete["frontend-1"], fx.f.RefuseDelete["frontend-2"] = true, true })
	hash := kube.ContentHash(&kube.Object{Data: msg("v1")}) // as long as any hash
	allOwed, _ := json.Marshal(owedWork{Hash: hash, Owed: restart.Owed{All: true}})
	room := kubetest.MaxAnnotationsSize - kubetest.AnnotationsSize(map[string]string{selectorKey: "app=frontend", hashAnnotation: hash,
		owedAnnotation: string(allOwed), "pad": ""})
	padded := map[string]string{selectorKey: "app=frontend", "pad": strings.Repeat("x", room)} // "all" fits exactly; two uids do not
	fx.f.PutConfigMap("frontend-config", padded, msg("v2"))
	fx.f.WaitEvent("ConfigMap/frontend-config", "RestartIncomplete")
	fx.f.WaitUntil("what is owed recorded", func() bool { return fx.owedLocked() != nil })
	assert.True(t, fx.owed().All, "the short form: every pod restarts again rather than the record failing")
	assert.NotContains(t, fx.log.String(), "RecordRefused")
}

func TestCusconRunningOutsideTheNamespacesItWatchesStillRestartsThere(t *testing.T) {
	// Its Role is bound only where it watches: its own pod cannot be looked up (403), and
	// no pod of default can be one of its replicas anyway.
	f := kubetest.New(t, "default")
	f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v1"))
	f.AddPods("frontend", 3, map[string]string{"app": "frontend"})
	f.Snapshot(func() { f.ForbidPodLists["cuscon-system"] = true })
	log, _ := startCuscon(t, f, func(c *config) { c.Identity, c.PodNamespace = "cuscon-7d9-x2x", "cuscon-system" })
	log.WaitFor(t, `Synced configmaps in "default"`, 1)
	f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	f.WaitDeleted(frontendPods...)
}

func TestReloaderModeRunningOutsideTheNamespacesItWatchesStillChecksThem(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.Snapshot(func() { f.ForbidPodLists["cuscon-system"] = true })
	startReloader(t, f, func(c *config) { c.Identity, c.PodNamespace = "cuscon-7d9-x2x", "cuscon-system" })
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitUntil("app rolled", func() bool { return kubetest.Contains(f.Rollouts, "deployments/app") })
}

func TestRestartsInItsOwnNamespaceWaitUntilCusconHasFoundItsOwnPod(t *testing.T) {
	// POD_NAME names no pod (hostNetwork gives the node's hostname): cuscon cannot tell
	// its replicas from other pods there, and says so, rather than guess.
	f := kubetest.New(t, "default")
	f.PutConfigMap("sentinel", sel("app=sentinel"), msg("0"))
	cusconReplicas(f)
	f.PutConfigMap("evil", sel("app=cuscon"), msg("v1"))
	log, _ := startCuscon(t, f, func(c *config) { c.Identity, c.PodNamespace = "node-1", "default" })
	log.WaitFor(t, `Synced configmaps in "default"`, 1)
	f.PutConfigMap("evil", sel("app=cuscon"), msg("v2"))
	ev := f.WaitEvent("ConfigMap/evil", "RestartIncomplete")
	assert.Contains(t, ev.Message, "cuscon's own pod default/node-1 was not found")
	log.WaitFor(t, "Could not restart pods yet", 2) // owed, and retried
	assert.Empty(t, f.DeletedPods(), "neither replica deleted while cuscon cannot tell them apart")
}
