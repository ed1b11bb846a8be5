// Package telemetry is what cuscon tells about itself: its metrics in the Prometheus
// text format (written by hand: counters, gauges, histograms), the health that its
// probes answer, the server of /healthz, /readyz and /metrics, and its log lines (the
// Python script's format, or JSON). It knows nothing of what cuscon restarts.
package telemetry

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

// ContentType is what /metrics answers with; Prometheus 3 insists on it.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Buckets of the histograms, in seconds.
var (
	reactionBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	requestBuckets  = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}
)

// Metrics is every family cuscon exports, in the order they are written. Each family is
// a field, so a misspelt metric does not compile.
type Metrics struct {
	mu       sync.Mutex
	families []*Family

	BuildInfo, Leader, Ready, LastSync               *Family
	WatchEvents, Relists, Reconnects                 *Family
	APIRequests, APIDuration                         *Family
	Restarts, Pods, Reaction, RestartsOwed, PodsOwed *Family
	SyncWrites, Reloads                              *Family
	EventsDropped                                    *Family
	ReloaderChecks, ReloaderCheckSeconds             *Family
	ReloaderReloads, Alerts                          *Family
	PodLookups, PodCachePods                         *Family
	RestartsDeferred                                 *Family
}

// NewMetrics returns a registry with build info set (version is the build's) and the
// leader gauge at 1.
func NewMetrics(version string) *Metrics {
	m := &Metrics{}
	gauge := func(name, help string) *Family { return m.family(name, help, "gauge", nil) }
	counter := func(name, help string) *Family { return m.family(name, help, "counter", nil) }
	histogram := func(name, help string, b []float64) *Family { return m.family(name, help, "histogram", b) }
	m.BuildInfo = gauge("cuscon_build_info", "Always 1; the labels say which build runs.")
	m.Leader = gauge("cuscon_leader", "1 while this replica may act (the leader, or leader election off), else 0.")
	m.Ready = gauge("cuscon_ready", "1 while /readyz answers 200: every watch listed and connected.")
	m.LastSync = gauge("cuscon_last_sync_timestamp_seconds", "When a list or watch last told cuscon the state of its objects, in Unix seconds.")
	m.WatchEvents = counter("cuscon_watch_events_total", "Watch events received, by resource and event type.")
	m.Relists = counter("cuscon_relists_total", "Lists after the first, made because a watch's resourceVersion expired.")
	m.Reconnects = counter("cuscon_watch_reconnects_total", "Watches started again after one ended or failed.")
	m.APIRequests = counter("cuscon_api_requests_total", "Requests to the Kubernetes API, by HTTP verb and status code (error: no answer).")
	m.APIDuration = histogram("cuscon_api_request_duration_seconds", "Time to the API's answer (its headers, for a watch), by HTTP verb.", requestBuckets)
	m.Restarts = counter("cuscon_restarts_total", "Restart requests carried out, by strategy and result (ok, incomplete, refused).")
	m.Pods = counter("cuscon_pods_total", "Pods acted on, by strategy and result (restarted, skipped, failed).")
	m.Reaction = histogram("cuscon_reaction_seconds", "From receiving a content change to finishing its last action.", reactionBuckets)
	m.RestartsOwed = gauge("cuscon_restarts_owed", "ConfigMaps and Secrets whose latest change is not fully applied: refused, or pods still to restart.")
	m.PodsOwed = gauge("cuscon_pods_owed", "Pods still to restart for changes not fully applied.")
	m.SyncWrites = counter("cuscon_sync_writes_total", "cuscon sync: configurations written into the directory, or refused (result).")
	m.Reloads = counter("cuscon_reloads_total", "cuscon sync: reloads of the app, by result (ok, failed).")
	m.EventsDropped = counter("cuscon_events_dropped_total", "Events not posted because too many were waiting (a share per namespace).")
	m.ReloaderChecks = counter("cuscon_reloader_checks_total", "Reloader mode: checks of a namespace's workloads, by sweep (true: every workload against everything; false: against the objects that changed).")
	m.ReloaderCheckSeconds = histogram("cuscon_reloader_check_seconds", "Reloader mode: time a check of a namespace's workloads took.", requestBuckets)
	m.ReloaderReloads = counter("reloader_reload_executed_total", "Reloader mode, under stakater/Reloader's own name: workload restarts carried out, by success (true, false).")
	m.Alerts = counter("cuscon_alerts_total", "Reloader mode: alerts (alert) and --webhook-url posts (webhook) sent, failed or dropped (a full queue), by result.")
	m.PodLookups = counter("cuscon_pod_lookups_total", "Restarts' lookups of the pods a selector selects, by source: cache (the pod cache, no request) or list (a pod LIST: no cache, or its watch not open).")
	m.PodCachePods = gauge("cuscon_pod_cache_pods", "Pods the pod cache knows (metadata only), across the namespaces in scope.")
	m.RestartsDeferred = gauge("cuscon_restarts_deferred", "Workload restarts owed but not run, by reason: window (outside its maintenance window), wave (waiting for an earlier wave), held (an earlier wave failed or was not healthy in time).")
	for _, reason := range []string{"window", "wave", "held"} {
		m.RestartsDeferred.Set(0, "reason", reason)
	}
	m.BuildInfo.Set(1, "version", version, "goversion", runtime.Version())
	m.Leader.Set(1)
	return m
}

// Family is one metric family: its definition and its series by rendered labels.
type Family struct {
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

func (m *Metrics) family(name, help, typ string, buckets []float64) *Family {
	f := &Family{mu: &m.mu, name: name, help: help, typ: typ, buckets: buckets, series: map[string]*series{}}
	m.families = append(m.families, f)
	return f
}

// get returns the series with labels (pairs of key, value), creating it. mu is held.
func (f *Family) get(labels []string) *series {
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

// Add adds v to a counter.
func (f *Family) Add(v float64, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.get(labels).value += v
}

// Value is the value of the series with labels: a counter's or a gauge's, 0 if none.
func (f *Family) Value(labels ...string) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.series[renderLabels(labels)]; s != nil {
		return s.value
	}
	return 0
}

// Inc adds one to a counter.
func (f *Family) Inc(labels ...string) { f.Add(1, labels...) }

// Set sets a gauge.
func (f *Family) Set(v float64, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.get(labels).value = v
}

// SetNow sets a gauge to the current Unix time.
func (f *Family) SetNow() { f.Set(float64(time.Now().UnixNano()) / 1e9) }

// Observe records v in a histogram.
func (f *Family) Observe(v float64, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.get(labels)
	if i, _ := slices.BinarySearch(f.buckets, v); i < len(f.buckets) {
		s.counts[i]++
	}
	s.sum += v
	s.count++
}

// Write renders every family in the text format: HELP and TYPE once, then samples
// sorted by labels; histograms as cumulative buckets ending at +Inf, then sum and count.
func (m *Metrics) Write(w io.Writer) error {
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
