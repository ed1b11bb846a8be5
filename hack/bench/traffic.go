// traffic.go measures what each peer costs the API server: the requests it sends and the
// bytes of the bodies that pass, per change it reacts to and while nothing changes. Each
// peer runs in a namespace of its own behind a recorder, with the latency runs' fixtures.
package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// trafficChanges is how many changes (after the warm-up) each peer's traffic is measured
// over.
const trafficChanges = 10

// trafficResult is one peer's traffic.
type trafficResult struct {
	Peer string
	// Changes is how many changes the peer reacted to while Change was counted: the
	// warm-up's and the measured ones.
	Changes int
	Change  traffic // everything the changes cost, start of the first to the last Ready replacement
	// Idle is what passed while nothing in the peer's namespace changed, over IdleFor
	// (the latency runs of the others, in namespaces of their own, went on meanwhile).
	Idle    traffic
	IdleFor time.Duration
}

// trafficRun is a peer left running after its changes, idle until finish.
type trafficRun struct {
	res       trafficResult
	ns        string
	rec       *recorder
	r         *running
	idleSince time.Time
	idleFrom  traffic
}

// startTraffic measures each peer's traffic per change, one peer after another, and
// leaves each running, idle, for finishTraffic; the floor and cuscon's knobs-off variant
// are left out (no process; the same requests as the defaults').
func (b *bench) startTraffic(ctx context.Context, peers []peer) ([]*trafficRun, error) {
	var runs []*trafficRun
	for _, p := range peers {
		if p.Kind == "floor" || len(p.Env) > 0 {
			continue
		}
		step(fmt.Sprintf("traffic: %s, %d changes, 3 pods", p.Name, trafficChanges))
		t, err := b.trafficOf(ctx, p)
		if err != nil {
			b.finishTraffic(runs)
			return nil, fmt.Errorf("traffic of %s: %w", p.Name, err)
		}
		runs = append(runs, t)
	}
	return runs, nil
}

// trafficOf starts p on fresh fixtures behind a recorder, waits until it has its
// ConfigMaps and is quiet, and counts what its changes cost.
func (b *bench) trafficOf(ctx context.Context, p peer) (*trafficRun, error) {
	t := &trafficRun{res: trafficResult{Peer: p.Name}, ns: "bench-traffic-" + p.slug()}
	if err := b.fixtures(ctx, t.ns, 3); err != nil {
		return nil, err
	}
	rec, err := newRecorder(b.proxyURL)
	if err != nil {
		return nil, err
	}
	t.rec = rec
	if t.r, err = b.startPeer(p, t.ns, rec.URL); err != nil {
		t.stop(b)
		return nil, err
	}
	if _, _, ok := rec.wait(time.Minute); !ok {
		t.stop(b)
		return nil, fmt.Errorf("%s did not get its ConfigMaps within a minute\n%s", p.Name, tail(t.r))
	}
	settle(t.r.proc.Pid())
	before := rec.snapshot()
	lat, err := b.measureChanges(ctx, p, t.r, t.ns, 3, trafficChanges, 0)
	if err != nil {
		t.stop(b)
		return nil, err
	}
	settle(t.r.proc.Pid()) // what follows a restart (a record, an Event) is the change's
	t.idleFrom, t.idleSince = rec.snapshot(), time.Now()
	t.res.Change = t.idleFrom.since(before)
	t.res.Changes = lat.Warmups + trafficChanges
	return t, nil
}

// finishTraffic ends the idle periods and stops the peers.
func (b *bench) finishTraffic(runs []*trafficRun) []trafficResult {
	var out []trafficResult
	for _, t := range runs {
		t.res.Idle, t.res.IdleFor = t.rec.snapshot().since(t.idleFrom), time.Since(t.idleSince)
		t.stop(b)
		out = append(out, t.res)
	}
	return out
}

// stop ends the peer, its recorder and its namespace.
func (t *trafficRun) stop(b *bench) {
	t.r.stop()
	t.rec.close()
	b.dropNamespace(t.ns)
}

// perChange is the requests and bytes of one change, on average.
func (t trafficResult) perChange() (requests, bytes float64) {
	n := float64(max(t.Changes, 1))
	return float64(t.Change.total()) / n, float64(t.Change.Bytes) / n
}

// perIdleHour is the requests and bytes of an idle hour, scaled from the idle period.
func (t trafficResult) perIdleHour() (requests, bytes float64) {
	h := max(t.IdleFor.Hours(), 1e-9)
	return float64(t.Idle.total()) / h, float64(t.Idle.Bytes) / h
}

// traf finds a traffic run.
func (r *report) traf(peer string) *trafficResult {
	for i := range r.Traffic {
		if r.Traffic[i].Peer == peer {
			return &r.Traffic[i]
		}
	}
	return nil
}

// trafficRows adds the side-by-side table's traffic rows to b.
func (r *report) trafficRows(b *strings.Builder) {
	base := r.traf("cuscon")
	if base == nil {
		return
	}
	row := func(name string, pick func(trafficResult) float64, unit func(float64) string) {
		fmt.Fprintf(b, "| %s |", name)
		for _, peer := range r.Peers {
			t := r.traf(peer)
			if t == nil {
				b.WriteString(" n/a |")
				continue
			}
			fmt.Fprintf(b, " %s%s |", unit(pick(*t)), ratio(pick(*t), pick(*base), peer == "cuscon"))
		}
		b.WriteString("\n")
	}
	count := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	row("3 pods: API requests per change", func(t trafficResult) float64 { v, _ := t.perChange(); return v }, count)
	row("3 pods: bytes through the API per change", func(t trafficResult) float64 { _, v := t.perChange(); return v }, kib)
	row("idle: API requests per hour", func(t trafficResult) float64 { v, _ := t.perIdleHour(); return v }, count)
	row("idle: bytes through the API per hour", func(t trafficResult) float64 { _, v := t.perIdleHour(); return v }, kib)
}

// kib renders a byte count in KiB.
func kib(v float64) string { return fmt.Sprintf("%.1f KiB", v/1024) }

// trafficSection details the traffic runs.
func (r *report) trafficSection() string {
	if len(r.Traffic) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## API traffic\n\nWhat each peer sent to the API server and what came back, counted by a pass-through recorder in front of the proxy: requests by verb and resource, and the bytes of request and response bodies (watch streams included; headers not). Each peer ran in a namespace of its own with the latency runs' fixtures (3 pods). *Per change*: the warm-up and %d changes spaced as above, from before the first to the last replacement Ready and the peer quiet again, divided by their number (the gaps between them included: what a peer sends while idle, a few bookmarks, counts too). *Idle*: the same peers then left running while nothing in their namespaces changed, through the latency runs of the others (in namespaces of their own), and scaled to an hour; the periods differ (each ran from the end of its peer's changes to the start of Reloader's latency runs), and each is given: watches renewed less often than the period measured show up in it only if one fell inside it (client-go's reflector renews each watch every 5–10 minutes; cuscon's watches last as long as the server lets them, 30–60 minutes by default).\n\n", trafficChanges)
	b.WriteString("| peer | changes | per change: requests | per change: bytes | requests, all changes | idle period | idle: requests | idle: bytes | idle requests |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range r.Traffic {
		reqs, bytes := t.perChange()
		fmt.Fprintf(&b, "| %s | %d | %.1f | %s | %s | %.1f min | %d | %s | %s |\n", t.Peer, t.Changes, reqs, kib(bytes), byVerb(t.Change.Requests),
			t.IdleFor.Minutes(), t.Idle.total(), kib(float64(t.Idle.Bytes)), byVerb(t.Idle.Requests))
	}
	return b.String()
}

// byVerb renders request counts as "VERB resource n, …", sorted.
func byVerb(m map[string]int) string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
