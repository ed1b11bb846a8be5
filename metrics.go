// metrics.go counts what cuscon does and writes it in the Prometheus text format
// (version 0.0.4), by hand: counters and gauges with labels, and histograms with fixed
// buckets. A nil *metrics records nothing.
package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// metricsContentType is what /metrics answers with; Prometheus 3 insists on it.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// Buckets of the histograms, in seconds.
var (
	reactionBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	requestBuckets  = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}
)

// metricDef describes one metric family.
type metricDef struct {
	name, help, typ string
	buckets         []float64 // histograms only
}

// The families cuscon exports, in the order they are written.
var metricDefs = []metricDef{
	{name: "cuscon_build_info", help: "Always 1; the labels say which build runs.", typ: "gauge"},
	{name: "cuscon_leader", help: "1 while this replica may act (the leader, or leader election off), else 0.", typ: "gauge"},
	{name: "cuscon_last_sync_timestamp_seconds", help: "When a list or watch last told cuscon the state of its objects, in Unix seconds.", typ: "gauge"},
	{name: "cuscon_watch_events_total", help: "Watch events received, by resource and event type.", typ: "counter"},
	{name: "cuscon_relists_total", help: "Lists after the first, made because a watch's resourceVersion expired.", typ: "counter"},
	{name: "cuscon_watch_reconnects_total", help: "Watches started again after one ended or failed.", typ: "counter"},
	{name: "cuscon_api_requests_total", help: "Requests to the Kubernetes API, by HTTP verb and status code (error: no answer).", typ: "counter"},
	{name: "cuscon_api_request_duration_seconds", help: "Time to the API's answer (its headers, for a watch), by HTTP verb.", typ: "histogram", buckets: requestBuckets},
	{name: "cuscon_restarts_total", help: "Restart requests carried out, by strategy and result (ok, incomplete, refused).", typ: "counter"},
	{name: "cuscon_pods_total", help: "Pods acted on, by strategy and result (restarted, skipped, failed).", typ: "counter"},
	{name: "cuscon_reaction_seconds", help: "From receiving a content change to finishing its last action.", typ: "histogram", buckets: reactionBuckets},
	{name: "cuscon_sync_writes_total", help: "cuscon sync: configurations written into the directory, or refused (result).", typ: "counter"},
	{name: "cuscon_reloads_total", help: "cuscon sync: reloads of the app, by result (ok, failed).", typ: "counter"},
}

// series is one labelled time series: a value, or a histogram's counts.
type series struct {
	labels string // rendered: {k="v",...} or ""
	value  float64
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

// metrics holds every series, by family name and rendered labels.
type metrics struct {
	mu     sync.Mutex
	series map[string]map[string]*series
}

// newMetrics returns a registry with build info set and the leader gauge at 1.
func newMetrics() *metrics {
	m := &metrics{series: map[string]map[string]*series{}}
	m.set("cuscon_build_info", 1, "version", version, "goversion", runtime.Version())
	m.set("cuscon_leader", 1)
	return m
}

// get returns the series of name with labels (pairs of key, value), creating it.
func (m *metrics) get(name string, labels ...string) *series {
	fam := m.series[name]
	if fam == nil {
		fam = map[string]*series{}
		m.series[name] = fam
	}
	key := renderLabels(labels)
	s := fam[key]
	if s == nil {
		s = &series{labels: key}
		fam[key] = s
	}
	return s
}

// add adds v to a counter.
func (m *metrics) add(name string, v float64, labels ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(name, labels...).value += v
}

// inc adds one to a counter.
func (m *metrics) inc(name string, labels ...string) { m.add(name, 1, labels...) }

// set sets a gauge.
func (m *metrics) set(name string, v float64, labels ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(name, labels...).value = v
}

// observe records v in a histogram.
func (m *metrics) observe(name string, v float64, labels ...string) {
	if m == nil {
		return
	}
	buckets := defOf(name).buckets
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.get(name, labels...)
	if s.counts == nil {
		s.counts = make([]uint64, len(buckets))
	}
	if i, _ := slices.BinarySearch(buckets, v); i < len(buckets) {
		s.counts[i]++
	}
	s.sum += v
	s.count++
}

// defOf returns the definition of a family; an unknown name is a programming error.
func defOf(name string) metricDef {
	for _, d := range metricDefs {
		if d.name == name {
			return d
		}
	}
	panic("unknown metric " + name)
}

// write renders every family in the text format: HELP and TYPE once, then samples
// sorted by labels; histograms as cumulative buckets ending at +Inf, then sum and count.
func (m *metrics) write(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, d := range metricDefs {
		fam := m.series[d.name]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", d.name, d.help, d.name, d.typ)
		keys := make([]string, 0, len(fam))
		for k := range fam {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s := fam[k]
			if d.typ != "histogram" {
				fmt.Fprintf(&b, "%s%s %s\n", d.name, k, formatFloat(s.value))
				continue
			}
			var cum uint64
			for i, le := range d.buckets {
				cum += s.counts[i]
				fmt.Fprintf(&b, "%s_bucket%s %d\n", d.name, withLabel(k, "le", formatFloat(le)), cum)
			}
			fmt.Fprintf(&b, "%s_bucket%s %d\n", d.name, withLabel(k, "le", "+Inf"), s.count)
			fmt.Fprintf(&b, "%s_sum%s %s\n", d.name, k, formatFloat(s.sum))
			fmt.Fprintf(&b, "%s_count%s %d\n", d.name, k, s.count)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// renderLabels renders key, value pairs as {k="v",...}, escaping values.
func renderLabels(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+`="`+escapeLabel(kv[i+1])+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// withLabel adds one more label to rendered labels.
func withLabel(rendered, k, v string) string {
	extra := k + `="` + escapeLabel(v) + `"`
	if rendered == "" {
		return "{" + extra + "}"
	}
	return rendered[:len(rendered)-1] + "," + extra + "}"
}

// escapeLabel escapes a label value as the text format requires: \\, \", \n.
func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// formatFloat writes a sample value as Prometheus does.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
