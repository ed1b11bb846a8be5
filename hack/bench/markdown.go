// markdown.go renders docs/benchmarks.md: how the run was made, then its tables, then
// the issues' targets against what was measured.
package main

import (
	"fmt"
	"strings"
	"time"
)

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("# cuscon benchmarks, side by side\n\n")
	fmt.Fprintf(&b, "Measured %s on %s, %d cores, %.0f GiB; %s; load average %.1f at the start and %.1f at the end (other work shared the machine: figures from a loaded machine are noisier and slower than a quiet one's). Kubernetes 1.34.4 (kube-apiserver, etcd 3.6.4, controller-manager, scheduler) with kwok 0.8.0 as the kubelet, all on loopback. Regenerate with `hack/bench.sh` (`--render` redraws this page and the chart from benchmarks.json).\n\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.CPU, r.Cores, r.MemoryGiB, r.GoVersion, r.LoadBefore, r.LoadAfter)
	if r.Command != "" {
		fmt.Fprintf(&b, "This run: `%s`.\n\n", r.Command)
	}
	b.WriteString("![reaction and memory, side by side](benchmarks.svg)\n\n")
	b.WriteString("## How the peers were run\n\n")
	b.WriteString("One plane, one run, one peer after another, each in a fresh namespace with the same fixtures: a Deployment `web` of 3 (then 30) pods labelled `app=web`, opted into Reloader with `configmap.reloader.stakater.com/reload: web-config`, and a ConfigMap `web-config` annotated `magalix.com/podDeleteMatch: app=web`. Every peer talks to the API through the same `kubectl proxy`, as cuscon's sidecar does.\n\n")
	b.WriteString("- **cuscon**: with its defaults (debounce 2 s, rate limit 120 a minute). **cuscon (knobs off)**: `CUSCON_DEBOUNCE=0s CUSCON_RATE_LIMIT=0`, to show what the defaults cost.\n")
	b.WriteString("- **Python script**: the article's controller as the article describes it (`hack/bench/article_controller.py`, Debian's python3 and python3-requests): a watch of the namespace's ConfigMaps without a resourceVersion; on MODIFIED of an annotated one, one pod LIST, then one DELETE after another. Its LIST is a consistent read (no resourceVersion): the server first waits for its watch cache to catch up with etcd, which is slowest when the namespace is quiet; cuscon and the floor list with `resourceVersion=0`, from the cache at once. The article prints the watch URL with a stray `\"` after `watch=true`; the rewrite sends what was meant.\n")
	b.WriteString("- **Reloader**: stakater/Reloader v1.4.21 built by `hack/tools/reloader/build.sh` (from its Go module where the module proxy serves it, else from its source archive), out of cluster, with a kubeconfig naming the proxy, `KUBERNETES_NAMESPACE` set to the namespace, `--resources-to-ignore=secrets`, reload strategy left at its default (`env-vars`). It patches the Deployment's pod template; the rollout is the Deployment controller's.\n")
	b.WriteString("- **floor**: no controller. The moment the benchmark's own watch sees the update, the benchmark sends through the same proxy one pod LIST and then every DELETE at once (`floor: LIST + DELETE`), or the DELETEs alone for pods it already knows (`floor: DELETE`). It pays no watch delivery through the proxy, so it is below what any controller behind the proxy can reach: the gap to it is what is left to win.\n\n")
	if r.ReloaderNote != "" {
		fmt.Fprintf(&b, "**Reloader was not measured in this run**: %s. Its columns read n/a; `hack/bench.sh` builds and runs it wherever the module proxy serves `github.com/stakater/Reloader@v1.4.21` or its source is at hand (`RELOADER_SRC`), or pass `--reloader` a binary.\n\n", r.ReloaderNote)
	}
	fmt.Fprintf(&b, "Changes are spaced as a user makes them: each %.0f–%.0f s (uniformly drawn) after the previous one — beyond cuscon's default `--debounce` (%.0f s), within which a change waits for the previous restart's end and runs with the next — and not before the previous restart's replacements are Ready. One change per peer warms it up first and is not counted (the script and Reloader say nothing when they are ready). ", spacing.Seconds(), spacing.Seconds()+1, debounce.Seconds())
	fmt.Fprintf(&b, "Then, with 3 pods, %d *bursts*: %d edits of the ConfigMap %.0f ms apart (a typo fixed at once, a pipeline applying objects one by one); *restarts* counts the pods marked for deletion over the replica count (the Deployment's generations rolled, for Reloader), *last action* runs from the first edit to the last action seen before %.0f s without any, *settled* to the last replacement turning Ready. ", burstCount, burstEdits, float64(burstGap.Milliseconds()), burstQuiet.Seconds())
	b.WriteString("*PATCH → first action* runs from just before the benchmark sends the PATCH; *event seen → first action* from the moment the benchmark's own watch (straight to the apiserver) sees the update: the part the controller owns, with the proxy's relay of the update, which *event seen → relayed by the proxy* measures on a second watch of the benchmark's, through the proxy. The first action is a pod's deletionTimestamp appearing on the benchmark's pod watch (cuscon, the script, the floor), or the Deployment's `metadata.generation` increasing (Reloader). The last action is the last pod that was running before the change being marked for deletion: by the peer's DELETEs, or by the ReplicaSet controller's rollout for Reloader (default rolling update, 25% surge, 25% unavailable).\n\n")
	fmt.Fprintf(&b, "Ratios are the peer's figure divided by cuscon's (defaults), whichever way they fall: above 1, cuscon is faster or lighter; below 1, the peer is. %d changes per peer and pod count.\n\n", r.Changes)
	b.WriteString("## Side by side\n\n")
	b.WriteString(r.summary())
	b.WriteString("\n## Reaction latency\n")
	b.WriteString(r.latencyTables())
	b.WriteString("\n## Footprint\n\nConfigMaps of about 10 KiB, 1 in 100 annotated; one namespace per count, filled once and used by each peer in turn. Each peer runs behind a pass-through recorder in front of the proxy, which marks *startup* the same way for all: the ConfigMap WATCH request that a client sends once its list is stored (cuscon; client-go's reflector in Reloader), the end of a streaming list's initial events, or, for the script, which lists nothing, its watch being opened (the server then replays every ConfigMap to it as ADDED, so compare its *settled* row, not its startup). *Settled*: process start until its CPU went quiet (under 1% of a core over half a second), i.e. the initial objects digested. Peak: VmHWM then. Steady: VmRSS after 10 s idle. ")
	fmt.Fprintf(&b, "Churn: %d updates a second to unannotated ConfigMaps for 20 s; CPU is user+system time over wall time. *requests*: what the peer sent through the recorder, by verb and resource. Rows of 100,000 ConfigMaps, if any, are the large scenario's namespace (ConfigMaps of 256 B, 10,000 pods beside them), where cuscon is also run with `CUSCON_POD_CACHE=false`: the difference in memory is what knowing the pods costs.\n\n", churnRate)
	b.WriteString(r.footprintTable())
	b.WriteString(r.trafficSection())
	b.WriteString(r.workloadsSection())
	b.WriteString(r.scaleSection())
	b.WriteString(r.decoderSection())
	fmt.Fprintf(&b, "\n## Size\n\nStatic binary (`CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w\"`): %s. The image is that binary alone on `scratch` (see the Dockerfile).\n\n", mib(r.BinaryBytes))
	b.WriteString(r.targets())
	return b.String()
}

// targets compares the run with the targets of issues 6, 13 and 19.
func (r *report) targets() string {
	var b strings.Builder
	b.WriteString("## Against the targets\n\n| target | measured | met |\n|---|---|---|\n")
	row := func(target, measured string, met bool) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", target, measured, map[bool]string{true: "yes", false: "**no**"}[met])
	}
	vs := func(a, b time.Duration) string {
		return fmt.Sprintf("%s vs %s (%.2f×)", ms(a), ms(b), float64(a)/float64(max(b, 1)))
	}
	for _, pods := range []int{3, 30} {
		c, rl, fl := r.lat("cuscon", pods), r.lat("Reloader", pods), r.lat("floor: DELETE", pods)
		if c == nil {
			continue
		}
		if rl != nil {
			for _, p := range []float64{50, 99} {
				cp, rp := percentile(c.PatchFirst, p), percentile(rl.PatchFirst, p)
				row(fmt.Sprintf("%d pods: PATCH → first action p%.0f ≤ 0.9× Reloader's (issue 19)", pods, p), vs(cp, rp), 10*cp <= 9*rp)
			}
			cf, rf := percentile(c.First, 50), percentile(rl.First, 50)
			row(fmt.Sprintf("%d pods: event seen → first action p50 ≤ 0.8× Reloader's (issue 19)", pods), vs(cf, rf), 10*cf <= 8*rf)
		}
		if fl != nil {
			cf, ff := percentile(c.First, 50), percentile(fl.First, 50)
			measured := vs(cf, ff)
			if len(c.Relay) > 0 {
				measured += fmt.Sprintf("; the proxy's relay of the update, which cuscon pays and the floor does not: %s", ms(percentile(c.Relay, 50)))
			}
			row(fmt.Sprintf("%d pods: event seen → first action p50 ≤ 1.1× the DELETE-alone floor's (issue 19)", pods), measured, 10*cf <= 11*ff)
			if pods == 30 {
				cl, fll := percentile(c.Last, 50), percentile(fl.Last, 50)
				row("30 pods: the last DELETE p50 within 1.5× the DELETE-alone floor's last (issue 19)", vs(cl, fll), 2*cl <= 3*fll)
			}
		}
		p50, p99 := percentile(c.First, 50), percentile(c.First, 99)
		row(fmt.Sprintf("%d pods: first DELETE p50 < 10 ms, p99 < 50 ms (issue 6)", pods), fmt.Sprintf("%s, %s", ms(p50), ms(p99)), p50 < 10*time.Millisecond && p99 < 50*time.Millisecond)
	}
	if c, rl := r.traf("cuscon"), r.traf("Reloader"); c != nil && rl != nil {
		cr, _ := c.perChange()
		rr, _ := rl.perChange()
		row("3 pods: API requests per change ≤ Reloader's (issue 19)", fmt.Sprintf("%.1f vs %.1f", cr, rr), cr <= rr)
	}
	for _, n := range r.counts() {
		c, rl := r.foot("cuscon", n), r.foot("Reloader", n)
		if c == nil {
			continue
		}
		switch {
		case n == 0 && rl != nil:
			row("idle RSS ≤ ⅓ of Reloader's (issue 19)", fmt.Sprintf("%s vs %s", mib(c.SteadyRSS), mib(rl.SteadyRSS)), 3*c.SteadyRSS <= rl.SteadyRSS)
		case n >= 10000 && rl != nil:
			cp, rp := max(c.PeakRSS, c.ChurnPeakRSS), max(rl.PeakRSS, rl.ChurnPeakRSS)
			row(fmt.Sprintf("peak RSS at %d ConfigMaps ≤ ⅒ of Reloader's (issue 19)", n), fmt.Sprintf("%s vs %s", mib(cp), mib(rp)), 10*cp <= rp)
			row(fmt.Sprintf("startup at %d ConfigMaps ≤ ½ of Reloader's cache sync (issue 19)", n), vs(c.Startup, rl.Startup), 2*c.Startup <= rl.Startup)
		}
		switch {
		case n == 0:
			row("idle RSS < 12 MiB (issue 6)", mib(c.SteadyRSS), c.SteadyRSS < 12<<20)
		case n >= 10000:
			peak := max(c.PeakRSS, c.ChurnPeakRSS)
			row(fmt.Sprintf("peak RSS < 30 MiB at %d ConfigMaps (issue 6)", n), mib(peak), peak < 30<<20)
			row(fmt.Sprintf("CPU < 2%% at %d updates/s, %d ConfigMaps (issue 6)", churnRate, n), fmt.Sprintf("%.2f%%", c.ChurnCPUPct), c.ChurnCPUPct < 2)
		}
	}
	for _, d := range r.Decoder {
		if d.Name == "BenchmarkDecodeEvents" {
			row("decoder ≥ 50,000 events/s, 1 KiB ConfigMaps, one core (issue 6)", fmt.Sprintf("%.0f events/s", d.EventsPerSec), d.EventsPerSec >= 50000)
		}
	}
	row("static binary < 8 MiB (issue 6)", mib(r.BinaryBytes), r.BinaryBytes < 8<<20)
	return b.String()
}
