// report.go holds what one run measured and renders the tables of docs/benchmarks.md:
// the side-by-side summary with ratios to cuscon, then the detail of each scenario.
package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// report is everything one run measured.
type report struct {
	Date                  time.Time
	CPU                   string
	Cores                 int
	MemoryGiB             float64
	GoVersion             string
	LoadBefore, LoadAfter float64 // the machine's 1-minute load average at start and end
	Changes               int
	BinaryBytes           int64
	Peers                 []string
	ReloaderNote          string // why Reloader is missing, if it is
	Command               string // the flags the run was given
	Latency               []latencyResult
	Footprint             []footprintResult
	Traffic               []trafficResult
	Workloads             *workloadsResult
	Scale                 *scaleResult
	Decoder               []decoderResult
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func mib(b int64) string        { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// ratio renders v against cuscon's base as "×r"; empty for cuscon itself or no base.
func ratio(v, base float64, self bool) string {
	if self || base <= 0 || v <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f×)", v/base)
}

// lat finds a latency run.
func (r *report) lat(peer string, pods int) *latencyResult {
	for i := range r.Latency {
		if r.Latency[i].Peer == peer && r.Latency[i].Pods == pods {
			return &r.Latency[i]
		}
	}
	return nil
}

// foot finds a footprint run.
func (r *report) foot(peer string, n int) *footprintResult {
	for i := range r.Footprint {
		if r.Footprint[i].Peer == peer && r.Footprint[i].ConfigMaps == n {
			return &r.Footprint[i]
		}
	}
	return nil
}

// summary is the side-by-side table: each figure per peer, with its ratio to cuscon's.
func (r *report) summary() string {
	var b strings.Builder
	b.WriteString("| figure | " + strings.Join(r.Peers, " | ") + " |\n|---|" + strings.Repeat("---|", len(r.Peers)) + "\n")
	durRow := func(name string, pods int, pick func(*latencyResult) []time.Duration, p float64) {
		base := r.lat("cuscon", pods)
		fmt.Fprintf(&b, "| %s |", name)
		for _, peer := range r.Peers {
			l := r.lat(peer, pods)
			if l == nil {
				b.WriteString(" n/a |")
				continue
			}
			v := percentile(pick(l), p)
			var bv time.Duration
			if base != nil {
				bv = percentile(pick(base), p)
			}
			fmt.Fprintf(&b, " %s%s |", ms(v), ratio(float64(v), float64(bv), peer == "cuscon"))
		}
		b.WriteString("\n")
	}
	for _, pods := range []int{3, 30} {
		if r.lat("cuscon", pods) == nil {
			continue
		}
		for _, p := range []float64{50, 99} {
			durRow(fmt.Sprintf("%d pods: PATCH → first action, p%.0f", pods, p), pods, func(l *latencyResult) []time.Duration { return l.PatchFirst }, p)
		}
		for _, p := range []float64{50, 99} {
			durRow(fmt.Sprintf("%d pods: event seen → first action, p%.0f", pods, p), pods, func(l *latencyResult) []time.Duration { return l.First }, p)
		}
		for _, p := range []float64{50, 99} {
			durRow(fmt.Sprintf("%d pods: event seen → last action, p%.0f", pods, p), pods, func(l *latencyResult) []time.Duration { return l.Last }, p)
		}
		durRow(fmt.Sprintf("%d pods: event seen → relayed by the proxy, p50", pods), pods, func(l *latencyResult) []time.Duration { return l.Relay }, 50)
	}
	if c := r.lat("cuscon", 3); c != nil && len(c.Bursts) > 0 {
		burstRow := func(name string, pick func(burstResult) float64, unit func(float64) string) {
			fmt.Fprintf(&b, "| %s |", name)
			base := median(c.Bursts, pick)
			for _, peer := range r.Peers {
				l := r.lat(peer, 3)
				if l == nil || len(l.Bursts) == 0 {
					b.WriteString(" n/a |")
					continue
				}
				v := median(l.Bursts, pick)
				fmt.Fprintf(&b, " %s%s |", unit(v), ratio(v, base, peer == "cuscon"))
			}
			b.WriteString("\n")
		}
		what := fmt.Sprintf("3 pods, burst of %d edits in %.1f s", burstEdits, float64(burstEdits-1)*burstGap.Seconds())
		burstRow(what+": restarts, median", func(br burstResult) float64 { return br.Restarts }, func(v float64) string { return fmt.Sprintf("%.1f", v) })
		burstRow(what+": first edit → last action, median", func(br burstResult) float64 { return float64(br.LastAction) }, func(v float64) string { return ms(time.Duration(v)) })
		burstRow(what+": first edit → settled, median", func(br burstResult) float64 { return float64(br.Settled) }, func(v float64) string { return ms(time.Duration(v)) })
	}
	footRow := func(name string, n int, pick func(*footprintResult) float64, unit func(float64) string) {
		base := r.foot("cuscon", n)
		fmt.Fprintf(&b, "| %s |", name)
		for _, peer := range r.Peers {
			f := r.foot(peer, n)
			if f == nil {
				b.WriteString(" n/a |")
				continue
			}
			var bv float64
			if base != nil {
				bv = pick(base)
			}
			fmt.Fprintf(&b, " %s%s |", unit(pick(f)), ratio(pick(f), bv, peer == "cuscon"))
		}
		b.WriteString("\n")
	}
	mibf := func(v float64) string { return mib(int64(v)) }
	msf := func(v float64) string { return ms(time.Duration(v)) }
	pct := func(v float64) string { return fmt.Sprintf("%.2f%%", v) }
	for _, n := range r.counts() {
		if n == 0 {
			footRow("RSS idle, no ConfigMaps", 0, func(f *footprintResult) float64 { return float64(f.SteadyRSS) }, mibf)
			continue
		}
		footRow(fmt.Sprintf("peak RSS, %d ConfigMaps", n), n, func(f *footprintResult) float64 { return float64(max(f.PeakRSS, f.ChurnPeakRSS)) }, mibf)
		footRow(fmt.Sprintf("steady RSS, %d ConfigMaps", n), n, func(f *footprintResult) float64 { return float64(f.SteadyRSS) }, mibf)
		footRow(fmt.Sprintf("CPU under churn, %d ConfigMaps", n), n, func(f *footprintResult) float64 { return f.ChurnCPUPct }, pct)
		footRow(fmt.Sprintf("startup to ConfigMaps in hand, %d", n), n, func(f *footprintResult) float64 { return float64(f.Startup) }, msf)
		footRow(fmt.Sprintf("startup to settled (initial objects digested), %d", n), n, func(f *footprintResult) float64 { return float64(f.Settled) }, msf)
	}
	r.trafficRows(&b)
	return b.String()
}

// median is the median of pick over the bursts.
func median(bs []burstResult, pick func(burstResult) float64) float64 {
	var vs []float64
	for _, br := range bs {
		vs = append(vs, pick(br))
	}
	slices.Sort(vs)
	if len(vs) == 0 {
		return 0
	}
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// counts lists the footprint runs' ConfigMap counts in order.
func (r *report) counts() []int {
	var out []int
	for _, f := range r.Footprint {
		if !slices.Contains(out, f.ConfigMaps) {
			out = append(out, f.ConfigMaps)
		}
	}
	return out
}

// latencyTables details every latency run.
func (r *report) latencyTables() string {
	var b strings.Builder
	for _, pods := range []int{3, 30} {
		fmt.Fprintf(&b, "\n%d pods:\n\n| peer | first action | to | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|\n", pods)
		for _, l := range r.Latency {
			if l.Pods != pods {
				continue
			}
			action := "a pod's deletionTimestamp"
			if l.Rollout {
				action = "the Deployment's generation"
			}
			for _, row := range []struct {
				to string
				ds []time.Duration
			}{{"PATCH → first", l.PatchFirst}, {"event → first", l.First}, {"event → last", l.Last}, {"event → relayed by the proxy", l.Relay}} {
				if len(row.ds) == 0 {
					continue // a run from before the relay was measured
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", l.Peer, action, row.to, ms(percentile(row.ds, 50)),
					ms(percentile(row.ds, 90)), ms(percentile(row.ds, 99)), ms(percentile(row.ds, 100)))
			}
		}
	}
	return b.String()
}

// footprintTable details every footprint run.
func (r *report) footprintTable() string {
	var b strings.Builder
	b.WriteString("| peer | ConfigMaps | startup (how marked) | settled | peak RSS | steady RSS | RSS under churn (max) | CPU idle | CPU under churn | requests |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range r.Footprint {
		churnRSS, churnCPU := "n/a", "n/a"
		if f.ChurnUpdates > 0 {
			churnRSS = mib(f.ChurnRSS)
			churnCPU = fmt.Sprintf("%.2f%% of a core (%d updates)", f.ChurnCPUPct, f.ChurnUpdates)
		}
		startup := ms(f.Startup) + " (" + f.StartupHow + ")"
		if f.Readyz > 0 {
			startup += fmt.Sprintf("; /readyz %s", ms(f.Readyz))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %.2f%% | %s | %s |\n", f.Peer, f.ConfigMaps, startup, ms(f.Settled),
			mib(f.PeakRSS), mib(f.SteadyRSS), churnRSS, f.IdleCPUPct, churnCPU, byVerb(f.Requests))
	}
	return b.String()
}
