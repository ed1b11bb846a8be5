// server_test.go proves that clients of the health and metrics port cannot hold it: a
// connection cap, and idle connections closed by the server.

package telemetry

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"cuscon/internal/kubetest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startServer serves always-healthy probes within lim and returns the address.
func startServer(t *testing.T, lim Limits) string {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log, _ := NewLogger(io.Discard, "text", 0)
	ok := func() (bool, string) { return true, "" }
	addr, err := Serve(ctx, "127.0.0.1:0", lim, ok, ok, NewMetrics("test"), log)
	require.NoError(t, err)
	return addr
}

// probeOn sends GET /healthz on conn and reads the status line.
func probeOn(conn net.Conn) (string, error) {
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	_ = conn.SetReadDeadline(time.Now().Add(kubetest.WaitTimeout))
	return bufio.NewReader(conn).ReadString('\n')
}

func TestConnectionsBeyondTheCapWaitUnread(t *testing.T) {
	addr := startServer(t, Limits{maxConns: 2, readHeader: time.Minute, read: time.Minute, write: time.Minute, idle: time.Minute})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		line, err := probeOn(c) // accepted and served: it holds a slot
		require.NoError(t, err)
		require.Contains(t, line, "200")
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr) // the kernel queues it; the server does not accept it
	require.NoError(t, err)
	defer third.Close()
	_, _ = io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = third.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = third.Read(make([]byte, 1))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "not served while two connections hold the slots")

	held[0].Close() // a slot frees: the queued connection is served
	_ = third.SetReadDeadline(time.Now().Add(kubetest.WaitTimeout))
	line, err := bufio.NewReader(third).ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, line, "200")
	held[1].Close()
}

func TestIdleConnectionsAreClosedByTheServer(t *testing.T) {
	addr := startServer(t, Limits{maxConns: 4, readHeader: 50 * time.Millisecond, read: time.Second, write: time.Second, idle: 50 * time.Millisecond})
	for name, prime := range map[string]bool{"idle after a request": true, "silent from the start": false} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		r := bufio.NewReader(c)
		if prime {
			_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(r, nil)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		_ = c.SetReadDeadline(time.Now().Add(kubetest.WaitTimeout))
		_, err = r.ReadByte()
		assert.ErrorIs(t, err, io.EOF, "%s: the server hangs up", name)
		c.Close()
	}
}

func TestDefaultLimitsBoundEveryConnection(t *testing.T) {
	for name, d := range map[string]time.Duration{"readHeader": DefaultLimits.readHeader, "read": DefaultLimits.read,
		"write": DefaultLimits.write, "idle": DefaultLimits.idle} {
		assert.Positive(t, d, name)
		assert.LessOrEqual(t, d, 30*time.Second, name)
	}
	assert.Equal(t, 64, DefaultLimits.maxConns)
}

func TestMetricsSayWhetherCusconIsReady(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log, _ := NewLogger(io.Discard, "text", 0)
	var mu sync.Mutex
	ready := false
	m := NewMetrics("test")
	check := func() (bool, string) { mu.Lock(); defer mu.Unlock(); return ready, "first list not done" }
	addr, err := Serve(ctx, "127.0.0.1:0", DefaultLimits, check, check, m, log)
	require.NoError(t, err)
	scrape := func() float64 {
		_, body := kubetest.Get(t, "http://"+addr+"/metrics")
		return kubetest.Value(kubetest.ParseMetrics(t, body), "cuscon_ready")
	}
	assert.Equal(t, 0.0, scrape())
	mu.Lock()
	ready = true
	mu.Unlock()
	assert.Equal(t, 1.0, scrape())
}

func TestIdleTimeoutHoldsWhenTheReadTimeoutIsLonger(t *testing.T) {
	addr := startServer(t, Limits{maxConns: 4, readHeader: time.Minute, read: time.Minute, write: time.Minute, idle: 50 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = c.SetReadDeadline(time.Now().Add(kubetest.WaitTimeout))
	_, err = r.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "closed by the server after 50 ms idle")
}
