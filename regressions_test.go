// regressions_test.go holds the reproductions an adversarial review of issue 10's change
// found, each now a test of the behaviour it broke: retries use the selector the object
// names now, a revert restarts again, idle lanes are forgotten, a healed lapse is a new
// term, a dropped batch leaves nothing pending, and one shutdown grace for all.

package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOwedPodsAreRetriedWithTheSelectorTheObjectNamesNow(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	scope := watchScope{resource: configMaps, namespace: "default"}
	c.synced(ctx, scope, []source{*cm("web", "h1", sel("app in (web, db)"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app in (web, db)")))
	req := c.scheduled()[0]
	c.sched.lanes["default"].queue = nil // taken by the executor
	c.finished(ctx, result{req: req, owed: &owedWork{Hash: "h2", Pods: []string{"uid-db-0"}}})

	// The owner narrows the selector; content unchanged.
	c.changed(ctx, "MODIFIED", cm("web", "h2", map[string]string{selectorKey: "app=web", strategyAnnotation: "evict"}))
	c.retryOwed("configmaps/default/web", "h2") // the old round's timer fires
	require.Len(t, c.scheduled(), 1)
	assert.Equal(t, "app=web", c.scheduled()[0].selector, "the selector the object names now")
	assert.Equal(t, "evict", c.scheduled()[0].strategy, "and its strategy")
	assert.Equal(t, []string{"uid-db-0"}, c.scheduled()[0].only, "only the pods left: the new selector filters them")
}

func TestARevertAfterAnIncompleteRestartRestartsAgain(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, watchScope{resource: configMaps, namespace: "default"}, []source{*cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	req := c.scheduled()[0]
	c.sched.lanes["default"].queue = nil
	// web-0 was restarted (it now runs h2); web-1's DELETE was refused.
	c.finished(ctx, result{req: req, owed: &owedWork{Hash: "h2", Pods: []string{"uid-web-1"}}})
	c.changed(ctx, "MODIFIED", cm("web", "h1", sel("app=web"))) // reverted
	require.Len(t, c.scheduled(), 1, "web-0 runs h2 while the ConfigMap holds h1 again")
	assert.Equal(t, "h1", c.scheduled()[0].hash)
	assert.Nil(t, c.scheduled()[0].only, "every pod")
}

func TestIdleLanesAreForgottenOnceTheirWindowsPass(t *testing.T) {
	log, _ := newLogger(io.Discard, "text", 0)
	s := newScheduler(10*time.Millisecond, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var ran atomic.Int32
	go func() { s.run(ctx, func(b []restartRequest) { ran.Add(int32(len(b))) }); close(done) }()
	defer func() { cancel(); <-done }()
	for i := range 200 {
		ns := "ns-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		s.add(restartRequest{key: ns + "/cm", selector: "app=x", src: objectRef{Namespace: ns, Name: "cm"}})
	}
	require.Eventually(t, func() bool { return ran.Load() == 200 }, waitTimeout, time.Millisecond)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.lanes) == 0
	}, waitTimeout, time.Millisecond, "namespaces with nothing queued and no window open leave nothing behind")
}

func TestALapseHealedByALateRenewalIsANewTerm(t *testing.T) {
	f := newFakeAPI(t, "default")
	e := newTestElector(t, f, "a")
	e.retryPeriod = 400 * time.Millisecond // renew deadline 1 s, lease 2 s
	var terms atomic.Int32
	e.onStartedLeading = func() { terms.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	f.waitUntil("a leads", func() bool { return e.isLeader() })

	gate := make(chan struct{})
	f.snapshot(func() { f.leaseGate = gate }) // the next renewal is slow...
	require.Eventually(t, func() bool { return !e.isLeader() }, waitTimeout, time.Millisecond, "lapsed")
	f.snapshot(func() { f.leaseGate = nil })
	close(gate) // ...and succeeds, within its own timeout
	require.Eventually(t, e.isLeader, waitTimeout, time.Millisecond, "acting again")
	assert.Equal(t, int32(2), terms.Load(), "what was missed while not acting is found by a relist")
}

func TestABatchDroppedWhileNotActingLeavesNothingPending(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, watchScope{resource: configMaps, namespace: "default"}, []source{*cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	req := c.scheduled()[0]
	log, _ := newLogger(io.Discard, "text", 0)
	e := &executor{log: log, done: c.finished, lease: func() time.Time { return time.Unix(0, 0) }}
	e.run(lifetime{wait: ctx, send: ctx}, []restartRequest{req}) // leadership lapsed just now
	st := c.state["configmaps/default/web"]
	assert.Empty(t, st.pending, "nothing is under way for h2")
	assert.Equal(t, "h1", st.applied, "and it is not applied either")
}

func TestShutdownGraceIsPaidOnceNotPerObject(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.CloseClientConnections(); srv.Close() })
	api, err := newAPIClient(srv.URL, nil)
	require.NoError(t, err)
	c := newTestController()
	c.api, c.policy.recordState = api, true
	ctx, cancel := context.WithCancel(context.Background())
	send, stop := afterShutdown(ctx, 100*time.Millisecond) // the app's, made once
	defer stop()
	names := []string{"a", "b", "c", "d", "e"}
	for _, name := range names {
		c.state["configmaps/default/"+name] = objState{applied: "h1", pending: "h2"}
	}
	cancel() // SIGTERM while a batch of five objects ends
	began := time.Now()
	for _, name := range names {
		c.finished(send, result{req: restartRequest{key: "configmaps/default/" + name, hash: "h2", res: configMaps,
			src: objectRef{Namespace: "default", Name: name}}})
	}
	assert.Less(t, time.Since(began), 400*time.Millisecond, "one grace for the whole shutdown, not one per object")
}

func TestADeleteUnderWayEndsWithTheLeadership(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.addPods("web", 1, map[string]string{"app": "web"})
	gate := make(chan struct{})
	f.snapshot(func() { f.deleteGate = gate })
	defer close(gate)
	api, err := newAPIClient(f.url(), nil)
	require.NoError(t, err)
	log, _ := newLogger(io.Discard, "text", 0)
	until := time.Now().Add(300 * time.Millisecond)
	e := &executor{api: api, log: log, metrics: newMetrics(), parallel: 8, backoff: testBackoff,
		readyTimeout: time.Second, evictTimeout: time.Second, done: func(context.Context, result) {},
		lease: func() time.Time { return until }}
	ctx := context.Background()
	began := time.Now()
	e.run(lifetime{wait: ctx, send: ctx}, []restartRequest{{key: "configmaps/default/web", selector: "app=web", strategy: "delete",
		hash: "h2", src: objectRef{Namespace: "default", Name: "web"}}})
	assert.Less(t, time.Since(began), 3*time.Second, "the DELETE did not outlive the leadership (else 3 × 10 s)")
}

func TestEachLeaseAttemptIsBoundedByTheRenewDeadline(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		n.Add(1)
		<-r.Context().Done() // a Lease request that never answers
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	api, err := newAPIClient(srv.URL, nil)
	require.NoError(t, err)
	log, _ := newLogger(io.Discard, "text", 0)
	e := &elector{api: api, log: log, metrics: newMetrics(), ns: "default", name: "cuscon", identity: "a",
		leaseDuration: 2 * time.Second, renewDeadline: 300 * time.Millisecond, retryPeriod: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return n.Load() >= 3 }, waitTimeout, 10*time.Millisecond,
		"each attempt given up at the renew deadline and tried again, not held for 30 s")
}

func TestAValueWithOnlyANewlineCannotForgeALine(t *testing.T) {
	var out strings.Builder
	log, err := newLogger(&out, "text", 0)
	require.NoError(t, err)
	log.Error("Could not restart pods", "selector", "x\nFORGED\x1b[2J")
	assert.Equal(t, 1, strings.Count(out.String(), "\n"), "one record, one line: %q", out.String())
	assert.NotContains(t, out.String(), "\x1b")
}

func TestIdleTimeoutHoldsWhenTheReadTimeoutIsLonger(t *testing.T) {
	addr := startServer(t, serverLimits{maxConns: 4, readHeader: time.Minute, read: time.Minute, write: time.Minute, idle: 50 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, err = r.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "closed by the server after 50 ms idle")
}
