// backoff_test.go tests the pacing of waits: backoff delays stay within their bounds and
// start over after a reset, the rate limiter is shared safely by the lanes, and the
// shutdown grace outlives the context it follows by just the grace.

package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoffDelaysDoubleWithinTheirCapAndStartOverOnReset(t *testing.T) {
	bo := backoffPolicy{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond}.start()
	caps := []time.Duration{100, 200, 400, 400, 400}
	for i, c := range caps {
		d := bo.delay()
		assert.Positive(t, d, "delay %d", i)
		assert.LessOrEqual(t, d, c*time.Millisecond, "delay %d is at most the current cap", i)
	}
	bo.reset()
	assert.LessOrEqual(t, bo.delay(), 100*time.Millisecond, "after a reset, the first delay again")
}

func TestTheRateLimitHoldsAcrossLanes(t *testing.T) {
	l := newRateLimiter(60)
	var wg sync.WaitGroup
	var mu sync.Mutex
	free := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if l.take() == 0 {
					mu.Lock()
					free++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 60, free, "80 actions from 8 lanes: exactly the 60 tokens of the bucket are free")
}

func TestShutdownGraceLetsRequestsFinishThenEndsThem(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	act, stop := afterShutdown(ctx, 30*time.Millisecond)
	defer stop()
	cancel()
	assert.NoError(t, act.Err(), "requests under way go on when shutdown begins")
	select {
	case <-act.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the grace never ended")
	}

	act2, stop2 := afterShutdown(context.Background(), time.Hour)
	stop2()
	assert.Error(t, act2.Err(), "cancel ends it at once")
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, sleep(ctx, time.Hour))
	assert.True(t, sleep(context.Background(), time.Millisecond))
}
