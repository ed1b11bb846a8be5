// harness_test.go runs cuscon against the fake API: a log sink tests can wait on, and
// startCuscon, which assembles the app as main does, with quick retries.

package main

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// --- logs ---

// logSink collects cuscon's log output and lets a test wait for a line.
type logSink struct {
	mu     sync.Mutex
	buf    strings.Builder
	notify chan struct{}
}

func newLogSink() *logSink { return &logSink{notify: make(chan struct{})} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	close(s.notify)
	s.notify = make(chan struct{})
	return len(p), nil
}

// String returns everything logged so far.
func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// count returns how many times substr has been logged.
func (s *logSink) count(substr string) int { return strings.Count(s.String(), substr) }

// waitFor waits until substr has been logged n times.
func (s *logSink) waitFor(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, ch := strings.Count(s.buf.String(), substr), s.notify
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %d× %q in log:\n%s", n, substr, s.String())
		}
	}
}

// --- running cuscon against the fake ---

// testBackoff keeps retries quick in tests.
var testBackoff = backoffPolicy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}

// startCuscon runs cuscon against f until the test ends (or stop is called), with cfg
// changed by edit and the assembled app by tune, and returns its log. Its health and
// metrics are served on a free loopback port, named in the log.
func startCuscon(t *testing.T, f *fakeAPI, edit func(*config), tune ...func(*app)) (log *logSink, stop func()) {
	t.Helper()
	cfg, err := parseConfig(nil, func(string) string { return "" }, io.Discard) // the defaults users get
	require.NoError(t, err)
	cfg.commonConfig = commonConfig{APIURL: f.url(), LogFormat: "text", LogLevel: "debug"}
	cfg.Namespace, cfg.LeaseNamespace, cfg.Identity = f.ns, f.ns, "test"
	cfg.ReadyTimeout, cfg.EvictTimeout, cfg.ShutdownTimeout = waitTimeout, waitTimeout, 2*time.Second
	cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod = 2*time.Second, time.Second, 20*time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	sink := newLogSink()
	logger, err := newLogger(sink, cfg.LogFormat, -4)
	require.NoError(t, err)
	a, err := newApp(context.Background(), cfg, logger)
	require.NoError(t, err)
	a.exec.backoff, a.ctl.retry = testBackoff, testBackoff
	a.exec.pollInterval = 5 * time.Millisecond
	for _, w := range a.watchers {
		w.backoff = testBackoff
	}
	for _, fn := range tune {
		fn(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = serve(ctx, "127.0.0.1:0", a.health.healthy, a.health.ready, a.metrics, logger)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		a.run(ctx)
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
