// metrics.go counts what cuscon does and writes it in the Prometheus text format
// (version 0.0.4), by hand: counters and gauges with labels, and histograms with fixed
// buckets. Each family is a field of metrics, so a misspelt metric does not compile.

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
	"time"
)

// metricsContentType is what /metrics answers with; Prometheus 3 insists on it.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// Buckets of the histograms, in seconds.
var (
	reactionBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	requestBuckets  = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}
)

// metrics is every family cuscon exports, in the order they are written.
type metrics struct {
	mu       sync.Mutex
	families []*family

	buildInfo, leader, ready, lastSync               *family
	watchEvents, relists, reconnects                 *family
	apiRequests, apiDuration                         *family
	restarts, pods, reaction, restartsOwed, podsOwed *family
	syncWrites, reloads                              *family
	eventsDropped                                    *family
}

// newMetrics returns a registry with build info set and the leader gauge at 1.
func newMetrics() *metrics {
	m := &metrics{}
	gauge := func(name, help string) *family { return m.family(name, help, "gauge", nil) }
	counter := func(name, help string) *family { return m.family(name, help, "counter", nil) }
	histogram := func(name, help string, b []float64) *family { return m.family(name, help, "histogram", b) }
	m.buildInfo = gauge("cuscon_build_info", "Always 1; the labels say which build runs.")
	m.leader = gauge("cuscon_leader", "1 while this replica may act (the leader, or leader election off), else 0.")
	m.ready = gauge("cuscon_ready", "1 while /readyz answers 200: every watch listed and connected.")
	m.lastSync = gauge("cuscon_last_sync_timestamp_seconds", "When a list or watch last told cuscon the state of its objects, in Unix seconds.")
	m.watchEvents = counter("cuscon_watch_events_total", "Watch events received, by resource and event type.")
	m.relists = counter("cuscon_relists_total", "Lists after the first, made because a watch's resourceVersion expired.")
	m.reconnects = counter("cuscon_watch_reconnects_total", "Watches started again after one ended or failed.")
	m.apiRequests = counter("cuscon_api_requests_total", "Requests to the Kubernetes API, by HTTP verb and status code (error: no answer).")
	m.apiDuration = histogram("cuscon_api_request_duration_seconds", "Time to the API's answer (its headers, for a watch), by HTTP verb.", requestBuckets)
	m.restarts = counter("cuscon_restarts_total", "Restart requests carried out, by strategy and result (ok, incomplete, refused).")
	m.pods = counter("cuscon_pods_total", "Pods acted on, by strategy and result (restarted, skipped, failed).")
	m.reaction = histogram("cuscon_reaction_seconds", "From receiving a content change to finishing its last action.", reactionBuckets)
	m.restartsOwed = gauge("cuscon_restarts_owed", "ConfigMaps and Secrets whose latest change is not fully applied: refused, or pods still to restart.")
	m.podsOwed = gauge("cuscon_pods_owed", "Pods still to restart for changes not fully applied.")
	m.syncWrites = counter("cuscon_sync_writes_total", "cuscon sync: configurations written into the directory, or refused (result).")
	m.reloads = counter("cuscon_reloads_total", "cuscon sync: reloads of the app, by result (ok, failed).")
	m.eventsDropped = counter("cuscon_events_dropped_total", "Events not posted because too many were waiting (a share per namespace).")
	m.buildInfo.set(1, "version", version, "goversion", runtime.Version())
	m.leader.set(1)
	return m
}

// family is one metric family: its definition and its series by rendered labels.
type family struct {
	mu              *sync.Mutex
	name, help, typ string
	buckets         []float64 // histograms only
	series          map[string]*series
}

// series is one labelled time series: a value, or a histogram's counts.
type series struct {
	labels string // rendered: {k="v",...} or ""
	value  float64
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

func (m *metrics) family(name, help, typ string, buckets []float64) *family {
	f := &family{mu: &m.mu, name: name, help: help, typ: typ, buckets: buckets, series: map[string]*series{}}
	m.families = append(m.families, f)
	return f
}

// get returns the series with labels (pairs of key, value), creating it. mu is held.
func (f *family) get(labels []string) *series {
	key := renderLabels(labels)
	s := f.series[key]
	if s == nil {
		s = &series{labels: key}
		if f.typ == "histogram" {
			s.counts = make([]uint64, len(f.buckets))
		}
		f.series[key] = s
	}
	return s
}

// add adds v to a counter.
func (f *family) add(v float64, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.get(labels).value += v
}

// inc adds one to a counter.
func (f *family) inc(labels ...string) { f.add(1, labels...) }

// set sets a gauge.
func (f *family) set(v float64, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.get(labels).value = v
}

// setNow sets a gauge to the current Unix time.
func (f *family) setNow() { f.set(float64(time.Now().UnixNano()) / 1e9) }

// observe records v in a histogram.
func (f *family) observe(v float64, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.get(labels)
	if i, _ := slices.BinarySearch(f.buckets, v); i < len(f.buckets) {
		s.counts[i]++
	}
	s.sum += v
	s.count++
}

// write renders every family in the text format: HELP and TYPE once, then samples
// sorted by labels; histograms as cumulative buckets ending at +Inf, then sum and count.
func (m *metrics) write(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, f := range m.families {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s := f.series[k]
			if f.typ != "histogram" {
				fmt.Fprintf(&b, "%s%s %s\n", f.name, k, formatFloat(s.value))
				continue
			}
			var cum uint64
			for i, le := range f.buckets {
				cum += s.counts[i]
				fmt.Fprintf(&b, "%s_bucket%s %d\n", f.name, withLabel(k, "le", formatFloat(le)), cum)
			}
			fmt.Fprintf(&b, "%s_bucket%s %d\n", f.name, withLabel(k, "le", "+Inf"), s.count)
			fmt.Fprintf(&b, "%s_sum%s %s\n", f.name, k, formatFloat(s.sum))
			fmt.Fprintf(&b, "%s_count%s %d\n", f.name, k, s.count)
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
