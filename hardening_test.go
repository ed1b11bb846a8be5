// hardening_test.go proves, against the fake API, what issue 10 found missing: a broad
// selector deletes nothing, cuscon never restarts itself, a restart is recorded only
// when complete and what is owed is retried and resumed, a pod list cut off is retried,
// and a hung namespace holds up no other.

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectorsWithNoPositiveRequirementDeleteNothing(t *testing.T) {
	fx := newFixture(t, nil)
	for _, s := range []string{"!nonexistent", "app notin (zzz)", "tier!=db"} {
		name := "broad-" + strings.NewReplacer("!", "", " ", "-", "(", "", ")", "", "=", "").Replace(s)
		fx.f.putConfigMap(name, sel(s), msg("a"))
		fx.f.putConfigMap(name, sel(s), msg("b"))
		ev := fx.f.waitEvent("ConfigMap/"+name, "InvalidSelector")
		assert.Contains(t, ev.Message, "no requirement a pod must meet")
	}
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels(), "not one pod of the namespace")
	fx.f.snapshot(func() { assert.NotContains(t, fx.f.podLists, "tier!=db", "refused before any pod list") })
	assert.Contains(t, fx.log.String(), "configmap=broad-tierdb")
}

func TestCusconNeverRestartsItsOwnPod(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Identity = "cuscon-5f7-abcde" })
	fx.f.addPod("cuscon-5f7-abcde", map[string]string{"app": "frontend"}, true)
	fx.f.putConfigMap("frontend-config", sel("app"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
	fx.log.waitFor(t, "Skipping cuscon-5f7-abcde: it is cuscon's own pod", 1)
	fx.settle()
	assert.NotContains(t, fx.deletedBesidesSentinels(), "cuscon-5f7-abcde")
}

// cusconReplicas adds cuscon's two replicas to the fake, as the HA manifests run them:
// pods of ReplicaSet cuscon-5f7 of Deployment cuscon, labelled app=cuscon.
func cusconReplicas(f *fakeAPI) {
	for _, name := range []string{"cuscon-5f7-abcde", "cuscon-5f7-fghij"} {
		f.addPodIn(f.ns, name, map[string]string{"app": "cuscon", "pod-template-hash": "5f7"}, "ReplicaSet/cuscon-5f7")
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
			f := newFakeAPI(t, "default")
			cusconReplicas(f)
			f.putConfigMap("sentinel", sel("app=sentinel"), msg("0"))
			f.putConfigMap("evil", sel("app=cuscon"), msg("v1"))
			fx := &fixture{t: t, f: f}
			fx.log, fx.stop = startCuscon(t, f, func(c *config) { asReplica(c); c.Strategy = row.strategy })
			fx.log.waitFor(t, `Synced configmaps in "default"`, 1)
			f.putConfigMap("evil", sel("app=cuscon"), msg("v2"))
			fx.log.waitFor(t, "Skipping cuscon-5f7-fghij: it is a replica of cuscon itself (Deployment/cuscon)", 1)
			fx.log.waitFor(t, "Skipping cuscon-5f7-abcde: it is cuscon's own pod", 1)
			fx.log.waitFor(t, "Restarted 0 of 2 pods matching app=cuscon", 1) // the job's end
			assert.Empty(t, fx.deletedBesidesSentinels(), "neither replica")
			f.snapshot(func() { assert.Empty(t, f.rollouts, "nor the Deployment that runs them") })
		})
	}
}

func TestAnObjectCannotChooseRolloutUnlessTheOperatorAllowedIt(t *testing.T) {
	fx := newFixture(t, nil)
	annotations := map[string]string{selectorKey: "app=frontend", strategyAnnotation: "rollout"}
	fx.f.putConfigMap("frontend-config", annotations, msg("v2"))
	ev := fx.f.waitEvent("ConfigMap/frontend-config", "InvalidStrategy")
	assert.Contains(t, ev.Message, "not a strategy objects may choose here")
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	fx.f.snapshot(func() { assert.Empty(t, fx.f.rollouts) })
}

// owedLocked reads the cuscon.dev/owed record of frontend-config; the fake's lock is held
// (as in waitUntil's condition).
func (fx *fixture) owedLocked() *owedWork {
	raw := fx.f.objects["configmaps/default/frontend-config"].Metadata.Annotations[owedAnnotation]
	if raw == "" {
		return nil
	}
	w := &owedWork{}
	require.NoError(fx.t, json.Unmarshal([]byte(raw), w))
	return w
}

// owed reads the cuscon.dev/owed record of frontend-config.
func (fx *fixture) owed() (w *owedWork) {
	fx.f.snapshot(func() { w = fx.owedLocked() })
	return w
}

func TestARefusedDeleteStaysOwedAndIsRetriedUntilItWorks(t *testing.T) {
	fx := newFixture(t, nil)
	base := serverURL(t, fx.log)
	fx.f.snapshot(func() { fx.f.refuseDelete["frontend-1"] = true })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	ev := fx.f.waitEvent("ConfigMap/frontend-config", "RestartIncomplete")
	assert.Contains(t, ev.Message, "Restarted 2 of 3 pods")
	assert.Contains(t, ev.Message, "frontend-1: 403 Forbidden")
	fx.f.waitUntil("the owed pod recorded", func() bool { return fx.owedLocked() != nil })
	fx.f.snapshot(func() { assert.Equal(t, []string{fx.f.pods["frontend-1"].Metadata.UID}, fx.owedLocked().Pods) })
	fx.f.snapshot(func() {
		assert.NotEqual(t, contentHash(&source{Data: msg("v2")}), fx.f.objects["configmaps/default/frontend-config"].Metadata.Annotations[hashAnnotation],
			"an incomplete restart is not recorded as applied")
	})
	_, body := get(t, base+"/metrics")
	samples := parseMetrics(t, body)
	assert.Equal(t, 1.0, value(samples, "cuscon_restarts_owed"))
	assert.Equal(t, 1.0, value(samples, "cuscon_pods_owed"))

	fx.log.waitFor(t, "Could not delete frontend-1", 2) // retried, not given up
	fx.f.snapshot(func() { fx.f.refuseDelete["frontend-1"] = false })
	fx.f.waitDeleted("frontend-1")
	fx.f.waitUntil("the change recorded as applied", func() bool {
		return fx.f.objects["configmaps/default/frontend-config"].Metadata.Annotations[hashAnnotation] == contentHash(&source{Data: msg("v2")})
	})
	assert.Nil(t, fx.owed(), "nothing owed any more")
	_, body = get(t, base+"/metrics")
	assert.Equal(t, 0.0, value(parseMetrics(t, body), "cuscon_pods_owed"))
	fx.f.snapshot(func() {
		assert.Equal(t, 1, strings.Count(strings.Join(fx.f.deleted, " "), "frontend-0"), "pods replaced are not restarted again")
	})
}

func TestARestartedCusconResumesOnlyThePodsLeft(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.snapshot(func() { fx.f.refuseDelete["frontend-2"] = true })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitUntil("the owed pod recorded", func() bool { return fx.owedLocked() != nil })
	fx.stop()
	// While cuscon is down, the ReplicaSet's new pods start, with the new content.
	fx.f.addPods("frontend-new", 2, map[string]string{"app": "frontend"})
	fx.f.snapshot(func() { fx.f.refuseDelete["frontend-2"] = false })

	log, _ := startCuscon(t, fx.f, nil)
	fx.f.waitDeleted("frontend-2")
	log.waitFor(t, "reason=\"resuming an incomplete restart\"", 1)
	log.waitFor(t, "Restarted 1 of 1 pods", 1)
	fx.f.snapshot(func() {
		assert.ElementsMatch(t, []string{"frontend-0", "frontend-1", "frontend-2"}, fx.f.deleted, "frontend-new-* already run v2")
	})
	fx.f.waitUntil("nothing owed", func() bool { return fx.owedLocked() == nil })
}

func TestAPodListCutOffMidBodyIsRetried(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.snapshot(func() { fx.f.cutLists = 1 })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
	assert.Contains(t, fx.log.String(), "Could not list pods, retrying")
}

func TestAHungNamespaceHoldsUpNoOther(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Namespaces = "default,slow" })
	fx.log.waitFor(t, `Synced configmaps in "slow"`, 1)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	fx.f.addPodIn("slow", "slow-0", map[string]string{"app": "frontend"}, "ReplicaSet/rs")
	fx.f.updateObject("configmaps", "slow", "cfg", func(cm *fakeConfigMap) { cm.Metadata.Annotations = sel("app=frontend"); cm.Data = msg("1") })
	fx.f.snapshot(func() { fx.f.listGate["slow"] = gate })
	fx.f.updateObject("configmaps", "slow", "cfg", func(cm *fakeConfigMap) { cm.Data = msg("2") })
	fx.f.waitUntil("slow's pod list hanging", func() bool { return len(fx.f.podLists) > 0 })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
	fx.f.snapshot(func() { assert.NotContains(t, fx.f.deleted, "slow-0", "still waiting for its list") })
}

func TestAnUnreadableOwedRecordRestartsEverythingAgain(t *testing.T) {
	c := &controller{annotation: selectorKey}
	obj := &source{Resource: configMaps, Hash: "h2", Metadata: objectMeta{Name: "x", Namespace: "default",
		Annotations: map[string]string{selectorKey: "app=x", hashAnnotation: "h1", owedAnnotation: "{not json"}}}
	obs := c.observe(obj)
	assert.Nil(t, obs.recorded.owed)
	_, v := decide(objState{}, false, obs, policy{strategy: "delete", recordState: true})
	assert.Equal(t, restartAll, v.kind, "nothing is known to be done: at least once beats never")
	assert.Nil(t, v.req.only)
}

func TestDeletesAreSentTogetherNotOneAfterAnother(t *testing.T) {
	fx := newFixture(t, nil)
	gate := make(chan struct{})
	fx.f.snapshot(func() { fx.f.deleteGate = gate })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitUntil("all three DELETEs in flight at once", func() bool { return len(fx.f.deleteReqs) == 3 })
	fx.f.snapshot(func() { assert.Empty(t, fx.f.deleted, "none has been answered yet") })
	fx.f.snapshot(func() { fx.f.deleteGate = nil })
	close(gate)
	fx.log.waitFor(t, "Restarted 3 of 3 pods", 1)
}

func TestAnObjectPaddedToTheAnnotationBoundStillGetsARecordOfWhatIsOwed(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.snapshot(func() { fx.f.refuseDelete["frontend-1"], fx.f.refuseDelete["frontend-2"] = true, true })
	hash := contentHash(&source{Data: msg("v1")}) // as long as any hash
	allOwed, _ := json.Marshal(owedWork{Hash: hash, All: true})
	room := maxAnnotationsSize - annotationsSize(map[string]string{selectorKey: "app=frontend", hashAnnotation: hash,
		owedAnnotation: string(allOwed), "pad": ""})
	padded := map[string]string{selectorKey: "app=frontend", "pad": strings.Repeat("x", room)} // "all" fits exactly; two uids do not
	fx.f.putConfigMap("frontend-config", padded, msg("v2"))
	fx.f.waitEvent("ConfigMap/frontend-config", "RestartIncomplete")
	fx.f.waitUntil("what is owed recorded", func() bool { return fx.owedLocked() != nil })
	assert.True(t, fx.owed().All, "the short form: every pod restarts again rather than the record failing")
	assert.NotContains(t, fx.log.String(), "RecordRefused")
}
