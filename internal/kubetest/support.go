// support.go is what tests of several packages share besides the fake API: a log sink a
// test can wait on, and reading cuscon's HTTP endpoints and its metrics strictly.

package kubetest

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cuscon/internal/promtext"

	"github.com/stretchr/testify/require"
)

// LogSink collects a logger's output and lets a test wait for a line.
type LogSink struct {
	mu     sync.Mutex
	buf    strings.Builder
	notify chan struct{}
}

// NewLogSink returns an empty sink.
func NewLogSink() *LogSink { return &LogSink{notify: make(chan struct{})} }

func (s *LogSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	close(s.notify)
	s.notify = make(chan struct{})
	return len(p), nil
}

// String returns everything logged so far.
func (s *LogSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// Count returns how many times substr has been logged.
func (s *LogSink) Count(substr string) int { return strings.Count(s.String(), substr) }

// WaitFor waits until substr has been logged n times.
func (s *LogSink) WaitFor(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, ch := strings.Count(s.buf.String(), substr), s.notify
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %d× %q in log:\n%s", n, substr, s.String())
		}
	}
}

// ServerURL is the base URL of the health and metrics server that log names.
func (s *LogSink) ServerURL(t *testing.T) string {
	t.Helper()
	s.WaitFor(t, "Serving health and metrics", 1)
	m := regexp.MustCompile(`Serving health and metrics.* address=(\S+)`).FindStringSubmatch(s.String())
	require.NotNil(t, m)
	return "http://" + m[1]
}

// Get returns the status code and body of url.
func Get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// WaitStatus polls an endpoint until it answers code.
func WaitStatus(t *testing.T, url string, code int) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		got, _ := Get(t, url)
		if got == code {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s still answers %d, want %d", url, got, code)
		time.Sleep(5 * time.Millisecond) // polling the probe is the observation itself
	}
}

// ParseMetrics reads exposition text with the strict reader, failing the test on any
// deviation from the format.
func ParseMetrics(t *testing.T, text string) []promtext.Sample {
	t.Helper()
	samples, err := promtext.Parse(text)
	require.NoError(t, err, "metrics:\n%s", text)
	return samples
}

// Value is promtext.Value: the sample of a series, 0 if absent.
var Value = promtext.Value
