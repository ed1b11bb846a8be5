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

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContentChangeRestartsMatchingPodsOnly(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("Welcome to Custom Controllers!"))
	fx.f.WaitDeleted(frontendPods...)
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
	fx.f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.BinaryData = map[string]string{"logo.png": "iVBORw0KGgo="} })
	fx.f.WaitDeleted(frontendPods...)
}

func TestMetadataOnlyUpdateRestartsNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.Metadata.Labels = map[string]string{"tier": "web"} })
	fx.f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.Metadata.Annotations["note"] = "edited by hand" })
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Equal(t, 1, fx.log.Count("Modification detected"), "only the sentinel's")
}

func TestUnannotatedChangeRestartsNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.PutConfigMap("plain", nil, msg("a"))
	fx.f.PutConfigMap("plain", nil, msg("b"))
	// An annotation that is removed takes the ConfigMap out of cuscon's hands.
	fx.f.PutConfigMap("frontend-config", nil, msg("changed after the annotation was removed"))
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Equal(t, 1, fx.log.Count("Modification detected"), "only the sentinel's")
	assert.NotContains(t, fx.log.String(), "Could not")
}

func TestNewlyAnnotatedConfigMapIsBaselineNotRestart(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.PutConfigMap("late", nil, msg("a"))
	fx.f.PutConfigMap("late", sel("app=frontend"), msg("a"))
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels(), "annotating is not a content change")
	fx.f.PutConfigMap("late", sel("app=frontend"), msg("b"))
	fx.f.WaitDeleted(frontendPods...)
}

func TestDeletedThenRecreatedConfigMapIsANewBaseline(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.State = "memory" })
	fx.f.DeleteConfigMap("frontend-config")
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("recreated"))
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels(), "a new object starts a new baseline")
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("then edited"))
	fx.f.WaitDeleted(frontendPods...)
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
	fx.f.Snapshot(func() {
		h := fx.f.ConfigMap("frontend-config").Metadata.Annotations[hashAnnotation]
		assert.True(t, strings.HasPrefix(h, "sha256:"), "recorded hash %q", h)
	})
}

func TestOwnRecordWritesRestartNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.WaitUntil("both baselines recorded", func() bool { return fx.f.Patches >= 2 })
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Equal(t, 1, fx.log.Count("Modification detected"), "only the sentinel's")
}

func TestRestartWithoutChangeRestartsNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.WaitUntil("baselines recorded", func() bool { return fx.f.Patches >= 2 })
	fx.stop()
	var patches int
	fx.f.Snapshot(func() { patches = fx.f.Patches })

	fx.log, fx.stop = startCuscon(t, fx.f, nil)
	fx.log.WaitFor(t, "Synced configmaps", 1)
	fx.f.Snapshot(func() { assert.Equal(t, patches, fx.f.Patches, "matching records are not rewritten") })
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
}

func TestChangeWhileStoppedIsAppliedAtStart(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.WaitUntil("baselines recorded", func() bool { return fx.f.Patches >= 2 })
	fx.stop()
	fx.f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.Data = msg("edited while cuscon was down") })

	fx.log, fx.stop = startCuscon(t, fx.f, nil)
	fx.f.WaitDeleted(frontendPods...)
	fx.settle()
	assert.Equal(t, 2, fx.log.Count("Modification detected"), "once for frontend, once for the sentinel")
	fx.f.Snapshot(func() {
		cm := fx.f.ConfigMap("frontend-config")
		assert.Equal(t, kube.ContentHash(&kube.Object{Data: cm.Data}), cm.Metadata.Annotations[hashAnnotation])
	})
}

func TestMemoryStateWritesNothingAndForgetsAcrossRestarts(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.State = "memory" })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
	fx.stop()
	fx.f.AddPods("frontend-new", 1, map[string]string{"app": "frontend"})
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v3 while down"))

	fx.log, fx.stop = startCuscon(t, fx.f, func(c *config) { c.State = "memory" })
	fx.log.WaitFor(t, "Synced configmaps", 1)
	fx.settle()
	assert.NotContains(t, fx.f.DeletedPods(), "frontend-new-0", "memory state cannot see changes made while down")
	fx.f.Snapshot(func() { assert.Zero(t, fx.f.Patches) })
}

func TestEmptySelectorIsRefused(t *testing.T) {
	fx := newFixture(t, nil)
	for i, s := range []string{"", "   "} {
		fx.f.PutConfigMap("everything", sel(s), msg("a"))
		fx.f.PutConfigMap("everything", sel(s), msg(fmt.Sprint("b", i)))
	}
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())
	assert.Equal(t, 2, fx.log.Count("Could not restart pods matching"))
	assert.Contains(t, fx.log.String(), "configmap=everything")
	fx.f.Snapshot(func() {
		for _, s := range fx.f.PodLists {
			assert.NotEmpty(t, strings.TrimSpace(s), "no pod list may be sent with an empty selector")
		}
	})
}

func TestInvalidSelectorIsReportedAndLaterFixApplies(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.PutConfigMap("frontend-config", sel("app=frontend,,!!"), msg("v2"))
	fx.log.WaitFor(t, "Could not restart pods matching", 1)
	assert.Contains(t, fx.log.String(), "configmap=frontend-config")
	assert.Contains(t, fx.log.String(), "empty label key", "refused before any pod list, with the reason")
	fx.settle()
	assert.Empty(t, fx.deletedBesidesSentinels())

	// Fixing only the selector still owes the pods the restart for v2.
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
}

func TestSelectorIsURLEncoded(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.AddPod("canary-0", map[string]string{"app": "canary"}, true)
	fx.f.PutConfigMap("frontend-config", sel("app in (frontend, canary)"), msg("v2"))
	fx.f.WaitDeleted(append(frontendPods, "canary-0")...)
	fx.f.Snapshot(func() { assert.Contains(t, fx.f.PodLists, "app in (frontend, canary)") })
}

func TestTerminatingAndFinishedPodsAreSkipped(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.Snapshot(func() {
		fx.f.Pods["frontend-1"].Metadata.DeletionTimestamp = "2026-11-22T00:00:00Z"
		fx.f.Pods["frontend-2"].Status.Phase = "Succeeded"
	})
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.log.WaitFor(t, "Restarted 1 of 3 pods", 1)
	assert.Equal(t, []string{"frontend-0"}, fx.deletedBesidesSentinels())
	assert.Contains(t, fx.log.String(), "Skipping frontend-1: already terminating")
	assert.Contains(t, fx.log.String(), "Skipping frontend-2: already finished")
}

func TestUnownedPodIsKeptUnlessAllowed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprint("allowed=", allow), func(t *testing.T) {
			fx := newFixture(t, func(c *config) { c.DeleteUnownedPods = allow })
			fx.f.AddPod("bare", map[string]string{"app": "frontend"}, false)
			fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
			fx.log.WaitFor(t, "Restarted", 1)
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
	fx.f.Snapshot(func() { fx.f.DeleteGate = gate })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitUntil("frontend-0's DELETE is in flight", func() bool { return kubetest.Contains(fx.f.DeleteReqs, "frontend-0") })
	// A StatefulSet-like replacement takes the name; another pod vanishes on its own.
	replacement := fx.f.AddPod("frontend-0", map[string]string{"app": "frontend"}, true)
	fx.f.Snapshot(func() { delete(fx.f.Pods, "frontend-1"); fx.f.DeleteGate = nil })
	close(gate)
	fx.log.WaitFor(t, "Restarted 3 of 3 pods", 1)
	fx.f.Snapshot(func() {
		assert.Equal(t, replacement.Metadata.UID, fx.f.Pods["frontend-0"].Metadata.UID, "the new pod survives")
	})
	assert.Contains(t, fx.log.String(), "frontend-0 was already replaced")
	assert.Contains(t, fx.log.String(), "frontend-1 was already gone")
	assert.Contains(t, fx.log.String(), "frontend-2 was deleted successfully")
}

func TestPlainText500OnDeleteIsRetriedThenReported(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.Snapshot(func() { fx.f.FailDelete["frontend-0"] = 1; fx.f.FailDelete["frontend-1"] = 100 })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.log.WaitFor(t, "Restarted 2 of 3 pods", 1)
	assert.ElementsMatch(t, []string{"frontend-0", "frontend-2"}, fx.deletedBesidesSentinels())
	assert.Contains(t, fx.log.String(), "Could not delete frontend-1: 500 Internal Server Error: Error trying to reach service")
	fx.settle()
}

func TestShutdownLetsInFlightDeleteFinish(t *testing.T) {
	fx := newFixture(t, nil)
	gate := make(chan struct{})
	fx.f.Snapshot(func() { fx.f.DeleteGate = gate })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitUntil("a DELETE in flight", func() bool { return len(fx.f.DeleteReqs) > 0 })
	stopped := make(chan struct{})
	go func() { fx.stop(); close(stopped) }()
	fx.f.Snapshot(func() { fx.f.DeleteGate = nil })
	close(gate)
	<-stopped
	assert.Contains(t, fx.log.String(), "frontend-0 was deleted successfully")
	fx.f.Snapshot(func() { assert.Contains(t, fx.f.Deleted, "frontend-0") })
}

func TestShutdownIsBoundedWhenRequestsHang(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.ShutdownTimeout = 50 * time.Millisecond })
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	fx.f.Snapshot(func() { fx.f.DeleteGate = gate })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitUntil("a DELETE in flight", func() bool { return len(fx.f.DeleteReqs) > 0 })
	fx.stop() // returns although the DELETE never answers
	assert.Contains(t, fx.log.String(), "Could not delete frontend-0")
	require.NotContains(t, fx.log.String(), "frontend-0 was deleted successfully")
}
