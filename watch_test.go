// watch_test.go proves that the watch survives what a real API and proxy do: streams
// that end, break, go idle or carry garbage, expired resourceVersions, a proxy that is
// down at start, midway, or flapping. Each test names the behaviour it proves; each
// would fail if that behaviour were removed.

package main

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

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
