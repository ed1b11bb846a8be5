// backoff.go paces retries: jittered exponential backoff, as client-go does for watches.
package main

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoffPolicy describes a backoff: the first delay, and the cap it doubles up to.
type backoffPolicy struct {
	Initial time.Duration
	Max     time.Duration
}

// defaultBackoff is client-go's for watch errors: 800 ms doubling to 30 s.
var defaultBackoff = backoffPolicy{Initial: 800 * time.Millisecond, Max: 30 * time.Second}

// backoff is one run of retries under a policy.
type backoff struct {
	policy backoffPolicy
	next   time.Duration
}

// start begins a run of retries.
func (p backoffPolicy) start() *backoff { return &backoff{policy: p, next: p.Initial} }

// wait sleeps a random time up to the current delay ("full jitter"), then doubles the
// delay up to the cap. It returns false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	d := time.Duration(rand.Int64N(int64(b.next)) + 1)
	b.next = min(2*b.next, b.policy.Max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reset starts the delays over after a period of health.
func (b *backoff) reset() { b.next = b.policy.Initial }
