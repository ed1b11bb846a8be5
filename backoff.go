// backoff.go paces waiting: jittered exponential backoff, as client-go does for watches;
// the token bucket that rate-limits restarts; a sleep that ends with its context; and the
// grace that requests under way get once shutdown begins.

package main

import (
	"context"
	"math/rand/v2"
	"sync"
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

// delay returns a random time up to the current delay ("full jitter"), then doubles the
// delay up to the cap.
func (b *backoff) delay() time.Duration {
	d := time.Duration(rand.Int64N(int64(b.next)) + 1)
	b.next = min(2*b.next, b.policy.Max)
	return d
}

// wait sleeps for the next delay. It returns false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool { return sleep(ctx, b.delay()) }

// reset starts the delays over after a period of health.
func (b *backoff) reset() { b.next = b.policy.Initial }

// rateLimiter is a token bucket over restart actions (a pod deleted or evicted, a
// workload rolled): perMinute tokens a minute, as many at once at most. A nil one, or
// one with perMinute 0, never waits.
type rateLimiter struct {
	perMinute int

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// newRateLimiter returns a full bucket of perMinute tokens.
func newRateLimiter(perMinute int) *rateLimiter {
	return &rateLimiter{perMinute: perMinute, tokens: float64(perMinute), last: time.Now()}
}

// take takes a token and returns how long to wait before using it: zero while the
// bucket has tokens. The lanes of the scheduler share it.
func (l *rateLimiter) take() time.Duration {
	if l == nil || l.perMinute <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rate := float64(l.perMinute) / float64(time.Minute) // tokens per nanosecond
	now := time.Now()
	l.tokens = min(float64(l.perMinute), l.tokens+float64(now.Sub(l.last))*rate)
	l.last = now
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / rate)
}

// sleep waits d, or returns false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// afterShutdown returns a context for requests that should finish even when ctx ends:
// it is cancelled only grace after ctx is, or when the returned cancel is called.
func afterShutdown(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	act, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return act, func() { stop(); cancel() }
}
