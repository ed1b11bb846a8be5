// latency.go times each peer's reaction to a ConfigMap change through the benchmark's
// own watches: a ConfigMap edited as a user edits it, the moment an independent watcher
// sees the edit, and the peer's first and last action.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"cuscon/internal/plane"
)

// latencyResult is one peer's latency run.
type latencyResult struct {
	Peer       string
	Pods       int
	Rollout    bool            // first action: the Deployment's generation, not a pod DELETE
	PatchFirst []time.Duration // PATCH sent → first action seen
	First      []time.Duration // ConfigMap update seen → first action seen
	Last       []time.Duration // ConfigMap update seen → last pod that was running marked for deletion
	// Relay is the update seen → the same update arriving on a watch through the proxy:
	// what a peer behind the proxy pays before it can act, and the floor does not.
	Relay   []time.Duration
	Warmups int           // uncounted warm-up changes made before them
	Bursts  []burstResult // 3 pods only: bursts of edits after the spaced changes
}

// Spacing of the measured changes: as a user makes them, beyond cuscon's default
// --debounce (2 s) — a change within it waits for the previous restart's end and runs
// with the next, which the burst rows show — and 0–1 s more, drawn at random.
const (
	debounce   = 2 * time.Second
	spacing    = debounce + time.Second
	burstCount = 5
)

// change is what one change's wait needs to know.
type change struct {
	ns      string
	pods    int
	i       int
	peer    peer
	gen     int64             // the Deployment's generation before the change
	current map[string]string // uid → name of the web pods running before the change
}

// latency runs p against a fresh namespace with a Deployment of `pods` replicas and
// times `changes` edits of its ConfigMap, spaced 3–4 s apart as a user makes them; with
// 3 pods, burstCount bursts of edits follow.
func (b *bench) latency(ctx context.Context, p peer, pods, changes int) (latencyResult, error) {
	res := latencyResult{Peer: p.Name, Pods: pods, Rollout: p.Rollout}
	ns := fmt.Sprintf("bench-%s-%d", p.slug(), pods)
	if err := b.fixtures(ctx, ns, pods); err != nil {
		return res, err
	}
	defer b.dropNamespace(ns)
	r, err := b.startPeer(p, ns, b.proxyURL)
	if err != nil {
		return res, err
	}
	defer r.stop()
	if p.Kind == "cuscon" {
		if _, err := waitHTTP(ctx, r.proc, "http://"+r.listen+"/readyz"); err != nil {
			return res, err
		}
	}
	bursts := 0
	if pods == 3 && p.Kind != "floor" {
		bursts = burstCount
	}
	lat, err := b.measureChanges(ctx, p, r, ns, pods, changes, bursts)
	lat.Peer, lat.Pods, lat.Rollout = res.Peer, res.Pods, res.Rollout
	return lat, err
}

// fixtures makes namespace ns with a Deployment `web` of `pods` Ready replicas and its
// ConfigMap `web-config`, annotated for the script and cuscon.
func (b *bench) fixtures(ctx context.Context, ns string, pods int) error {
	k := b.kube
	if err := k.namespace(ctx, ns); err != nil {
		return err
	}
	if err := k.deployment(ctx, ns, pods); err != nil {
		return err
	}
	if err := b.waitPods(ctx, ns, pods); err != nil {
		return err
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "web-config", "annotations": map[string]string{"magalix.com/podDeleteMatch": "app=web"}},
		"data":     map[string]string{"v": "0"}}
	return k.do(ctx, http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", cm, nil)
}

// dropNamespace deletes ns in the background, best effort.
func (b *bench) dropNamespace(ns string) {
	go b.kube.do(context.Background(), http.MethodDelete, "/api/v1/namespaces/"+ns, nil, nil) //nolint:errcheck // best effort
}

// measureChanges watches ns independently of the peer, warms the peer up with a change
// it must act on, then makes `changes` changes, each 3–4 s after the previous one, then
// `bursts` bursts.
func (b *bench) measureChanges(ctx context.Context, p peer, r *running, ns string, pods, changes, bursts int) (latencyResult, error) {
	var res latencyResult
	k := b.kube
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan seen, 8192)
	proxied := newKube(b.proxyURL, "")
	for _, w := range []struct {
		path, kind string
		via        *kube
	}{
		{"/api/v1/namespaces/" + ns + "/pods", "pod", k},
		{"/api/v1/namespaces/" + ns + "/configmaps", "cm", k},
		{"/apis/apps/v1/namespaces/" + ns + "/deployments", "deploy", k},
		{"/api/v1/namespaces/" + ns + "/configmaps", "cm-proxied", proxied},
	} {
		rv, err := k.listRV(ctx, w.path)
		if err != nil {
			return res, err
		}
		if err := w.via.watch(wctx, w.path, rv, w.kind, events); err != nil {
			return res, err
		}
	}
	if p.Kind == "python" { // it logs this line just before it opens its watch
		poll(ctx, 30*time.Second, "the script's start", func() bool { //nolint:errcheck // the warm-up below decides
			log, _ := os.ReadFile(r.proc.Log)
			return strings.Contains(string(log), "Starting the service")
		})
		time.Sleep(500 * time.Millisecond)
	}
	// Warm-up: the first change is repeated until the peer acts on it (the script and
	// Reloader say nothing when they are ready), and not counted.
	// A try waits for the whole restart: 5 s, or 30 s for a rollout, whose 30 pods the
	// Deployment controller replaces a quarter at a time (5.4 s measured): with less, a
	// Reloader that did react was taken for one that had not, and its rollouts piled up.
	warmup := 5 * time.Second
	if p.Rollout {
		warmup = 30 * time.Second
	}
	rng := rand.New(rand.NewPCG(uint64(pods), 13))
	var last time.Time
	for try := 0; ; try++ {
		last = time.Now()
		res.Warmups++
		_, err := b.oneChange(ctx, change{ns: ns, pods: pods, i: -1 - try, peer: p}, events, warmup)
		if err == nil {
			break
		}
		if try == 10 || (r != nil && r.proc.Exited()) {
			return res, fmt.Errorf("%s never reacted: %w\n%s", p.Name, err, tail(r))
		}
	}
	for i := 1; i <= changes; i++ {
		// Spaced as a user makes them: 3–4 s after the previous change, and not before
		// the previous restart's replacements are Ready.
		time.Sleep(time.Until(last.Add(spacing + time.Duration(rng.Int64N(int64(time.Second))))))
		last = time.Now()
		t, err := b.oneChange(ctx, change{ns: ns, pods: pods, i: i, peer: p}, events, 60*time.Second)
		if err != nil {
			return res, fmt.Errorf("change %d: %w\n%s", i, err, tail(r))
		}
		res.PatchFirst = append(res.PatchFirst, t.patchFirst)
		res.First = append(res.First, t.first)
		res.Last = append(res.Last, t.last)
		res.Relay = append(res.Relay, t.relay)
	}
	for i := 1; i <= bursts; i++ {
		time.Sleep(time.Until(last.Add(spacing)))
		br, err := b.burst(ctx, change{ns: ns, pods: pods, i: i, peer: p}, events)
		if err != nil {
			return res, fmt.Errorf("burst %d: %w\n%s", i, err, tail(r))
		}
		res.Bursts = append(res.Bursts, br)
		last = time.Now()
	}
	return res, nil
}

// timing is one change's figures: PATCH → first action, update seen → first action,
// update seen → last pod marked, and update seen → the update relayed by the proxy.
type timing struct{ patchFirst, first, last, relay time.Duration }

// oneChange makes change c and waits, through the watch events, for the update (on the
// direct watch and through the proxy), the peer's first action, every pod that was
// running to be marked for deletion, and as many Ready replacements.
func (b *bench) oneChange(ctx context.Context, c change, events <-chan seen, timeout time.Duration) (timing, error) {
	var err error
	if c.current, err = b.podNames(ctx, c.ns); err != nil {
		return timing{}, err
	}
	var d object
	if err := b.kube.do(ctx, http.MethodGet, "/apis/apps/v1/namespaces/"+c.ns+"/deployments/web", nil, &d); err != nil {
		return timing{}, err
	}
	c.gen = d.Metadata.Generation
	v := strconv.Itoa(c.i)
	patch := map[string]any{"data": map[string]string{"v": v}}
	patched := time.Now()
	if err := b.kube.do(ctx, http.MethodPatch, "/api/v1/namespaces/"+c.ns+"/configmaps/web-config", patch, nil); err != nil {
		return timing{}, err
	}
	var updated, relayed, first, lastDel time.Time
	deleted := map[string]bool{}
	ready := map[string]bool{}
	expire := time.After(timeout)
	for updated.IsZero() || relayed.IsZero() || first.IsZero() || len(deleted) < len(c.current) || len(ready) < c.pods {
		var ev seen
		select {
		case ev = <-events:
		case <-expire:
			return timing{}, fmt.Errorf("timed out: update seen %v (through the proxy %v), first action seen %v, %d of %d deleted, %d of %d ready",
				!updated.IsZero(), !relayed.IsZero(), !first.IsZero(), len(deleted), len(c.current), len(ready), c.pods)
		}
		uid := ev.obj.Metadata.UID
		_, wasRunning := c.current[uid]
		switch {
		case ev.kind == "cm" && ev.obj.Data["v"] == v && updated.IsZero():
			updated = ev.at
			if c.peer.Kind == "floor" {
				go b.floor(c)
			}
		case ev.kind == "cm-proxied" && ev.obj.Data["v"] == v && relayed.IsZero():
			relayed = ev.at
		case ev.kind == "deploy" && c.peer.Rollout && ev.obj.Metadata.Generation > c.gen && first.IsZero():
			first = ev.at
		case ev.kind == "pod" && wasRunning && !deleted[uid] && (ev.typ == "DELETED" || ev.obj.Metadata.DeletionTimestamp != nil):
			deleted[uid] = true
			if first.IsZero() && !c.peer.Rollout {
				first = ev.at
			}
			lastDel = ev.at
		case ev.kind == "pod" && !wasRunning && ev.typ != "DELETED" && ev.obj.ready():
			ready[uid] = true
		}
	}
	return timing{first.Sub(patched), first.Sub(updated), lastDel.Sub(updated), relayed.Sub(updated)}, nil
}

// podNames returns uid → name of the web pods that are not terminating.
func (b *bench) podNames(ctx context.Context, ns string) (map[string]string, error) {
	var l struct{ Items []object }
	if err := b.kube.do(ctx, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods?labelSelector=app%3Dweb", nil, &l); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range l.Items {
		if p.Metadata.DeletionTimestamp == nil {
			out[p.Metadata.UID] = p.Metadata.Name
		}
	}
	return out, nil
}

// waitPods waits for n Ready web pods.
func (b *bench) waitPods(ctx context.Context, ns string, n int) error {
	return poll(ctx, 120*time.Second, fmt.Sprintf("%d ready pods", n), func() bool {
		got, err := b.kube.readyPods(ctx, ns)
		return err == nil && got == n
	})
}

// tail is the end of a peer's log, for errors.
func tail(r *running) string {
	if r == nil || r.proc == nil {
		return ""
	}
	return r.proc.Log + ":\n" + plane.Tail(r.proc.Log, 15)
}
