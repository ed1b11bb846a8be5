// health_test.go tests what the probes and /metrics say, as tables over the health
// tracker and the metric families: when /readyz and /healthz fail and why, and that each
// family is written once, in the text format, with its series sorted.

package telemetry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cuscon/internal/kubetest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadinessFollowsEachWatch(t *testing.T) {
	const scope = `configmaps in "default"`
	for _, row := range []struct {
		name   string
		setup  func(h *Health)
		ready  bool
		reason string
	}{
		{"no watcher yet", func(*Health) {}, false, "no watcher started yet"},
		{"first list not done", func(h *Health) { h.Beat(scope) }, false, "first list not done"},
		{"listed and connected", func(h *Health) { h.Listed(scope); h.Connected(scope, true) }, true, ""},
		{"listed, disconnected briefly (reconnecting)", func(h *Health) {
			h.Listed(scope)
			h.Connected(scope, true)
			h.Connected(scope, false)
		}, true, ""},
		{"disconnected longer than the grace", func(h *Health) {
			h.Listed(scope)
			h.Connected(scope, true)
			h.Connected(scope, false)
			h.watchers[scope].disconnectedSince = time.Now().Add(-time.Minute)
		}, false, "watch disconnected for 1m0s"},
		{"one of two watchers not listed", func(h *Health) {
			h.Listed(scope)
			h.Connected(scope, true)
			h.Beat(`secrets in "default"`)
		}, false, `secrets in "default": first list not done`},
	} {
		t.Run(row.name, func(t *testing.T) {
			h := NewHealth(0)
			row.setup(h)
			ok, why := h.Ready()
			assert.Equal(t, row.ready, ok)
			assert.Contains(t, why, row.reason)
		})
	}
}

func TestANilHealthTracksNothing(t *testing.T) {
	var h *Health
	h.Beat("x")
	h.Listed("x")
	h.Connected("x", true)
}

func TestEveryFamilyIsWrittenOnceWithHelpAndType(t *testing.T) {
	m := NewMetrics("test")
	m.Pods.Add(3, "strategy", "delete", "result", "restarted")
	m.Pods.Add(1, "strategy", "delete", "result", "failed")
	m.PodsOwed.Set(1)
	m.LastSync.SetNow()
	var b strings.Builder
	require.NoError(t, m.Write(&b))
	out := b.String()
	for _, f := range m.families {
		assert.Equal(t, 1, strings.Count(out, "# TYPE "+f.name+" "), f.name)
		assert.Equal(t, 1, strings.Count(out, "# HELP "+f.name+" "), f.name)
	}
	assert.Less(t, strings.Index(out, `result="failed"`), strings.Index(out, `result="restarted"`), "series sorted by labels")
	samples := kubetest.ParseMetrics(t, out)
	assert.Equal(t, 1.0, kubetest.Value(samples, "cuscon_pods_owed"))
	assert.InDelta(t, float64(time.Now().Unix()), kubetest.Value(samples, "cuscon_last_sync_timestamp_seconds"), 5)
	assert.Equal(t, 24, len(m.families), "the families docs/operations.md lists")
}

func TestLabelsAreEscapedAsTheTextFormatRequires(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:         `{k="plain"}`,
		`quo"te`:        `{k="quo\"te"}`,
		`back\slash`:    `{k="back\\slash"}`,
		"new\nline":     `{k="new\nline"}`,
		"":              `{k=""}`,
		`{already="x"}`: `{k="{already=\"x\"}"}`,
	} {
		assert.Equal(t, want, renderLabels([]string{"k", in}), in)
	}
	assert.Equal(t, `{a="1",le="0.5"}`, withLabel(`{a="1"}`, "le", "0.5"))
	assert.Equal(t, `{le="+Inf"}`, withLabel("", "le", "+Inf"))
}

func TestProbesAnswerTheReasonWhenTheyFail(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log, _ := NewLogger(io.Discard, "text", 0)
	h := NewHealth(0)
	addr, err := Serve(ctx, "127.0.0.1:0", DefaultLimits, h.Healthy, h.Ready, NewMetrics("test"), log)
	require.NoError(t, err)
	base := "http://" + addr
	for _, row := range []struct {
		path, body string
		code       int
	}{
		{"/readyz", "no watcher started yet", http.StatusServiceUnavailable},
		{"/healthz", "no watcher started yet", http.StatusServiceUnavailable},
	} {
		code, body := kubetest.Get(t, base+row.path)
		assert.Equal(t, row.code, code, row.path)
		assert.Contains(t, body, row.body, row.path)
	}
	h.Listed(`configmaps in "default"`)
	h.Connected(`configmaps in "default"`, true)
	for _, path := range []string{"/readyz", "/healthz"} {
		code, body := kubetest.Get(t, base+path)
		assert.Equal(t, http.StatusOK, code, path)
		assert.Equal(t, "ok\n", body, path)
	}
	code, _ := kubetest.Get(t, base+"/nothing-here")
	assert.Equal(t, http.StatusNotFound, code, "nothing else is served")
}

func TestHealthzFailsWhenAWatchLoopIsWedged(t *testing.T) {
	h := NewHealth(0)
	h.wedgedAfter = time.Minute
	ok, _ := h.Healthy()
	assert.False(t, ok, "no watcher yet")
	h.Listed("configmaps in \"default\"")
	ok, _ = h.Healthy()
	assert.True(t, ok)
	h.watchers["configmaps in \"default\""].heartbeat = time.Now().Add(-2 * time.Minute)
	ok, why := h.Healthy()
	assert.False(t, ok)
	assert.Contains(t, why, "no progress for 2m")
}

func TestMetricsFollowTheTextFormatStrictly(t *testing.T) {
	m := NewMetrics("v-test")
	m.APIRequests.Inc("verb", "GET", "code", "200")
	m.WatchEvents.Inc("resource", `odd"name\with`+"\nnewline", "type", "ADDED")
	m.Reaction.Observe(0.003)
	m.Reaction.Observe(7)
	m.Reaction.Observe(1e6)
	var b strings.Builder
	require.NoError(t, m.Write(&b))
	samples := kubetest.ParseMetrics(t, b.String())
	assert.Equal(t, 3.0, kubetest.Value(samples, "cuscon_reaction_seconds_count"))
	assert.Equal(t, 1.0, kubetest.Value(samples, "cuscon_reaction_seconds_bucket", "le", "0.005"))
	assert.Equal(t, 2.0, kubetest.Value(samples, "cuscon_reaction_seconds_bucket", "le", "10"))
	assert.Equal(t, 1.0, kubetest.Value(samples, "cuscon_build_info", "version", "v-test"))
	assert.Contains(t, b.String(), `resource="odd\"name\\with\nnewline"`)
}
