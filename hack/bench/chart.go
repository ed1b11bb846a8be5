// chart.go draws docs/benchmarks.svg, which the README shows: each peer's reaction
// (event seen → first action, p50 and p99, log scale) and its memory per ConfigMap count.
package main

import (
	"fmt"
	"math"
	"strings"
)

// peerColors are the peers' colours, in the order of report.Peers.
var peerColors = []string{"#4e79a7", "#a0cbe8", "#f28e2b", "#e15759", "#59a14f", "#8cd17d", "#b07aa1"}

// svg draws two panels: latency per peer and pod count, and RSS per peer and count.
func (r *report) svg() string {
	const w, h = 860, 330
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="10" y="16" font-size="12">cuscon and its peers, one run, %s, %d cores, load %.1f–%.1f — hack/bench.sh</text>`+"\n", r.Date.Format("2006-01-02"), r.Cores, r.LoadBefore, r.LoadAfter)

	// Left: event seen → first action, p50 (solid) and p99 (light), log scale 1 ms – 10 s.
	const x0, y0, pw, ph = 50, 50, 360, 200
	fmt.Fprintf(&b, `<text x="%d" y="%d">event seen → first action (ms, log scale): p50 solid, p99 light</text>`+"\n", x0, y0-10)
	axes(&b, x0, y0, pw, ph)
	ylog := func(ms float64) float64 {
		v := math.Log10(max(ms, 0.1)) + 1 // 0.1 ms .. 10 s over 5 decades
		return y0 + ph - min(v/5, 1)*ph
	}
	for _, tick := range []float64{1, 10, 100, 1000, 10000} {
		y := ylog(tick)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", x0, x0+pw, y, y, x0-4, y+4, tick)
	}
	slot := float64(pw) / 2
	for g, pods := range []int{3, 30} {
		bw := (slot - 20) / float64(max(1, len(r.Peers)))
		for i, peer := range r.Peers {
			l := r.lat(peer, pods)
			if l == nil {
				continue
			}
			x := x0 + float64(g)*slot + 10 + float64(i)*bw
			for j, p := range []float64{99, 50} {
				v := float64(percentile(l.First, p).Microseconds()) / 1000
				y := ylog(v)
				opacity := []string{"0.4", "1"}[j]
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="%s"/>`+"\n", x, y, bw-3, y0+ph-y, peerColors[i%len(peerColors)], opacity)
			}
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d pods</text>`+"\n", x0+float64(g)*slot+slot/2, y0+ph+14, pods)
	}

	// Right: peak RSS per ConfigMap count and peer.
	const x1 = 470
	counts := r.counts()
	top := 16.0
	for _, f := range r.Footprint {
		top = max(top, float64(max(f.PeakRSS, f.ChurnPeakRSS))/(1<<20))
	}
	top = math.Ceil(top/16) * 16
	fmt.Fprintf(&b, `<text x="%d" y="%d">peak RSS (MiB) by ConfigMaps of 10 KiB</text>`+"\n", x1, y0-10)
	axes(&b, x1, y0, pw, ph)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%.0f</text>`+"\n", x1-4, y0+4, top)
	if len(counts) > 0 {
		slot := float64(pw) / float64(len(counts))
		for g, n := range counts {
			bw := (slot - 16) / float64(max(1, len(r.Peers)))
			for i, peer := range r.Peers {
				f := r.foot(peer, n)
				if f == nil {
					continue
				}
				m := float64(max(f.PeakRSS, f.ChurnPeakRSS)) / (1 << 20)
				bh := m / top * ph
				x := x1 + float64(g)*slot + 8 + float64(i)*bw
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y0+ph-bh, bw-3, bh, peerColors[i%len(peerColors)])
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="8" text-anchor="middle">%.0f</text>`+"\n", x+(bw-3)/2, y0+ph-bh-3, m)
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x1+float64(g)*slot+slot/2, y0+ph+14, n)
		}
	}
	for i, peer := range r.Peers {
		x := 50 + (i%4)*200
		y := 290 + (i/4)*18
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x, y, peerColors[i%len(peerColors)], x+14, y+9, peer)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// axes draws the two axes of a panel.
func axes(b *strings.Builder, x, y, w, h int) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x, y, x, y+h)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x, y+h, x+w, y+h)
}
