// scheduler.go paces restarts: the first change acts at once; changes arriving within
// the debounce window after a restart began are held and run together when it ends,
// the newest request of each object replacing older ones. A burst of edits thus
// restarts pods at most twice, and objects changed together restart each pod once.
package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// scheduler queues restart requests and hands them to run in batches.
type scheduler struct {
	window time.Duration
	wake   chan struct{}
	log    *slog.Logger

	mu      sync.Mutex
	queue   []restartRequest // in order of first arrival; one per object key
	lastRun time.Time
}

// newScheduler returns a scheduler with the given debounce window.
func newScheduler(window time.Duration, log *slog.Logger) *scheduler {
	return &scheduler{window: window, wake: make(chan struct{}, 1), log: log}
}

// add queues req, replacing a queued request for the same object.
func (s *scheduler) add(req restartRequest) {
	s.mu.Lock()
	replaced := false
	for i := range s.queue {
		if s.queue[i].key == req.key {
			s.queue[i], replaced = req, true
		}
	}
	if !replaced {
		s.queue = append(s.queue, req)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run hands batches to exec until ctx ends; requests still queued then are dropped
// (the recorded hash brings them back at the next start).
func (s *scheduler) run(ctx context.Context, exec func(batch []restartRequest)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for {
			batch, wait := s.next(time.Now())
			if batch == nil && wait == 0 {
				break
			}
			if wait > 0 {
				s.log.Debug("Holding restarts until the debounce window ends", "wait", wait.Round(time.Millisecond).String())
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				continue
			}
			exec(batch)
		}
	}
}

// next returns the queued batch if the window since the last batch has passed, or how
// long to wait for it; (nil, 0) when nothing is queued.
func (s *scheduler) next(now time.Time) ([]restartRequest, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil, 0
	}
	if wait := s.lastRun.Add(s.window).Sub(now); wait > 0 {
		return nil, wait
	}
	batch := s.queue
	s.queue, s.lastRun = nil, now
	return batch, 0
}
