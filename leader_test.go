// leader_test.go proves that one leader acts at a time even when its Lease requests
// hang: each renewal is bounded by the renew deadline, the leader stops acting when the
// deadline passes, judged by the clock after the call returns, and the requests it has
// under way end with its leadership.

package main

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestElector returns an elector on f with short timings: lease 2 s, renew deadline
// 1 s, retries every 50 ms.
func newTestElector(t *testing.T, f *fakeAPI, id string) *elector {
	api, err := newAPIClient(f.url(), nil)
	require.NoError(t, err)
	log, _ := newLogger(io.Discard, "text", 0)
	return &elector{api: api, log: log, metrics: newMetrics(), ns: "default", name: "cuscon", identity: id,
		leaseDuration: 2 * time.Second, renewDeadline: time.Second, retryPeriod: 50 * time.Millisecond}
}

func TestALeaderWhoseRenewalsHangStopsActingBeforeTheLeaseCanExpire(t *testing.T) {
	f := newFakeAPI(t, "default")
	e := newTestElector(t, f, "a")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	f.waitUntil("a leads", func() bool { return f.leases["cuscon"] != nil && e.isLeader() })

	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	var hungAt time.Time
	f.snapshot(func() { f.leaseGate, hungAt = gate, time.Now() })
	// Another replica may take over leaseDuration after it last saw the record change,
	// which was before hungAt. By then this one must have stopped acting.
	expiry := hungAt.Add(e.leaseDuration)
	for e.isLeader() {
		require.True(t, time.Now().Before(expiry), "still acting when the Lease could be taken over")
		time.Sleep(10 * time.Millisecond) // polling isLeader is the observation itself
	}
	assert.False(t, e.actingUntil().After(hungAt.Add(e.renewDeadline)), "acting ends within the renew deadline of the last renewal")
}

func TestRequestsUnderWayEndWhenLeadershipLapses(t *testing.T) {
	until := time.Now().Add(50 * time.Millisecond)
	ctx, cancel := whileActing(context.Background(), func() time.Time { return until })
	defer cancel()
	select {
	case <-ctx.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the request outlived the leadership")
	}
	assert.False(t, time.Now().Before(until))

	plain, cancel2 := whileActing(context.Background(), func() time.Time { return time.Time{} })
	defer cancel2()
	assert.NoError(t, plain.Err(), "without election, only the parent ends it")
}

func TestAFollowerNeverActs(t *testing.T) {
	f := newFakeAPI(t, "default")
	e := newTestElector(t, f, "b")
	assert.False(t, e.isLeader())
	exec := &executor{lease: e.actingUntil}
	assert.False(t, exec.acting(), "a replica that never won the Lease")
	assert.True(t, (&executor{lease: func() time.Time { return time.Time{} }}).acting(), "no election: always")
}

func TestRequestsGoOnWhileTheLeaderKeepsRenewing(t *testing.T) {
	var mu sync.Mutex
	until := time.Now().Add(30 * time.Millisecond)
	lease := func() time.Time { mu.Lock(); defer mu.Unlock(); return until }
	ctx, cancel := whileActing(context.Background(), lease)
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
	case <-time.After(waitTimeout):
		t.Fatal("not ended once renewals stopped")
	}
}
