// lease_test.go proves that one leader acts at a time even when its Lease requests
// hang: each renewal is bounded by the renew deadline, the leader stops acting when the
// deadline passes, judged by the clock after the call returns, and the requests it has
// under way end with its leadership.

package lease

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestElector returns an elector on f with short timings: lease 2 s, renew deadline
// 1 s, retries every 50 ms.
func newTestElector(t *testing.T, f *kubetest.API, id string) *Elector {
	api, err := kube.NewClient(f.URL(), nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	return &Elector{client: api, log: log, metrics: telemetry.NewMetrics("test"), ns: "default", name: "cuscon", identity: id,
		leaseDuration: 2 * time.Second, renewDeadline: time.Second, retryPeriod: 50 * time.Millisecond}
}

func TestALeaderWhoseRenewalsHangStopsActingBeforeTheLeaseCanExpire(t *testing.T) {
	f := kubetest.New(t, "default")
	e := newTestElector(t, f, "a")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Campaign(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	f.WaitUntil("a leads", func() bool { return f.Leases["cuscon"] != nil && e.IsLeader() })

	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	var hungAt time.Time
	f.Snapshot(func() { f.LeaseGate, hungAt = gate, time.Now() })
	// Another replica may take over leaseDuration after it last saw the record change,
	// which was before hungAt. By then this one must have stopped acting.
	expiry := hungAt.Add(e.leaseDuration)
	for e.IsLeader() {
		require.True(t, time.Now().Before(expiry), "still acting when the Lease could be taken over")
		time.Sleep(10 * time.Millisecond) // polling isLeader is the observation itself
	}
	assert.False(t, e.ActingUntil().After(hungAt.Add(e.renewDeadline)), "acting ends within the renew deadline of the last renewal")
}

func TestRequestsUnderWayEndWhenLeadershipLapses(t *testing.T) {
	until := time.Now().Add(50 * time.Millisecond)
	ctx, cancel := WhileActing(context.Background(), func() time.Time { return until })
	defer cancel()
	select {
	case <-ctx.Done():
	case <-time.After(kubetest.WaitTimeout):
		t.Fatal("the request outlived the leadership")
	}
	assert.False(t, time.Now().Before(until))

	plain, cancel2 := WhileActing(context.Background(), func() time.Time { return time.Time{} })
	defer cancel2()
	assert.NoError(t, plain.Err(), "without election, only the parent ends it")
}

func TestAFollowerNeverActs(t *testing.T) {
	f := kubetest.New(t, "default")
	e := newTestElector(t, f, "b")
	assert.False(t, e.IsLeader(), "a replica that never won the Lease")
	assert.False(t, time.Now().Before(e.ActingUntil()))
}

func TestRequestsGoOnWhileTheLeaderKeepsRenewing(t *testing.T) {
	var mu sync.Mutex
	until := time.Now().Add(30 * time.Millisecond)
	lease := func() time.Time { mu.Lock(); defer mu.Unlock(); return until }
	ctx, cancel := WhileActing(context.Background(), lease)
	defer cancel()
	for range 5 { // each renewal moves the deadline on before it is reached
		mu.Lock()
		until = time.Now().Add(30 * time.Millisecond)
		mu.Unlock()
		time.Sleep(10 * time.Millisecond) // the time between renewals: what is simulated
		require.NoError(t, ctx.Err(), "renewed in time: requests go on")
	}
	select {
	case <-ctx.Done():
	case <-time.After(kubetest.WaitTimeout):
		t.Fatal("not ended once renewals stopped")
	}
}

func TestElectorWaitsForAnExpiredLeaseAndCountsTransitions(t *testing.T) {
	f := kubetest.New(t, "default")
	api, err := kube.NewClient(f.URL(), nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	mk := func(id string) *Elector {
		return &Elector{client: api, log: log, metrics: telemetry.NewMetrics("test"), ns: "default", name: "l", identity: id,
			leaseDuration: 10 * time.Second, renewDeadline: 5 * time.Second, retryPeriod: time.Second}
	}
	a, b := mk("a"), mk("b")
	ctx := context.Background()
	t0 := time.Now()
	require.True(t, a.tryAcquireOrRenew(ctx, t0), "a creates the lease")
	require.False(t, b.tryAcquireOrRenew(ctx, t0.Add(time.Second)), "held and fresh")
	require.False(t, b.tryAcquireOrRenew(ctx, t0.Add(10*time.Second)), "b first saw it at t0+1s: not yet expired")
	require.True(t, b.tryAcquireOrRenew(ctx, t0.Add(12*time.Second)), "unchanged for longer than its duration: taken over")
	f.Snapshot(func() {
		assert.Equal(t, "b", f.Leases["l"].Spec.HolderIdentity)
		assert.Equal(t, 1, f.Leases["l"].Spec.LeaseTransitions)
	})
	require.False(t, a.tryAcquireOrRenew(ctx, t0.Add(13*time.Second)), "a sees b's fresh record")

	f.Snapshot(func() { f.LeaseConflicts = 1 }) // another writer gets in between b's read and write
	assert.False(t, b.tryAcquireOrRenew(ctx, t0.Add(14*time.Second)), "a 409 is not leadership")
	assert.True(t, b.tryAcquireOrRenew(ctx, t0.Add(15*time.Second)))
}

func TestALapseHealedByALateRenewalIsANewTerm(t *testing.T) {
	f := kubetest.New(t, "default")
	e := newTestElector(t, f, "a")
	e.retryPeriod = 400 * time.Millisecond // renew deadline 1 s, lease 2 s
	var terms atomic.Int32
	e.onStartedLeading = func() { terms.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Campaign(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	f.WaitUntil("a leads", func() bool { return e.IsLeader() })

	gate := make(chan struct{})
	f.Snapshot(func() { f.LeaseGate = gate }) // the next renewal is slow...
	require.Eventually(t, func() bool { return !e.IsLeader() }, kubetest.WaitTimeout, time.Millisecond, "lapsed")
	f.Snapshot(func() { f.LeaseGate = nil })
	close(gate) // ...and succeeds, within its own timeout
	require.Eventually(t, e.IsLeader, kubetest.WaitTimeout, time.Millisecond, "acting again")
	assert.Equal(t, int32(2), terms.Load(), "what was missed while not acting is found by a relist")
}

func TestEachLeaseAttemptIsBoundedByTheRenewDeadline(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		n.Add(1)
		<-r.Context().Done() // a Lease request that never answers
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	api, err := kube.NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	e := New(api, Config{Namespace: "default", Name: "cuscon", Identity: "a",
		LeaseDuration: 2 * time.Second, RenewDeadline: 300 * time.Millisecond, RetryPeriod: 50 * time.Millisecond}, nil, log, telemetry.NewMetrics("test"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Campaign(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return n.Load() >= 3 }, kubetest.WaitTimeout, 10*time.Millisecond,
		"each attempt given up at the renew deadline and tried again, not held for 30 s")
}
