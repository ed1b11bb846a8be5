package backoff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelaysDoubleWithinTheirCapAndStartOverOnReset(t *testing.T) {
	bo := Policy{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond}.Start()
	caps := []time.Duration{100, 200, 400, 400, 400}
	for i, c := range caps {
		d := bo.Delay()
		assert.Positive(t, d, "delay %d", i)
		assert.LessOrEqual(t, d, c*time.Millisecond, "delay %d is at most the current cap", i)
	}
	bo.Reset()
	assert.LessOrEqual(t, bo.Delay(), 100*time.Millisecond, "after a reset, the first delay again")
}

func TestTheNthDelayDoublesUpToTheCap(t *testing.T) {
	p := Policy{Initial: time.Second, Max: time.Minute}
	for n, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 7: time.Minute, 100: time.Minute} {
		assert.Equal(t, want, p.Nth(n), "round %d", n)
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, Sleep(ctx, time.Hour))
	assert.True(t, Sleep(context.Background(), time.Millisecond))
}
