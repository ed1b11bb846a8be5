// report.go turns the measurements into docs/benchmarks.md (tables, the machine, the
// targets) and docs/benchmarks.svg (a chart the README shows).
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is everything one run measured.
type report struct {
	Date        time.Time
	CPU         string
	Cores       int
	MemoryGiB   float64
	GoVersion   string
	Changes     int
	BinaryBytes int64
	Latency     []latencyResult
	Footprint   []footprintResult
	Decoder     []decoderResult
}

// decoderResult is one line of go test -bench.
type decoderResult struct {
	Name                          string
	EventsPerSec, MBPerSec        float64
	AllocsPerEvent, BytesPerEvent float64
}

// decoderBench runs the decoder benchmarks and reads their metrics.
func decoderBench() ([]decoderResult, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkDecode", "-benchtime", "3s", "-cpu", "1", ".")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, out.String())
	}
	metric := regexp.MustCompile(`([\d.]+) (events/s|MB/s|allocs/event|B/event)`)
	var res []decoderResult
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "BenchmarkDecode") {
			continue
		}
		d := decoderResult{Name: strings.Fields(line)[0]}
		for _, m := range metric.FindAllStringSubmatch(line, -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			switch m[2] {
			case "events/s":
				d.EventsPerSec = v
			case "MB/s":
				d.MBPerSec = v
			case "allocs/event":
				d.AllocsPerEvent = v
			case "B/event":
				d.BytesPerEvent = v
			}
		}
		res = append(res, d)
	}
	return res, nil
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

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# cuscon benchmarks\n\n")
	fmt.Fprintf(&b, "Measured %s on %s, %d cores, %.0f GiB; %s; Kubernetes 1.34.4 (kube-apiserver, etcd 3.6.4, controller-manager, scheduler) with kwok 0.8.0 as the kubelet, all on loopback; cuscon behind `kubectl proxy` 1.34.4, as in production. Regenerate with `hack/bench.sh`.\n\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.CPU, r.Cores, r.MemoryGiB, r.GoVersion)
	b.WriteString("![latency and memory](benchmarks.svg)\n\n")

	fmt.Fprintf(&b, "## Reaction latency\n\nFrom the ConfigMap update, as an independent watch sees it, to the first and to the last pod DELETE (the pod's deletionTimestamp appearing on the same watcher's pod stream), over %d changes each made after the previous restart was replaced. cuscon ran with `CUSCON_DEBOUNCE=0s CUSCON_RATE_LIMIT=0` so that the pauses it can be told to take are not counted.\n\n", r.Changes)
	b.WriteString("| pods | to | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n")
	for _, l := range r.Latency {
		for _, row := range []struct {
			to string
			ds []time.Duration
		}{{"first DELETE", l.First}, {"last DELETE", l.Last}} {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", l.Pods, row.to, ms(percentile(row.ds, 50)),
				ms(percentile(row.ds, 90)), ms(percentile(row.ds, 99)), ms(percentile(row.ds, 100)))
		}
	}

	fmt.Fprintf(&b, "\n## Footprint\n\nConfigMaps of about 10 KiB, 1 in 100 annotated. Startup: process start to `/readyz` answering 200 (the first, paginated list done). Peak: VmHWM after that list, the same code path as a relist. Steady: VmRSS after 10 s idle. Churn: %d updates a second to unannotated ConfigMaps for 20 s; CPU is user+system time over wall time.\n\n", churnRate)
	b.WriteString("| ConfigMaps | startup to ready | peak RSS (list) | steady RSS | RSS under churn (max) | CPU idle | CPU under churn |\n|---|---|---|---|---|---|---|\n")
	for _, f := range r.Footprint {
		churnRSS, churnCPU := "n/a", "n/a"
		if f.ChurnUpdates > 0 {
			churnRSS = mib(max(f.ChurnRSS, 0))
			churnCPU = fmt.Sprintf("%.2f%% of a core (%d updates)", f.ChurnCPUPct, f.ChurnUpdates)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %.2f%% | %s |\n", f.ConfigMaps, ms(f.Startup), mib(f.PeakRSS), mib(f.SteadyRSS), churnRSS, f.IdleCPUPct, churnCPU)
	}

	b.WriteString("\n## Decoder\n\n`go test -bench ^BenchmarkDecode -cpu 1` on `testdata/watch-1kib.jsonl`, 200 events recorded from kube-apiserver 1.34 (ConfigMaps with 1 KiB of data, managedFields included). DecodeAndDecide adds the controller's decision per event.\n\n")
	b.WriteString("| benchmark | events/s | MB/s | allocs/event | bytes/event |\n|---|---|---|---|---|\n")
	for _, d := range r.Decoder {
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %.1f | %.0f |\n", d.Name, d.EventsPerSec, d.MBPerSec, d.AllocsPerEvent, d.BytesPerEvent)
	}

	fmt.Fprintf(&b, "\n## Size\n\nStatic binary (`CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w\"`): %s. The image is that binary alone on `scratch` (see the Dockerfile), so its size is the binary's plus a few hundred bytes of metadata; no Docker engine runs on the benchmark machine, so the image itself was not built here.\n\n", mib(r.BinaryBytes))

	b.WriteString(r.targets())
	return b.String()
}

// targets compares the run with the targets.
func (r *report) targets() string {
	var b strings.Builder
	b.WriteString("## Against the targets\n\n| target | measured | met |\n|---|---|---|\n")
	row := func(target, measured string, met bool) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", target, measured, map[bool]string{true: "yes", false: "**no**"}[met])
	}
	for _, l := range r.Latency {
		p50, p99 := percentile(l.First, 50), percentile(l.First, 99)
		row(fmt.Sprintf("first DELETE p50 < 10 ms (%d pods)", l.Pods), ms(p50), p50 < 10*time.Millisecond)
		row(fmt.Sprintf("first DELETE p99 < 50 ms (%d pods)", l.Pods), ms(p99), p99 < 50*time.Millisecond)
	}
	for _, f := range r.Footprint {
		switch {
		case f.ConfigMaps == 0:
			row("idle RSS < 12 MiB", mib(f.SteadyRSS), f.SteadyRSS < 12<<20)
		case f.ConfigMaps >= 10000:
			peak := max(f.PeakRSS, f.ChurnPeakRSS)
			row(fmt.Sprintf("peak RSS < 30 MiB at %d ConfigMaps", f.ConfigMaps), mib(peak), peak < 30<<20)
		}
		if f.ChurnUpdates > 0 && f.ConfigMaps >= 10000 {
			row(fmt.Sprintf("CPU < 2%% at %d updates/s (%d ConfigMaps)", churnRate, f.ConfigMaps), fmt.Sprintf("%.2f%%", f.ChurnCPUPct), f.ChurnCPUPct < 2)
		}
	}
	for _, d := range r.Decoder {
		if d.Name == "BenchmarkDecodeEvents" {
			row("decoder ≥ 50,000 events/s, 1 KiB ConfigMaps, one core", fmt.Sprintf("%.0f events/s", d.EventsPerSec), d.EventsPerSec >= 50000)
		}
	}
	row("static binary < 8 MiB", mib(r.BinaryBytes), r.BinaryBytes < 8<<20)
	return b.String()
}

// svg draws two panels: latency percentiles per run, and memory per ConfigMap count.
func (r *report) svg() string {
	const w, h = 760, 292
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="10" y="16" font-size="12">cuscon, %s, %d cores — measured by hack/bench.sh</text>`+"\n", r.Date.Format("2006-01-02"), r.Cores)

	// Left panel: latency bars (p50, p90, p99) per run and target.
	type bar struct {
		label string
		v     [3]float64
	}
	var bars []bar
	maxV := 1.0
	for _, l := range r.Latency {
		for _, row := range []struct {
			to string
			ds []time.Duration
		}{{"first", l.First}, {"last", l.Last}} {
			v := [3]float64{}
			for i, p := range []float64{50, 90, 99} {
				v[i] = float64(percentile(row.ds, p).Microseconds()) / 1000
				maxV = max(maxV, v[i])
			}
			bars = append(bars, bar{fmt.Sprintf("%d pods, %s", l.Pods, row.to), v})
		}
	}
	panel(&b, 40, 40, 320, 200, "ConfigMap update to first / last pod DELETE (ms)", maxV)
	colors := [3]string{"#4e79a7", "#f28e2b", "#e15759"}
	for i, br := range bars {
		x := 50 + i*76
		for j, v := range br.v {
			bh := v / maxV * 200
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="18" height="%.1f" fill="%s"/>`+"\n", x+j*20, 240-bh, bh, colors[j])
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="8" text-anchor="middle">%.0f</text>`+"\n", x+j*20+9, 237-bh, v)
		}
		fmt.Fprintf(&b, `<text x="%d" y="256" font-size="9">%s</text>`+"\n", x, br.label)
	}

	// Right panel: RSS per ConfigMap count.
	maxM := 30.0
	for _, f := range r.Footprint {
		maxM = max(maxM, float64(max(f.PeakRSS, f.ChurnPeakRSS))/(1<<20))
	}
	panel(&b, 420, 40, 320, 200, "RSS (MiB), 10 KiB ConfigMaps; 30 MiB target dashed", maxM)
	ty := 240 - 30/maxM*200
	fmt.Fprintf(&b, `<line x1="420" x2="740" y1="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4 3"/>`+"\n", ty, ty)
	for i, f := range r.Footprint {
		x := 435 + i*75
		for j, v := range []int64{max(f.PeakRSS, f.ChurnPeakRSS), f.SteadyRSS} {
			m := float64(v) / (1 << 20)
			bh := m / maxM * 200
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="22" height="%.1f" fill="%s"/>`+"\n", x+j*24, 240-bh, bh, colors[j])
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="8" text-anchor="middle">%.1f</text>`+"\n", x+j*24+11, 237-bh, m)
		}
		fmt.Fprintf(&b, `<text x="%d" y="256" font-size="9">%d ConfigMaps</text>`+"\n", x-5, f.ConfigMaps)
	}
	legend := func(x, y int, names ...string) {
		for i, n := range names {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x+i*70, y, colors[i], x+i*70+14, y+9, n)
		}
	}
	legend(50, 272, "p50", "p90", "p99")
	legend(435, 272, "peak", "steady")
	b.WriteString("</svg>\n")
	return b.String()
}

// panel draws axes, a title and the top value of a chart area.
func panel(b *strings.Builder, x, y, w, h int, title string, top float64) {
	fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x, y-8, title)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x, y, x, y+h)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x, y+h, x+w, y+h)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%.1f</text>`+"\n", x-4, y+4, top)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">0</text>`+"\n", x-4, y+h)
}
