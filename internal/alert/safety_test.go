// safety_test.go tests where cuscon is deliberately safer than Reloader: a hanging
// endpoint is abandoned, a full queue drops instead of blocking, only the webhook's
// transport errors are retried, logs name hosts and never URLs, and nothing is queued
// when the feature is off.

package alert

import (
	"bytes"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAHangingEndpointIsAbandonedAndLaterAlertsGoOut(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv, got := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // hang until the client gives up (or the test ends)
			case <-r.Context().Done():
			case <-release:
			}
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	s, counted := unstarted(t, Config{OnReload: true, URL: srv.URL}, nil, nil)
	s.timeout = 100 * time.Millisecond
	run(t, s)

	s.Reloaded(reload)
	s.Reloaded(reload)
	assert.Equal(t, "alert/failed", next(t, counted), "the hanging POST times out")
	assert.Equal(t, "alert/sent", next(t, counted), "the next alert still goes out")
	next(t, got)
	next(t, got)
}

func TestAFullQueueDropsAndCountsWithoutBlocking(t *testing.T) {
	srv, got := recorder(t, status(http.StatusOK))
	s, counted := unstarted(t, Config{OnReload: true, URL: srv.URL}, nil, nil)

	returned := make(chan struct{})
	go func() {
		for range queueSize + 1 {
			s.Reloaded(reload)
		}
		close(returned)
	}()
	next(t, returned) // Run has not started: the last call must not wait for it
	assert.Equal(t, "alert/dropped", next(t, counted))
	assert.Empty(t, counted, "only the alert past the bound is dropped")

	run(t, s)
	for range queueSize {
		assert.Equal(t, "alert/sent", next(t, counted), "what was queued goes out")
		next(t, got)
	}
}

func TestOnlyTheWebhooksTransportErrorsAreRetriedFiveTimes(t *testing.T) {
	for _, row := range []struct {
		what     string
		send     func(*Sender)
		attempts int32
	}{
		{"alert", func(s *Sender) { s.Reloaded(reload) }, 1},
		{"webhook", func(s *Sender) { s.Changed("SECRET", "db", "shop") }, 6},
	} {
		t.Run(row.what, func(t *testing.T) {
			addr, accepted := hangingUp(t)
			s, counted := started(t, Config{OnReload: true, URL: "http://" + addr, WebhookURL: "http://" + addr}, nil, nil)
			row.send(s)
			assert.Equal(t, row.what+"/failed", next(t, counted))
			assert.Equal(t, row.attempts, accepted.Load(), "connections made")
		})
	}
}

// hangingUp listens on a local port and closes every connection it accepts before
// answering: a transport error for the client, each attempt counted.
func hangingUp(t *testing.T) (string, *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	return ln.Addr().String(), &accepted
}

func TestLogsNameTheHostNeverTheURL(t *testing.T) {
	srv, _ := recorder(t, status(http.StatusInternalServerError))
	addr, _ := hangingUp(t)
	var log bytes.Buffer
	s, counted := started(t, Config{OnReload: true, URL: srv.URL + "/services/T/B/TOKEN-ALERT", WebhookURL: "http://" + addr + "/hooks/TOKEN-WEBHOOK"}, nil, &log)

	s.Reloaded(reload)
	assert.Equal(t, "alert/failed", next(t, counted))
	s.Changed("CONFIGMAP", "app-config", "shop")
	assert.Equal(t, "webhook/failed", next(t, counted))

	assert.Contains(t, log.String(), "host="+srv.Listener.Addr().String())
	assert.Contains(t, log.String(), "host="+addr)
	assert.Contains(t, log.String(), "status 500 Internal Server Error")
	assert.NotContains(t, log.String(), "TOKEN")
}

func TestNothingIsQueuedWhenOff(t *testing.T) {
	s, _ := unstarted(t, Config{URL: "http://h/x"}, nil, nil)
	s.Reloaded(reload)
	s.Changed("CONFIGMAP", "app-config", "shop")
	assert.Zero(t, len(s.queue), "ALERT_ON_RELOAD unset and no --webhook-url: nothing to send")

	s, _ = unstarted(t, Config{OnReload: true, URL: "http://h/x", WebhookURL: "http://h/w"}, nil, nil)
	s.Reloaded(reload)
	s.Changed("CONFIGMAP", "app-config", "shop")
	assert.Equal(t, 2, len(s.queue))
}
