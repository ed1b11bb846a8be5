// harness_test.go runs the controller against the fake API (internal/kubetest): a log
// tests can wait on, and startCuscon, which assembles it as main does, with quick retries.

package main

import (
	"context"
	"io"
	"testing"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/require"
)

// waitTimeout bounds every wait on an observable event in unit tests.
const waitTimeout = kubetest.WaitTimeout

// testBackoff keeps retries quick in tests.
var testBackoff = backoff.Policy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}

// startCuscon runs the controller against f until the test ends (or stop is called),
// with the defaults users get, changed by edit, and retries shortened. Its health and
// metrics are served on a free loopback port, named in the log.
func startCuscon(t *testing.T, f *kubetest.API, edit func(*config)) (log *kubetest.LogSink, stop func()) {
	t.Helper()
	cfg, err := parseConfig(nil, func(string) string { return "" }, io.Discard) // the defaults users get
	require.NoError(t, err)
	cfg.Connection.APIURL = f.URL()
	cfg.Telemetry.LogLevel = "debug"
	cfg.Namespace, cfg.LeaseNamespace, cfg.Identity, cfg.PodNamespace = f.NS, f.NS, "test", ""
	cfg.ReadyTimeout, cfg.EvictTimeout, cfg.ShutdownTimeout = waitTimeout, waitTimeout, 2*time.Second
	cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod = 2*time.Second, time.Second, 20*time.Millisecond
	cfg.tuning = tuning{backoff: testBackoff, watch: kubetestWatch(), pollInterval: 5 * time.Millisecond}
	// The fake serves no pod watches, and its pod-list faults are aimed at a restart's
	// list: these tests take the path without the pod cache (e2e covers the cache).
	cfg.PodCache = false
	if edit != nil {
		edit(&cfg)
	}
	sink := kubetest.NewLogSink()
	logger, err := telemetry.NewLogger(sink, cfg.Telemetry.LogFormat, -4)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(cfg, logger)
	require.NoError(t, err)
	_, err = telemetry.Serve(ctx, "127.0.0.1:0", telemetry.DefaultLimits, a.health.Healthy, a.health.Ready, a.metrics, logger)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		a.runParts(ctx)
		close(done)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("cuscon log:\n%s", sink.String())
		}
	})
	return sink, stop
}

// kubetestWatch is the watchers' tuning in tests: quick retries.
func kubetestWatch() kube.WatchOptions { return kube.WatchOptions{Backoff: testBackoff} }
