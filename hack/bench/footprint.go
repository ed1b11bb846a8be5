// footprint.go measures what each peer costs while it waits: memory and CPU with a
// namespace of ConfigMaps, idle and under churn, and how long it takes to have them all.
package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// footprintResult is one peer's footprint at one ConfigMap count.
type footprintResult struct {
	Peer         string
	ConfigMaps   int
	Startup      time.Duration // process start to its ConfigMaps all in hand (see recorder)
	StartupHow   string        // what marked it
	Readyz       time.Duration // cuscon only: process start to /readyz 200
	Settled      time.Duration // process start to its CPU going quiet (the initial events digested)
	PeakRSS      int64         // VmHWM once settled: the list's peak
	SteadyRSS    int64         // VmRSS after 10 s idle
	ChurnRSS     int64         // highest VmRSS under churn
	ChurnPeakRSS int64         // VmHWM at the end
	ChurnUpdates int
	ChurnSeconds float64
	ChurnCPUPct  float64        // CPU time over wall time, in % of one core
	IdleCPUPct   float64        // the same over the idle period
	Requests     map[string]int // requests sent, by "VERB resource", start to end
}

// churnRate is the steady churn of updates to unannotated ConfigMaps, per second.
const churnRate = 50

// footprint starts p on namespace ns, already filled with n ConfigMaps, behind a
// recorder, and measures its startup, memory and CPU, idle and under churn.
func (b *bench) footprint(ctx context.Context, p peer, ns string, n, size int) (footprintResult, error) {
	return b.footprintThen(ctx, p, ns, n, size, nil)
}

// footprintThen is footprint that, if then is not nil, hands the peer, still running, and
// its recorder to then before it stops it. size is that of the namespace's ConfigMaps,
// which the churn keeps: the next peer on the namespace must start on the same bytes.
func (b *bench) footprintThen(ctx context.Context, p peer, ns string, n, size int, then func(*running, *recorder) error) (footprintResult, error) {
	res := footprintResult{Peer: p.Name, ConfigMaps: n}
	rec, err := newRecorder(b.proxyURL)
	if err != nil {
		return res, err
	}
	defer rec.close()
	r, err := b.startPeer(p, ns, rec.URL)
	if err != nil {
		return res, err
	}
	defer r.stop()
	if p.Kind == "cuscon" {
		at, err := waitHTTP(ctx, r.proc, "http://"+r.listen+"/readyz")
		if err != nil {
			return res, err
		}
		res.Readyz = at.Sub(r.started)
	}
	at, how, ok := rec.wait(5 * time.Minute)
	if !ok || r.proc.Exited() {
		return res, fmt.Errorf("%s did not get its ConfigMaps within 5 minutes\n%s", p.Name, tail(r))
	}
	res.Startup, res.StartupHow = at.Sub(r.started), how
	pid := r.proc.Pid()
	res.Settled = settle(pid).Sub(r.started)
	res.PeakRSS = status(pid, "VmHWM")
	cpu0, t0 := cpuSeconds(pid), time.Now()
	time.Sleep(10 * time.Second) // idle: nothing to await, the point is to let time pass
	res.IdleCPUPct = 100 * (cpuSeconds(pid) - cpu0) / time.Since(t0).Seconds()
	res.SteadyRSS = status(pid, "VmRSS")
	if n >= 100 {
		if err := b.churn(ctx, ns, n, size, pid, &res); err != nil {
			return res, err
		}
	}
	res.ChurnPeakRSS = status(pid, "VmHWM")
	if r.proc.Exited() {
		return res, fmt.Errorf("%s exited during the run\n%s", p.Name, tail(r))
	}
	res.Requests = rec.counts()
	if then != nil {
		return res, then(r, rec)
	}
	return res, nil
}

// settle waits, for at most a minute, until the process has used less than 1% of a core
// over half a second, and returns when that was.
func settle(pid int) time.Time {
	deadline := time.Now().Add(time.Minute)
	prev, at := cpuSeconds(pid), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		cur := cpuSeconds(pid)
		if cur-prev < 0.005 {
			return at
		}
		prev, at = cur, time.Now()
	}
	return at
}

// churn updates unannotated ConfigMaps at churnRate a second for 20 s, sampling RSS.
func (b *bench) churn(ctx context.Context, ns string, n, size, pid int, res *footprintResult) error {
	const seconds = 20
	tick := time.NewTicker(time.Second / churnRate)
	defer tick.Stop()
	cpu0, t0 := cpuSeconds(pid), time.Now()
	var rss []int64
	for i := 0; i < churnRate*seconds; i++ {
		<-tick.C
		idx := 1 + i%(n-1)
		for idx%100 == 0 || (b.churnSpares != nil && b.churnSpares(idx)) {
			idx++ // leave the annotated ones alone: the churn is of ConfigMaps nobody watches
		}
		// A payload no earlier churn wrote: the same bytes again would be a no-op PATCH,
		// which the server answers without an event, so a later peer would see no churn.
		b.churned++
		patch := map[string]any{"data": map[string]string{"app.properties": payloadOf(1<<30+b.churned, size)}}
		path := fmt.Sprintf("/api/v1/namespaces/%s/configmaps/cfg-%05d", ns, idx)
		if err := b.kube.do(ctx, http.MethodPatch, path, patch, nil); err != nil {
			return err
		}
		res.ChurnUpdates++
		if i%5 == 0 {
			rss = append(rss, status(pid, "VmRSS"))
		}
	}
	res.ChurnSeconds = time.Since(t0).Seconds()
	res.ChurnCPUPct = 100 * (cpuSeconds(pid) - cpu0) / res.ChurnSeconds
	res.ChurnRSS = slices.Max(rss)
	return nil
}
