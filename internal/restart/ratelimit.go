// ratelimit.go is the token bucket that rate-limits restart actions, shared by the lanes.

package restart

import (
	"sync"
	"time"
)

// RateLimiter is a token bucket over restart actions (a pod deleted or evicted, a
// workload rolled): perMinute tokens a minute, as many at once at most. A nil one, or
// one with perMinute 0, never waits.
type RateLimiter struct {
	perMinute int

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a full bucket of perMinute tokens.
func NewRateLimiter(perMinute int) *RateLimiter {
	return &RateLimiter{perMinute: perMinute, tokens: float64(perMinute), last: time.Now()}
}

// take takes a token and returns how long to wait before using it: zero while the
// bucket has tokens. The lanes of the scheduler share it.
func (l *RateLimiter) take() time.Duration {
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
