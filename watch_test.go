// watch_test.go proves that the watch survives what a real API and proxy do: streams
// that end, break, go idle or carry garbage, expired resourceVersions, a proxy that is
// down at start, midway, or flapping. Each test names the behaviour it proves; each
// would fail if that behaviour were removed.

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
)

func TestCleanEndOfStreamResumesWithoutRelist(t *testing.T) {
	fx := newFixture(t, nil)
	fx.settle()
	first := fx.f.WaitWatches(1)
	fx.f.EndWatches()
	rvs := fx.f.WaitWatches(len(first) + 1)
	listRV, _ := strconv.Atoi(rvs[0])
	resumeRV, _ := strconv.Atoi(rvs[len(rvs)-1])
	assert.Greater(t, resumeRV, listRV, "resumes from the last event seen, not the list")
	fx.settle()
	fx.f.Snapshot(func() { assert.Equal(t, 1, fx.f.Lists) })
}

func TestBookmarkAdvancesResourceVersion(t *testing.T) {
	f := kubetest.New(t, "default")
	f.Script(func(w http.ResponseWriter, r *http.Request) {
		kubetest.StreamStart(w)
		fmt.Fprintln(w, `{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"12345"}}}`)
	})
	startCuscon(t, f, nil)
	rvs := f.WaitWatches(2)
	assert.Equal(t, "12345", rvs[1])
	f.Snapshot(func() { assert.Equal(t, 1, f.Lists, "a bookmark never causes a relist") })
}

func TestExpiredWatchRelistsAndActsOnMissedChangeOnce(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.WaitWatches(1)
	fx.f.Stop() // the watch breaks, and the change below is made while it is down
	fx.f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.Data = msg("missed") })
	fx.f.Compact() // and history is gone: resuming will answer 410 Expired
	fx.f.Restart()
	fx.f.WaitDeleted(frontendPods...)
	fx.settle()
	assert.Equal(t, 2, fx.log.Count("Modification detected"), "frontend once, the sentinel once")
	assert.Contains(t, fx.log.String(), "Watch resourceVersion expired, relisting")
	fx.f.Snapshot(func() { assert.Equal(t, 2, fx.f.Lists) })
}

func TestHTTP410RelistsToo(t *testing.T) {
	fx := newFixture(t, nil)
	fx.replaceWatch(func(w http.ResponseWriter, r *http.Request) {
		kubetest.WriteStatus(w, http.StatusGone, "Expired", "too old resource version")
	})
	fx.f.WaitUntil("a relist", func() bool { return fx.f.Lists == 2 })
	fx.settle()
}

// brokenStreamThenChange serves one watch that sends raw and breaks off, while the test
// changes frontend-config; the next, normal watch must deliver that change.
func brokenStreamThenChange(t *testing.T, raw string) *fixture {
	fx := newFixture(t, nil)
	release := make(chan struct{})
	fx.replaceWatch(func(w http.ResponseWriter, r *http.Request) {
		kubetest.StreamStart(w)
		<-release
		fmt.Fprint(w, raw)
	})
	n := len(fx.f.WaitWatches(2))
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	close(release)
	fx.f.WaitDeleted(frontendPods...)
	assert.GreaterOrEqual(t, len(fx.f.WaitWatches(n+1)), n+1)
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
	fx.log.WaitFor(t, "Error trying to reach service", 1)
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
}

func TestIdleWatchIsAbandoned(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.tuning.watch.IdleTimeout = 100 * time.Millisecond })
	fx.replaceWatch(func(w http.ResponseWriter, r *http.Request) {
		kubetest.StreamStart(w)
		<-r.Context().Done() // a half-open connection: headers, then silence
	})
	fx.f.WaitWatches(3)
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
}

func TestProxyDownAtStartIsWaitedFor(t *testing.T) {
	f := kubetest.New(t, "default")
	f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v1"))
	f.AddPods("frontend", 3, map[string]string{"app": "frontend"})
	f.Stop()
	log, _ := startCuscon(t, f, nil)
	log.WaitFor(t, "Could not list configmaps, retrying", 3)
	f.Restart()
	log.WaitFor(t, "Synced configmaps", 1)
	f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	f.WaitDeleted(frontendPods...)
}

func TestProxyDownMidwayLosesNoChange(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.WaitWatches(1)
	fx.f.Stop()
	fx.f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) { cm.Data = msg("edited while the proxy was down") })
	fx.log.WaitFor(t, "Watch failed, resuming", 3)
	fx.f.Restart()
	fx.f.WaitDeleted(frontendPods...)
	fx.settle()
	fx.f.Snapshot(func() { assert.Equal(t, 1, fx.f.Lists, "history was kept, so no relist") })
}

func TestPodListIsRetriedOnTransientError(t *testing.T) {
	fx := newFixture(t, nil)
	fx.f.Snapshot(func() { fx.f.FailLists = 3 })
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
	assert.Equal(t, 3, fx.log.Count("Could not list pods, retrying"))
}

func TestAnEstablishedWatchResetsTheBackoff(t *testing.T) {
	// Each watch connects, then breaks. Without the reset the waits would double from
	// 10 ms towards an hour, and twelve reconnects would take minutes.
	fx := newFixture(t, func(c *config) {
		c.tuning.watch.Backoff = backoff.Policy{Initial: 10 * time.Millisecond, Max: time.Hour}
	})
	broken := func(w http.ResponseWriter, _ *http.Request) {
		kubetest.StreamStart(w)
		_, _ = w.Write([]byte(`{"type":"MODIFIED","object":{"metadata":{"name":"cut`))
	}
	for range 12 {
		fx.f.Script(broken)
	}
	fx.f.EndWatches()
	fx.log.WaitFor(t, "Watch failed, resuming", 12)
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
}

func TestAProxyThatRefusesConnectionsIsRetriedQuickly(t *testing.T) {
	// The loopback proxy is down: refusals are retried on their own short backoff, not
	// on the watch's, which here would grow towards an hour.
	fx := newFixture(t, func(c *config) {
		c.tuning.watch.Backoff = backoff.Policy{Initial: 10 * time.Millisecond, Max: time.Hour}
		c.tuning.watch.RefusedBackoff = backoff.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	})
	fx.f.Stop()
	fx.log.WaitFor(t, "connection refused", 14)
	fx.f.Restart()
	fx.f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v2"))
	fx.f.WaitDeleted(frontendPods...)
}

// BenchmarkDecodeAndDecide adds the controller's decision for each event to the decoder
// (kube's BenchmarkDecodeEvents), on the same recorded stream: the whole work cuscon does
// for a ConfigMap nobody changed in a way that matters.
func BenchmarkDecodeAndDecide(b *testing.B) {
	stream, err := os.ReadFile("internal/kube/testdata/watch-1kib.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	log, _ := telemetry.NewLogger(io.Discard, "text", slog.LevelInfo)
	c := newController(nil, policy{strategy: "delete"}, false, &queue{}, func() bool { return true }, nil, telemetry.NewMetrics("bench"), log, backoff.Policy{})
	ctx := context.Background()
	events := bytes.Count(stream, []byte("\n"))
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		err := kube.DecodeEvents(bytes.NewReader(stream), func(ev *kube.WatchEvent) error {
			ev.Object.Object.Resource = kube.ConfigMaps
			c.changed(ctx, ev.Type, observe(&ev.Object.Object, selectorKey))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func TestAListReadsWholeOnlyTheAnnotatedObjects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reloader bool
		want     []string
	}{
		{name: "the annotated ones, after a metadata-only list", want: []string{"frontend-config", "sentinel"}},
		{name: "none with the Reloader mode on: a workload may use any object", reloader: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kubetest.New(t, "default")
			f.PutConfigMap("frontend-config", sel("app=frontend"), msg("v1"))
			f.PutConfigMap("sentinel", sel("app=sentinel"), msg("0"))
			f.PutConfigMap("plain", nil, msg("nobody restarts for me"))
			log, _ := startCuscon(t, f, func(c *config) { c.ReloaderAnnotations = tc.reloader })
			log.WaitFor(t, `Synced configmaps in "default"`, 1)
			f.Snapshot(func() {
				slices.Sort(f.NameLists)
				assert.Equal(t, tc.want, f.NameLists)
			})
		})
	}
}
