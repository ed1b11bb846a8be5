// controller_test.go proves the controller's behaviour against the fake API, a row of
// the README's decision tables at a time: what restarts pods and what does not, how bad
// selectors are refused without losing later changes, which pods are skipped, and how
// DELETEs are guarded; and that shutdown lets the restart under way finish, bounded.

package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContentChangeRestartsMatchingPodsOnly(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("Welcome to Custom Controllers!"))
	fx.f.waitDeleted(frontendPods...)
	fx.settle()
	assert.ElementsMatch(t, frontendPods, fx.deletedBesidesSentinels(), "backend pods must stay")
	out := fx.log.String()
	assert.Equal(t, 2, strings.Count(out, "Modification detected"), "frontend and one sentinel change")
	for _, p := range frontendPods {
		assert.Contains(t, out, p+" was deleted successfully")
	}
	assert.Contains(t, out, "Restarted 3 of 3 pods matching app=frontend")
}

func TestBinaryDataChangeRestartsPods(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.BinaryData = map[string]string{"logo.png": "iVBORw0KGgo="} })
	fx.f.waitDeleted(frontendPods...)
}

func TestMetadataOnlyUpdateRestartsNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.Metadata.Labels = map[string]string{"tier": "web"} })
	fx.f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.Metadata.Annotations["note"] = "edited by hand" })
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Equal(t, 1, fx.log.count("Modification detected"), "only the sentinel's")
}

func TestUnannotatedChangeRestartsNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.putConfigMap("plain", nil, msg("a"))
	fx.f.putConfigMap("plain", nil, msg("b"))
	// An annotation that is removed takes the ConfigMap out of cuscon's hands.
	fx.f.putConfigMap("frontend-config", nil, msg("changed after the annotation was removed"))
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Equal(t, 1, fx.log.count("Modification detected"), "only the sentinel's")
	assert.NotContains(t, fx.log.String(), "Could not")
}

func TestNewlyAnnotatedConfigMapIsBaselineNotRestart(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.putConfigMap("late", nil, msg("a"))
	fx.f.putConfigMap("late", sel("app=frontend"), msg("a"))
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels(), "annotating is not a content change")
	fx.f.putConfigMap("late", sel("app=frontend"), msg("b"))
	fx.f.waitDeleted(frontendPods...)
}

func TestDeletedThenRecreatedConfigMapIsANewBaseline(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.State = "memory" })
	fx.f.deleteConfigMap("frontend-config")
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("recreated"))
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels(), "a new object starts a new baseline")
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("then edited"))
	fx.f.waitDeleted(frontendPods...)
}

func TestStartupIsBaseline(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.State = "memory" })
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels(), "the first list restarts nothing")
}

func TestFirstSightIsRecordedNotRestarted(t *testing.T) {
	fx := newFixture(t, nil)
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	fx.f.snapshot(func() {
		h := fx.f.configMap("frontend-config").Metadata.Annotations[hashAnnotation]
		assert.True(t, strings.HasPrefix(h, "sha256:"), "recorded hash %q", h)
	})
}

func TestOwnRecordWritesRestartNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.waitUntil("both baselines recorded", func() bool { return fx.f.patches >= 2 })
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Equal(t, 1, fx.log.count("Modification detected"), "only the sentinel's")
}

func TestRestartWithoutChangeRestartsNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.waitUntil("baselines recorded", func() bool { return fx.f.patches >= 2 })
	fx.stop()
	var patches int
	fx.f.snapshot(func() { patches = fx.f.patches })

	fx.log, fx.stop = startCuscon(t, fx.f, nil)
	fx.log.waitFor(t, "Synced configmaps", 1)
	fx.f.snapshot(func() { assert.Equal(t, patches, fx.f.patches, "matching records are not rewritten") })
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
}

func TestChangeWhileStoppedIsAppliedAtStart(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.waitUntil("baselines recorded", func() bool { return fx.f.patches >= 2 })
	fx.stop()
	fx.f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.Data = msg("edited while cuscon was down") })

	fx.log, fx.stop = startCuscon(t, fx.f, nil)
	fx.f.waitDeleted(frontendPods...)
	fx.settle()
	assert.Equal(t, 2, fx.log.count("Modification detected"), "once for frontend, once for the sentinel")
	fx.f.snapshot(func() {
		cm := fx.f.configMap("frontend-config")
		assert.Equal(t, contentHash(&source{Data: cm.Data}), cm.Metadata.Annotations[hashAnnotation])
	})
}

func TestMemoryStateWritesNothingAndForgetsAcrossRestarts(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.State = "memory" })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
	fx.stop()
	fx.f.addPods("frontend-new", 1, map[string]string{"app": "frontend"})
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v3 while down"))

	fx.log, fx.stop = startCuscon(t, fx.f, func(c *config) { c.State = "memory" })
	fx.log.waitFor(t, "Synced configmaps", 1)
	fx.settle()
	assert.NotContains(t, fx.f.deletedPods(), "frontend-new-0", "memory state cannot see changes made while down")
	fx.f.snapshot(func() { assert.Zero(t, fx.f.patches) })
}

func TestEmptySelectorIsRefused(t *testing.T) {
	fx := newFixture(t, nil)
	for i, s := range []string{"", "   "} {
		fx.f.putConfigMap("everything", sel(s), msg("a"))
		fx.f.putConfigMap("everything", sel(s), msg(fmt.Sprint("b", i)))
	}
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Equal(t, 2, fx.log.count("Could not restart pods matching"))
	assert.Contains(t, fx.log.String(), "configmap=everything")
	fx.f.snapshot(func() {
		for _, s := range fx.f.podLists {
			assert.NotEmpty(t, strings.TrimSpace(s), "no pod list may be sent with an empty selector")
		}
	})
}

func TestInvalidSelectorIsReportedAndLaterFixApplies(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.putConfigMap("frontend-config", sel("app=frontend,,!!"), msg("v2"))
	fx.log.waitFor(t, "Could not restart pods matching", 1)
	assert.Contains(t, fx.log.String(), "configmap=frontend-config")
	assert.Contains(t, fx.log.String(), "empty label key", "refused before any pod list, with the reason")
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())

	// Fixing only the selector still owes the pods the restart for v2.
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
}

func TestSelectorIsURLEncoded(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.addPod("canary-0", map[string]string{"app": "canary"}, true)
	fx.f.putConfigMap("frontend-config", sel("app in (frontend, canary)"), msg("v2"))
	fx.f.waitDeleted(append(frontendPods, "canary-0")...)
	fx.f.snapshot(func() { assert.Contains(t, fx.f.podLists, "app in (frontend, canary)") })
}

func TestTerminatingAndFinishedPodsAreSkipped(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.snapshot(func() {
		fx.f.pods["frontend-1"].Metadata.DeletionTimestamp = "2026-11-22T00:00:00Z"
		fx.f.pods["frontend-2"].Status.Phase = "Succeeded"
	})
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.log.waitFor(t, "Restarted 1 of 3 pods", 1)
	assert.Equal(t, []string{"frontend-0"}, fx.deletedBesidesSentinels())
	assert.Contains(t, fx.log.String(), "Skipping frontend-1: already terminating")
	assert.Contains(t, fx.log.String(), "Skipping frontend-2: already finished")
}

func TestUnownedPodIsKeptUnlessAllowed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprint("allowed=", allow), func(t *testing.T) {
			fx := newFixture(t, func(c *config) { c.DeleteUnownedPods = allow })
			fx.f.addPod("bare", map[string]string{"app": "frontend"}, false)
			fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
			fx.log.waitFor(t, "Restarted", 1)
			if allow {
				assert.Contains(t, fx.deletedBesidesSentinels(), "bare")
			} else {
				assert.NotContains(t, fx.deletedBesidesSentinels(), "bare")
				assert.Contains(t, fx.log.String(), "Skipping bare: no controller owns it")
			}
		})
	}
}

func TestDeleteIsGuardedByUID(t *testing.T) {
	fx := newFixture(t, nil)
	gate := make(chan struct{})
	fx.f.snapshot(func() { fx.f.deleteGate = gate })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitUntil("frontend-0's DELETE is in flight", func() bool { return contains(fx.f.deleteReqs, "frontend-0") })
	// A StatefulSet-like replacement takes the name; another pod vanishes on its own.
	replacement := fx.f.addPod("frontend-0", map[string]string{"app": "frontend"}, true)
	fx.f.snapshot(func() { delete(fx.f.pods, "frontend-1"); fx.f.deleteGate = nil })
	close(gate)
	fx.log.waitFor(t, "Restarted 3 of 3 pods", 1)
	fx.f.snapshot(func() {
		assert.Equal(t, replacement.Metadata.UID, fx.f.pods["frontend-0"].Metadata.UID, "the new pod survives")
	})
	assert.Contains(t, fx.log.String(), "frontend-0 was already replaced")
	assert.Contains(t, fx.log.String(), "frontend-1 was already gone")
	assert.Contains(t, fx.log.String(), "frontend-2 was deleted successfully")
}

func TestPlainText500OnDeleteIsRetriedThenReported(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.snapshot(func() { fx.f.failDelete["frontend-0"] = 1; fx.f.failDelete["frontend-1"] = 100 })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.log.waitFor(t, "Restarted 2 of 3 pods", 1)
	assert.ElementsMatch(t, []string{"frontend-0", "frontend-2"}, fx.deletedBesidesSentinels())
	assert.Contains(t, fx.log.String(), "Could not delete frontend-1: 500 Internal Server Error: Error trying to reach service")
	fx.settle()
}

func TestShutdownLetsInFlightDeleteFinish(t *testing.T) {
	fx := newFixture(t, nil)
	gate := make(chan struct{})
	fx.f.snapshot(func() { fx.f.deleteGate = gate })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitUntil("a DELETE in flight", func() bool { return len(fx.f.deleteReqs) > 0 })
	stopped := make(chan struct{})
	go func() { fx.stop(); close(stopped) }()
	fx.f.snapshot(func() { fx.f.deleteGate = nil })
	close(gate)
	<-stopped
	assert.Contains(t, fx.log.String(), "frontend-0 was deleted successfully")
	fx.f.snapshot(func() { assert.Contains(t, fx.f.deleted, "frontend-0") })
}

func TestShutdownIsBoundedWhenRequestsHang(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.ShutdownTimeout = 50 * time.Millisecond })
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	fx.f.snapshot(func() { fx.f.deleteGate = gate })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitUntil("a DELETE in flight", func() bool { return len(fx.f.deleteReqs) > 0 })
	fx.stop() // returns although the DELETE never answers
	assert.Contains(t, fx.log.String(), "Could not delete frontend-0")
	require.NotContains(t, fx.log.String(), "frontend-0 was deleted successfully")
}
