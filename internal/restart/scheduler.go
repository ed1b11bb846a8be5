// scheduler.go paces restarts. Each namespace has its own lane, so a slow or hung
// namespace holds up no other. Within a lane, a change acts at once unless the same pods
// (the same selector) began a restart less than the debounce window ago; then it waits
// for the window's end, the newest request of each key replacing older ones, and the
// requests that are due run together as one batch. A burst of edits thus restarts pods
// at most twice, and objects changed together restart each pod once.

package restart

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Scheduler queues restart requests and hands them to exec in batches, a lane at a time.
type Scheduler struct {
	window time.Duration
	wake   chan struct{}
	log    *slog.Logger

	mu    sync.Mutex
	lanes map[string]*lane // by namespace
}

// lane is one namespace's queue.
type lane struct {
	queue   []Request            // in order of first arrival; one per object key
	lastRun map[string]time.Time // when each selector's pods last began a restart
	running bool                 // a goroutine is serving the lane
	wake    chan struct{}        // a request arrived while the lane waits
}

// NewScheduler returns a scheduler with the given debounce window.
func NewScheduler(window time.Duration, log *slog.Logger) *Scheduler {
	return &Scheduler{window: window, wake: make(chan struct{}, 1), log: log, lanes: map[string]*lane{}}
}

// Add queues req in its namespace's lane, replacing a queued request for the same key.
func (s *Scheduler) Add(req Request) {
	s.mu.Lock()
	l := s.lanes[req.Object.Namespace]
	if l == nil {
		l = &lane{lastRun: map[string]time.Time{}, wake: make(chan struct{}, 1)}
		s.lanes[req.Object.Namespace] = l
	}
	l.put(req)
	s.mu.Unlock()
	for _, ch := range []chan struct{}{s.wake, l.wake} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// put queues req, replacing a queued request for the same object.
func (l *lane) put(req Request) {
	for i := range l.queue {
		if l.queue[i].Key == req.Key {
			l.queue[i] = req
			return
		}
	}
	l.queue = append(l.queue, req)
}

// ServeLanes serves lanes until ctx ends, handing each batch to restart, then waits for
// the batches under way; requests still queued are dropped (what was recorded brings
// them back at the next start).
func (s *Scheduler) ServeLanes(ctx context.Context, restart func(batch []Request)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for _, ns := range s.idleLanes() {
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(ctx, ns, restart) }()
		}
	}
}

// idleLanes marks the lanes that have work and no goroutine as served, and names them.
func (s *Scheduler) idleLanes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for ns, l := range s.lanes {
		if len(l.queue) > 0 && !l.running {
			l.running = true
			out = append(out, ns)
		}
	}
	return out
}

// serve runs one lane's batches until its queue is empty or ctx ends. While requests
// wait for their window, a new request (perhaps due at once) wakes it.
func (s *Scheduler) serve(ctx context.Context, ns string, restart func([]Request)) {
	s.mu.Lock()
	wake := s.lanes[ns].wake
	s.mu.Unlock()
	for {
		batch, wait := s.next(ns, time.Now())
		switch {
		case batch != nil:
			restart(batch)
		case wait > 0:
			s.log.Debug("Holding restarts until the debounce window ends", "namespace", ns, "wait", wait.Round(time.Millisecond).String())
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-wake:
			case <-t.C:
			}
			t.Stop()
		default:
			return // next released the lane
		}
	}
}

// next takes the lane's due requests as a batch, or says how long until the first is
// due; with nothing queued it releases the lane and returns (nil, 0).
func (s *Scheduler) next(ns string, now time.Time) ([]Request, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lanes[ns]
	batch, wait := l.due(now, s.window)
	if batch == nil && wait == 0 {
		l.running = false
		if len(l.lastRun) == 0 {
			delete(s.lanes, ns) // nothing left to remember
		} else {
			time.AfterFunc(s.window, func() { s.forget(ns) })
		}
	}
	return batch, wait
}

// forget removes an idle lane once its windows have passed, so that namespaces that
// come and go leave nothing behind.
func (s *Scheduler) forget(ns string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lanes[ns]
	if l == nil || l.running || len(l.queue) > 0 {
		return
	}
	l.due(time.Now(), s.window) // prunes windows that have passed
	if len(l.lastRun) == 0 {
		delete(s.lanes, ns)
	}
}

// due removes and returns the requests whose pods may restart now, and notes that they
// begin; if none may, it returns how long until the first may.
func (l *lane) due(now time.Time, window time.Duration) ([]Request, time.Duration) {
	for sel, t := range l.lastRun {
		if now.Sub(t) >= window {
			delete(l.lastRun, sel)
		}
	}
	var batch, rest []Request
	var wait time.Duration
	for _, req := range l.queue {
		if w := l.lastRun[req.Selector].Add(window).Sub(now); w > 0 {
			rest = append(rest, req)
			if wait == 0 || w < wait {
				wait = w
			}
			continue
		}
		batch = append(batch, req)
	}
	if len(batch) == 0 {
		return nil, wait
	}
	l.queue = rest
	for _, req := range batch {
		if window > 0 {
			l.lastRun[req.Selector] = now
		}
	}
	return batch, 0
}
