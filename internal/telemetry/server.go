// health.go and the server below: what /healthz and /readyz answer, from the state of
// each watcher, and the one HTTP server of cuscon's own endpoints. Whoever can reach the
// port can connect, so what a client may hold is bounded: a connection cap, and
// timeouts on reading, writing and idling.

package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Health tracks, per watcher, what the probes report. A nil *Health tracks nothing.
type Health struct {
	// readyGrace is how long a watch may be disconnected (reconnecting, the proxy
	// down) before /readyz fails.
	readyGrace time.Duration
	// wedgedAfter is how long a watch loop may go without a heartbeat before
	// /healthz fails: it is stuck, and a restart of the pod is the cure.
	wedgedAfter time.Duration

	mu       sync.Mutex
	watchers map[string]*watchHealth
}

// watchHealth is one watcher's state.
type watchHealth struct {
	synced            bool
	connected         bool
	disconnectedSince time.Time
	heartbeat         time.Time
}

// NewHealth returns a tracker: /readyz fails once a watch was disconnected for longer
// than readyGrace (0: 15 s, the sidecar's restart and then some), /healthz after 10
// minutes without progress.
func NewHealth(readyGrace time.Duration) *Health {
	if readyGrace == 0 {
		readyGrace = 15 * time.Second
	}
	return &Health{readyGrace: readyGrace, wedgedAfter: 10 * time.Minute, watchers: map[string]*watchHealth{}}
}

// update applies fn to scope's state, creating it (disconnected since now) if needed.
func (h *Health) update(scope string, fn func(*watchHealth)) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.watchers[scope]
	if w == nil {
		now := time.Now()
		w = &watchHealth{disconnectedSince: now, heartbeat: now}
		h.watchers[scope] = w
	}
	fn(w)
	w.heartbeat = time.Now()
}

// Beat says scope's loop is alive.
func (h *Health) Beat(scope string) { h.update(scope, func(*watchHealth) {}) }

// Listed says scope's list completed.
func (h *Health) Listed(scope string) { h.update(scope, func(w *watchHealth) { w.synced = true }) }

// Connected says whether scope's watch stream is open.
func (h *Health) Connected(scope string, up bool) {
	h.update(scope, func(w *watchHealth) {
		if w.connected && !up {
			w.disconnectedSince = time.Now()
		}
		w.connected = up
	})
}

// Ready reports whether every watcher has listed and is connected, or was disconnected
// for less than readyGrace; if not, why.
func (h *Health) Ready() (bool, string) {
	return h.check(func(scope string, w *watchHealth, now time.Time) string {
		switch {
		case !w.synced:
			return scope + ": first list not done"
		case !w.connected && now.Sub(w.disconnectedSince) > h.readyGrace:
			return fmt.Sprintf("%s: watch disconnected for %s", scope, now.Sub(w.disconnectedSince).Round(time.Second))
		}
		return ""
	})
}

// Healthy reports whether every watcher's loop has shown life within wedgedAfter.
func (h *Health) Healthy() (bool, string) {
	return h.check(func(scope string, w *watchHealth, now time.Time) string {
		if d := now.Sub(w.heartbeat); d > h.wedgedAfter {
			return fmt.Sprintf("%s: no progress for %s", scope, d.Round(time.Second))
		}
		return ""
	})
}

// check runs problem on every watcher and joins what it finds.
func (h *Health) check(problem func(string, *watchHealth, time.Time) string) (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.watchers) == 0 {
		return false, "no watcher started yet"
	}
	now := time.Now()
	var problems []string
	for scope, w := range h.watchers {
		if p := problem(scope, w, now); p != "" {
			problems = append(problems, p)
		}
	}
	slices.Sort(problems)
	return len(problems) == 0, strings.Join(problems, "; ")
}

// Limits bounds what clients of the health and metrics port can hold.
type Limits struct {
	// maxConns caps open connections; more wait in the kernel's backlog, unread.
	maxConns int
	// readHeader, read and write bound one request; idle bounds a keep-alive connection
	// between requests.
	readHeader, read, write, idle time.Duration
}

// DefaultLimits let a probe or a scrape through at any time while no client can hold
// more than 64 connections, each for seconds.
var DefaultLimits = Limits{maxConns: 64, readHeader: 5 * time.Second, read: 10 * time.Second,
	write: 10 * time.Second, idle: 15 * time.Second}

// Serve listens on addr and serves the probes (answering what healthy and ready say)
// and the metrics until ctx ends, within lim; it returns the address it listens on, or
// an error at once if it cannot listen.
func Serve(ctx context.Context, addr string, lim Limits, healthy, ready func() (bool, string), m *Metrics, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen for health and metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	probe := func(check func() (bool, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if ok, why := check(); !ok {
				http.Error(w, why, http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.Handle("/healthz", probe(healthy))
	mux.Handle("/live", probe(healthy)) // stakater/Reloader's name, which its chart probes
	mux.Handle("/readyz", probe(ready))
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		ok, _ := ready()
		m.Ready.Set(map[bool]float64{true: 1}[ok])
		if err := m.Write(w); err != nil {
			log.Debug("Could not write metrics", "err", err)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: lim.readHeader, ReadTimeout: lim.read,
		WriteTimeout: lim.write, IdleTimeout: lim.idle, MaxHeaderBytes: 8 << 10}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	go func() {
		if err := srv.Serve(newLimitListener(ln, lim.maxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("Health and metrics server stopped", "err", err)
		}
	}()
	log.Info("Serving health and metrics", "address", ln.Addr().String())
	return ln.Addr().String(), nil
}

// limitListener accepts a connection only while fewer than its cap are open.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	close sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &slotConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

func (l *limitListener) Close() error {
	l.close.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// slotConn gives its slot back when closed.
type slotConn struct {
	net.Conn
	release func()
}

func (c *slotConn) Close() error {
	c.release()
	return c.Conn.Close()
}
