// health_test.go tests what the probes and /metrics say, as tables over the health
// tracker and the metric families: when /readyz and /healthz fail and why, and that each
// family is written once, in the text format, with its series sorted.

package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadinessFollowsEachWatch(t *testing.T) {
	const scope = `configmaps in "default"`
	for _, row := range []struct {
		name   string
		setup  func(h *health)
		ready  bool
		reason string
	}{
		{"no watcher yet", func(*health) {}, false, "no watcher started yet"},
		{"first list not done", func(h *health) { h.beat(scope) }, false, "first list not done"},
		{"listed and connected", func(h *health) { h.listed(scope); h.connected(scope, true) }, true, ""},
		{"listed, disconnected briefly (reconnecting)", func(h *health) {
			h.listed(scope)
			h.connected(scope, true)
			h.connected(scope, false)
		}, true, ""},
		{"disconnected longer than the grace", func(h *health) {
			h.listed(scope)
			h.connected(scope, true)
			h.connected(scope, false)
			h.watchers[scope].disconnectedSince = time.Now().Add(-time.Minute)
		}, false, "watch disconnected for 1m0s"},
		{"one of two watchers not listed", func(h *health) {
			h.listed(scope)
			h.connected(scope, true)
			h.beat(`secrets in "default"`)
		}, false, `secrets in "default": first list not done`},
	} {
		t.Run(row.name, func(t *testing.T) {
			h := newHealth()
			row.setup(h)
			ok, why := h.ready()
			assert.Equal(t, row.ready, ok)
			assert.Contains(t, why, row.reason)
		})
	}
}

func TestANilHealthTracksNothing(t *testing.T) {
	var h *health
	h.beat("x")
	h.listed("x")
	h.connected("x", true)
}

func TestEveryFamilyIsWrittenOnceWithHelpAndType(t *testing.T) {
	m := newMetrics()
	m.pods.add(3, "strategy", "delete", "result", "restarted")
	m.pods.add(1, "strategy", "delete", "result", "failed")
	m.podsOwed.set(1)
	m.lastSync.setNow()
	var b strings.Builder
	require.NoError(t, m.write(&b))
	out := b.String()
	for _, f := range m.families {
		assert.Equal(t, 1, strings.Count(out, "# TYPE "+f.name+" "), f.name)
		assert.Equal(t, 1, strings.Count(out, "# HELP "+f.name+" "), f.name)
	}
	assert.Less(t, strings.Index(out, `result="failed"`), strings.Index(out, `result="restarted"`), "series sorted by labels")
	samples := parseMetrics(t, out)
	assert.Equal(t, 1.0, value(samples, "cuscon_pods_owed"))
	assert.InDelta(t, float64(time.Now().Unix()), value(samples, "cuscon_last_sync_timestamp_seconds"), 5)
	assert.Equal(t, 17, len(m.families), "the families the README lists")
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
	log, _ := newLogger(io.Discard, "text", 0)
	h := newHealth()
	addr, err := serveLimited(ctx, "127.0.0.1:0", defaultLimits, h.healthy, h.ready, newMetrics(), log)
	require.NoError(t, err)
	base := "http://" + addr
	for _, row := range []struct {
		path, body string
		code       int
	}{
		{"/readyz", "no watcher started yet", http.StatusServiceUnavailable},
		{"/healthz", "no watcher started yet", http.StatusServiceUnavailable},
	} {
		code, body := get(t, base+row.path)
		assert.Equal(t, row.code, code, row.path)
		assert.Contains(t, body, row.body, row.path)
	}
	h.listed(`configmaps in "default"`)
	h.connected(`configmaps in "default"`, true)
	for _, path := range []string{"/readyz", "/healthz"} {
		code, body := get(t, base+path)
		assert.Equal(t, http.StatusOK, code, path)
		assert.Equal(t, "ok\n", body, path)
	}
	code, _ := get(t, base+"/nothing-here")
	assert.Equal(t, http.StatusNotFound, code, "nothing else is served")
}
