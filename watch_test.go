// watch_test.go proves the controller's behaviour against the fake API: what restarts
// pods and what does not, how the watch survives ends, breaks, expiry and a proxy that is
// down, and how bad input is refused without losing later changes. Each test names the
// behaviour it proves; each would fail if that behaviour were removed.
package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const selectorKey = "magalix.com/podDeleteMatch"

// sel returns the annotations of a ConfigMap whose pods are selected by s.
func sel(s string) map[string]string { return map[string]string{selectorKey: s} }

// msg returns ConfigMap data with one config file.
func msg(s string) map[string]string { return map[string]string{"config.cfg": `MSG="` + s + `"`} }

// fixture is the article's setup on the fake API: frontend-config selecting three
// frontend pods, two unrelated backend pods, and a sentinel ConfigMap used by settle.
type fixture struct {
	t        *testing.T
	f        *fakeAPI
	log      *logSink
	stop     func()
	sentinel int
}

// newFixture builds the setup, starts cuscon (cfg changed by edit) and waits for its
// first sync.
func newFixture(t *testing.T, edit func(*config), tune ...func(*app)) *fixture {
	f := newFakeAPI(t, "default")
	f.putConfigMap("frontend-config", sel("app=frontend"), msg("Welcome to Kubernetes"))
	f.putConfigMap("sentinel", sel("app=sentinel"), msg("0"))
	f.addPods("frontend", 3, map[string]string{"app": "frontend"})
	f.addPods("backend", 2, map[string]string{"app": "backend"})
	fx := &fixture{t: t, f: f}
	fx.log, fx.stop = startCuscon(t, f, edit, tune...)
	var probe config
	if edit != nil {
		edit(&probe)
	}
	if probe.AllNamespaces {
		fx.log.waitFor(t, "Synced configmaps in all namespaces", 1)
	} else {
		fx.log.waitFor(t, `Synced configmaps in "default"`, 1)
	}
	return fx
}

// settle proves cuscon has handled every event sent before it: it changes the sentinel
// ConfigMap and waits until the sentinel's pod is deleted, which cuscon, handling
// events in order, does only after all earlier ones.
func (fx *fixture) settle() {
	fx.t.Helper()
	fx.sentinel++
	name := fmt.Sprintf("sentinel-%d", fx.sentinel)
	fx.f.addPod(name, map[string]string{"app": "sentinel"}, true)
	fx.f.putConfigMap("sentinel", sel("app=sentinel"), msg(fmt.Sprint(fx.sentinel)))
	fx.f.waitDeleted(name)
}

// replaceWatch ends the open watch and has script serve the next watch request.
func (fx *fixture) replaceWatch(script watchScript) {
	fx.t.Helper()
	fx.f.waitWatches(1)
	fx.f.script(script)
	fx.f.endWatches()
}

// deletedBesidesSentinels lists the deleted pods that were not sentinels.
func (fx *fixture) deletedBesidesSentinels() []string {
	var out []string
	for _, p := range fx.f.deletedPods() {
		if !strings.HasPrefix(p, "sentinel-") {
			out = append(out, p)
		}
	}
	return out
}

var frontendPods = []string{"frontend-0", "frontend-1", "frontend-2"}

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

func TestCleanEndOfStreamResumesWithoutRelist(t *testing.T) {
	fx := newFixture(t, nil)
	fx.settle()
	first := fx.f.waitWatches(1)
	fx.f.endWatches()
	rvs := fx.f.waitWatches(len(first) + 1)
	listRV, _ := strconv.Atoi(rvs[0])
	resumeRV, _ := strconv.Atoi(rvs[len(rvs)-1])
	assert.Greater(t, resumeRV, listRV, "resumes from the last event seen, not the list")
	fx.settle()
	fx.f.snapshot(func() { assert.Equal(t, 1, fx.f.lists) })
}

func TestBookmarkAdvancesResourceVersion(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.script(func(w http.ResponseWriter, r *http.Request) {
		streamStart(w)
		fmt.Fprintln(w, `{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"12345"}}}`)
	})
	startCuscon(t, f, nil)
	rvs := f.waitWatches(2)
	assert.Equal(t, "12345", rvs[1])
	f.snapshot(func() { assert.Equal(t, 1, f.lists, "a bookmark never causes a relist") })
}

func TestExpiredWatchRelistsAndActsOnMissedChangeOnce(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.waitWatches(1)
	fx.f.stop() // the watch breaks, and the change below is made while it is down
	fx.f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.Data = msg("missed") })
	fx.f.compact() // and history is gone: resuming will answer 410 Expired
	fx.f.restart()
	fx.f.waitDeleted(frontendPods...)
	fx.settle()
	assert.Equal(t, 2, fx.log.count("Modification detected"), "frontend once, the sentinel once")
	assert.Contains(t, fx.log.String(), "Watch resourceVersion expired, relisting")
	fx.f.snapshot(func() { assert.Equal(t, 2, fx.f.lists) })
}

func TestHTTP410RelistsToo(t *testing.T) {
	fx := newFixture(t, nil)
	fx.replaceWatch(func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusGone, "Expired", "too old resource version")
	})
	fx.f.waitUntil("a relist", func() bool { return fx.f.lists == 2 })
	fx.settle()
}

// brokenStreamThenChange serves one watch that sends raw and breaks off, while the test
// changes frontend-config; the next, normal watch must deliver that change.
func brokenStreamThenChange(t *testing.T, raw string) *fixture {
	fx := newFixture(t, nil)
	release := make(chan struct{})
	fx.replaceWatch(func(w http.ResponseWriter, r *http.Request) {
		streamStart(w)
		<-release
		fmt.Fprint(w, raw)
	})
	n := len(fx.f.waitWatches(2))
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	close(release)
	fx.f.waitDeleted(frontendPods...)
	assert.GreaterOrEqual(t, len(fx.f.waitWatches(n+1)), n+1)
	assert.Contains(t, fx.log.String(), "Watch failed, resuming")
	return fx
}

func TestStreamCutMidObjectResumes(t *testing.T) {
	brokenStreamThenChange(t, `{"type":"MODIFIED","object":{"metadata":{"name":"frontend-con`)
}

func TestGarbledStreamResumes(t *testing.T) {
	fx := brokenStreamThenChange(t, "\x00\x01 this is not JSON }\n")
	assert.Contains(t, fx.log.String(), "decode watch event")
}

func TestWatchErrorEventOtherThan410Resumes(t *testing.T) {
	brokenStreamThenChange(t, `{"type":"ERROR","object":{"kind":"Status","code":500,"reason":"InternalError","message":"etcd is sad"}}`+"\n")
}

func TestPlainText500OnWatchResumes(t *testing.T) {
	fx := newFixture(t, nil)
	fx.replaceWatch(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Error trying to reach service: 'EOF'", http.StatusInternalServerError)
	})
	fx.log.waitFor(t, "Error trying to reach service", 1)
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
}

func TestIdleWatchIsAbandoned(t *testing.T) {
	fx := newFixture(t, nil, func(a *app) { a.watchers[0].idleTimeout = 100 * time.Millisecond })
	fx.replaceWatch(func(w http.ResponseWriter, r *http.Request) {
		streamStart(w)
		<-r.Context().Done() // a half-open connection: headers, then silence
	})
	fx.f.waitWatches(3)
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
}

func TestProxyDownAtStartIsWaitedFor(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.putConfigMap("frontend-config", sel("app=frontend"), msg("v1"))
	f.addPods("frontend", 3, map[string]string{"app": "frontend"})
	f.stop()
	log, _ := startCuscon(t, f, nil)
	log.waitFor(t, "Could not list configmaps, retrying", 3)
	f.restart()
	log.waitFor(t, "Synced configmaps", 1)
	f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	f.waitDeleted(frontendPods...)
}

func TestProxyDownMidwayLosesNoChange(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.waitWatches(1)
	fx.f.stop()
	fx.f.updateConfigMap("frontend-config", func(cm *fakeConfigMap) { cm.Data = msg("edited while the proxy was down") })
	fx.log.waitFor(t, "Watch failed, resuming", 3)
	fx.f.restart()
	fx.f.waitDeleted(frontendPods...)
	fx.settle()
	fx.f.snapshot(func() { assert.Equal(t, 1, fx.f.lists, "history was kept, so no relist") })
}

func TestPodListIsRetriedOnTransientError(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.snapshot(func() { fx.f.failLists = 3 })
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
	assert.Equal(t, 3, fx.log.count("Could not list pods, retrying"))
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

func TestAnEstablishedWatchResetsTheBackoff(t *testing.T) {
	// Each watch connects, then breaks. Without the reset the waits would double from
	// 10 ms towards an hour, and twelve reconnects would take minutes.
	fx := newFixture(t, nil, func(a *app) {
		for _, w := range a.watchers {
			w.backoff = backoffPolicy{Initial: 10 * time.Millisecond, Max: time.Hour}
		}
	})
	broken := func(w http.ResponseWriter, _ *http.Request) {
		streamStart(w)
		_, _ = w.Write([]byte(`{"type":"MODIFIED","object":{"metadata":{"name":"cut`))
	}
	for range 12 {
		fx.f.script(broken)
	}
	fx.f.endWatches()
	fx.log.waitFor(t, "Watch failed, resuming", 12)
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
}

func TestAProxyThatRefusesConnectionsIsRetriedQuickly(t *testing.T) {
	// The loopback proxy is down: refusals are retried on their own short backoff, not
	// on the watch's, which here would grow towards an hour.
	fx := newFixture(t, nil, func(a *app) {
		for _, w := range a.watchers {
			w.backoff = backoffPolicy{Initial: 10 * time.Millisecond, Max: time.Hour}
			w.refusedBackoff = backoffPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond}
		}
	})
	fx.f.stop()
	fx.log.waitFor(t, "connection refused", 14)
	fx.f.restart()
	fx.f.putConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.waitDeleted(frontendPods...)
}
