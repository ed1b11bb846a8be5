// workloads.go is the Reloader mode's scenario: one namespace of 1,000 Deployments, each
// opted in with reloader.stakater.com/auto and reading one of 10,000 ConfigMaps, with
// cuscon's Reloader mode and Reloader run on it in turn: startup, memory, CPU under
// churn, the API requests a change costs, and how fast a change reaches its workload.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// workloadsResult is the Reloader mode's scenario.
type workloadsResult struct {
	Workloads, ConfigMaps, Bytes int
	Changes                      int
	Footprint                    []footprintResult
	// PatchFirst: PATCH of a ConfigMap → the generation of the Deployment reading it
	// increasing, per peer.
	PatchFirst map[string][]time.Duration
	Traffic    []trafficResult // per change; no idle period
	// CatchUp: from the churn's end until the peer's CPU went quiet, per peer.
	CatchUp map[string]time.Duration
}

// workloadsPeers are the peers of the scenario: cuscon's Reloader mode, and Reloader.
func workloadsPeers(peers []peer) []peer {
	out := []peer{{Name: "cuscon (Reloader mode)", Kind: "cuscon", Rollout: true, Env: []string{"CUSCON_RELOADER_ANNOTATIONS=true"}}}
	for _, p := range peers {
		if p.Kind == "reloader" {
			out = append(out, p)
		}
	}
	return out
}

// workloads fills a namespace with configmaps ConfigMaps of 1 KiB and n Deployments
// (no replicas: the rollout is not what is measured), Deployment i reading ConfigMap
// 10·i through envFrom, and runs each peer on it.
func (b *bench) workloads(ctx context.Context, n, configmaps, changes int, peers []peer) (*workloadsResult, error) {
	res := &workloadsResult{Workloads: n, ConfigMaps: configmaps, Bytes: 1024, Changes: changes, PatchFirst: map[string][]time.Duration{},
		CatchUp: map[string]time.Duration{}}
	ns := "bench-workloads"
	if err := b.kube.namespace(ctx, ns); err != nil {
		return nil, err
	}
	defer b.dropNamespace(ns)
	if err := b.fill(ctx, ns, configmaps, res.Bytes); err != nil {
		return nil, err
	}
	err := b.create(ctx, fmt.Sprintf("%d Deployments", n), n, "/apis/apps/v1/namespaces/"+ns+"/deployments", func(i int) any {
		labels := map[string]string{"app": fmt.Sprintf("wl-%04d", i)}
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": fmt.Sprintf("wl-%04d", i), "annotations": map[string]string{"reloader.stakater.com/auto": "true"}},
			"spec": map[string]any{"replicas": 0, "selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{"metadata": map[string]any{"labels": labels},
					"spec": map[string]any{"containers": []map[string]any{{"name": "app", "image": "web:1",
						"envFrom": []map[string]any{{"configMapRef": map[string]any{"name": fmt.Sprintf("cfg-%05d", 10*i)}}}}}}}}}
	})
	if err != nil {
		return nil, err
	}
	b.churnSpares = func(idx int) bool { return idx%10 == 0 } // the ones the workloads read
	defer func() { b.churnSpares = nil }()
	for _, p := range workloadsPeers(peers) {
		step(fmt.Sprintf("workloads: %s, %d Deployments, %d ConfigMaps", p.Name, n, configmaps))
		fp, err := b.footprintThen(ctx, p, ns, configmaps, res.Bytes, func(r *running, rec *recorder) error {
			// A peer that fell behind under the churn catches up before its changes are
			// timed; how long that took is a figure of its own.
			churned := time.Now()
			res.CatchUp[p.Name] = settle(r.proc.Pid()).Sub(churned)
			before := rec.snapshot()
			lat, warmups, err := b.rollChanges(ctx, ns, p.slug(), n, changes)
			if err != nil {
				return fmt.Errorf("%w\n%s", err, tail(r))
			}
			settle(r.proc.Pid())
			res.PatchFirst[p.Name] = lat
			res.Traffic = append(res.Traffic, trafficResult{Peer: p.Name, Changes: changes + warmups, Change: rec.snapshot().since(before)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		res.Footprint = append(res.Footprint, fp)
	}
	return res, nil
}

// rollChanges edits ConfigMap 10·j for Deployment j, spaced as the latency runs' changes,
// and times each from the PATCH to the Deployment's generation increasing. The first
// change warms the peer up (repeated until acted on) and is not counted. Each edit
// writes a value naming the peer: the same bytes again, by the next peer, would be a
// no-op PATCH, which the server answers without an event.
func (b *bench) rollChanges(ctx context.Context, ns, who string, n, changes int) ([]time.Duration, int, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	path := "/apis/apps/v1/namespaces/" + ns + "/deployments"
	rv, err := b.kube.listRV(ctx, path)
	if err != nil {
		return nil, 0, err
	}
	events := make(chan seen, 8192)
	if err := b.kube.watch(wctx, path, rv, "deploy", events); err != nil {
		return nil, 0, err
	}
	rng := rand.New(rand.NewPCG(uint64(n), 17))
	var out []time.Duration
	warmups := 0
	for j := 0; j <= changes; j++ {
		if j > 0 { // spaced as a user's edits are
			time.Sleep(spacing + time.Duration(rng.Int64N(int64(time.Second))))
		}
		var d time.Duration
		for try := 0; ; try++ {
			if j == 0 {
				warmups++
			}
			d, err = b.rollOne(ctx, ns, j%n, fmt.Sprintf("%s-%d-%d", who, j, try), events)
			if err == nil || j > 0 || try == 10 {
				break
			}
		}
		if err != nil {
			return nil, warmups, fmt.Errorf("change %d: %w", j, err)
		}
		if j > 0 {
			out = append(out, d)
		}
	}
	return out, warmups, nil
}

// rollOne edits the ConfigMap Deployment j reads and waits for its generation to rise.
func (b *bench) rollOne(ctx context.Context, ns string, j int, v string, events <-chan seen) (time.Duration, error) {
	name := fmt.Sprintf("wl-%04d", j)
	var d object
	if err := b.kube.do(ctx, http.MethodGet, "/apis/apps/v1/namespaces/"+ns+"/deployments/"+name, nil, &d); err != nil {
		return 0, err
	}
	drain(events)
	patch := map[string]any{"data": map[string]string{"v": v}}
	patched := time.Now()
	if err := b.kube.do(ctx, http.MethodPatch, fmt.Sprintf("/api/v1/namespaces/%s/configmaps/cfg-%05d", ns, 10*j), patch, nil); err != nil {
		return 0, err
	}
	expire := time.After(60 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.obj.Metadata.Name == name && ev.obj.Metadata.Generation > d.Metadata.Generation {
				return ev.at.Sub(patched), nil
			}
		case <-expire:
			return 0, fmt.Errorf("%s was not rolled within 60 s", name)
		}
	}
}

// workloadsSection renders the scenario.
func (r *report) workloadsSection() string {
	w := r.Workloads
	if w == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Reloader mode: %d workloads, %d ConfigMaps\n\nOne namespace of %d ConfigMaps of %d bytes and %d Deployments (no replicas: the rollout is the Deployment controller's, not what is measured), each annotated `reloader.stakater.com/auto: \"true\"` and reading one ConfigMap through `envFrom`. cuscon runs with `CUSCON_RELOADER_ANNOTATIONS=true` and otherwise its defaults; Reloader as in the latency runs. Each behind the recorder, as in the footprint runs (startup, settled, memory; churn: %d updates a second for 20 s of ConfigMaps no workload reads; *caught up*: from the churn's end until the peer's CPU went quiet, at most a minute). Then a warm-up and %d changes, spaced as above, each of the ConfigMap of a different Deployment: *PATCH → rolled* runs from the PATCH to that Deployment's `metadata.generation` increasing; *requests per change* is what the recorder counted over them, divided by their number.\n\n",
		w.Workloads, w.ConfigMaps, w.ConfigMaps, w.Bytes, w.Workloads, churnRate, w.Changes)
	b.WriteString("| peer | startup (how marked) | settled | peak RSS | steady RSS | CPU under churn | caught up | PATCH → rolled p50 | p99 | requests per change | requests, all changes |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range w.Footprint {
		var t trafficResult
		for _, x := range w.Traffic {
			if x.Peer == f.Peer {
				t = x
			}
		}
		reqs, _ := t.perChange()
		lat := w.PatchFirst[f.Peer]
		catchUp := "n/a"
		if d, ok := w.CatchUp[f.Peer]; ok {
			catchUp = ms(d)
		}
		fmt.Fprintf(&b, "| %s | %s (%s) | %s | %s | %s | %.2f%% | %s | %s | %s | %.1f | %s |\n", f.Peer, ms(f.Startup), f.StartupHow, ms(f.Settled),
			mib(max(f.PeakRSS, f.ChurnPeakRSS)), mib(f.SteadyRSS), f.ChurnCPUPct, catchUp, ms(percentile(lat, 50)), ms(percentile(lat, 99)), reqs, byVerb(t.Change.Requests))
	}
	return b.String()
}
