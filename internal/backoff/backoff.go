// Package backoff paces waiting: jittered exponential backoff, as client-go paces a
// watch that failed, and a sleep that ends with its context. It knows nothing of
// Kubernetes or of what is being retried; the rate limit of restarts is the restart
// package's.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes a backoff: the first delay, and the cap it doubles up to.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
}

// Default is client-go's for watch errors: 800 ms doubling to 30 s.
var Default = Policy{Initial: 800 * time.Millisecond, Max: 30 * time.Second}

// Backoff is one run of retries under a policy.
type Backoff struct {
	policy Policy
	next   time.Duration
}

// Start begins a run of retries.
func (p Policy) Start() *Backoff { return &Backoff{policy: p, next: p.Initial} }

// Delay returns a random time up to the current delay ("full jitter"), then doubles the
// delay up to the cap.
func (b *Backoff) Delay() time.Duration {
	d := time.Duration(rand.Int64N(int64(b.next)) + 1)
	b.next = min(2*b.next, b.policy.Max)
	return d
}

// Wait sleeps for the next delay. It returns false if ctx ended first.
func (b *Backoff) Wait(ctx context.Context) bool { return Sleep(ctx, b.Delay()) }

// Reset starts the delays over after a period of health.
func (b *Backoff) Reset() { b.next = b.policy.Initial }

// Nth is the delay before the nth round of a retry that backs off without jitter:
// doubling from the policy's first delay, at most its cap.
func (p Policy) Nth(n int) time.Duration {
	d := p.Initial
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Sleep waits d, or returns false if ctx ends first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
