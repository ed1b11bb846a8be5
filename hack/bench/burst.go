// burst.go measures what a burst of edits costs: several edits of the same ConfigMap
// within a second (a typo fixed at once, a pipeline applying its objects one by one), and
// how many restarts each peer makes of them and how long until the workload is settled.
package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Bursts of burstEdits edits, burstGap apart (0.8 s in all); a burst has ended once no
// action was seen for burstQuiet (beyond cuscon's 2 s debounce and a rollout's steps).
const (
	burstEdits = 5
	burstGap   = 200 * time.Millisecond
	burstQuiet = 6 * time.Second
)

// burstResult is one burst against one peer.
type burstResult struct {
	Restarts   float64       // pods marked for deletion over the replica count, or generations rolled
	LastAction time.Duration // first PATCH → last action seen
	Settled    time.Duration // first PATCH → every replica Ready again, none terminating
}

// burst makes one burst of edits in c's namespace and follows it through events until
// no action came for burstQuiet, then until the replicas are Ready again.
func (b *bench) burst(ctx context.Context, c change, events <-chan seen) (burstResult, error) {
	var res burstResult
	var d object
	if err := b.kube.do(ctx, http.MethodGet, "/apis/apps/v1/namespaces/"+c.ns+"/deployments/web", nil, &d); err != nil {
		return res, err
	}
	gen := d.Metadata.Generation
	drain(events) // what is left of the previous change: its replacements' updates
	// Pods already going (the previous change's) are not this burst's restarts.
	var l struct{ Items []object }
	if err := b.kube.do(ctx, http.MethodGet, "/api/v1/namespaces/"+c.ns+"/pods?labelSelector=app%3Dweb", nil, &l); err != nil {
		return res, err
	}
	marked := map[string]bool{}
	for _, p := range l.Items {
		if p.Metadata.DeletionTimestamp != nil {
			marked[p.Metadata.UID] = true
		}
	}
	before := len(marked)
	start := time.Now()
	for e := 0; e < burstEdits; e++ {
		if e > 0 {
			time.Sleep(burstGap) // the spacing is the point: a burst, not one edit
		}
		patch := map[string]any{"data": map[string]string{"v": "burst-" + strconv.Itoa(c.i) + "-" + strconv.Itoa(e)}}
		if err := b.kube.do(ctx, http.MethodPatch, "/api/v1/namespaces/"+c.ns+"/configmaps/web-config", patch, nil); err != nil {
			return res, err
		}
	}
	rolled := int64(0)
	last, readyAt := start, start
	quiet := time.NewTimer(burstQuiet)
	defer quiet.Stop()
	for done := false; !done; {
		select {
		case ev := <-events:
			acted := false
			switch {
			case ev.kind == "deploy" && c.peer.Rollout && ev.obj.Metadata.Generation-gen > rolled:
				rolled, acted = ev.obj.Metadata.Generation-gen, true
			case ev.kind == "pod" && !c.peer.Rollout && !marked[ev.obj.Metadata.UID] &&
				(ev.typ == "DELETED" || ev.obj.Metadata.DeletionTimestamp != nil):
				marked[ev.obj.Metadata.UID], acted = true, true
			case ev.kind == "pod" && ev.typ != "DELETED" && ev.obj.ready():
				readyAt = ev.at
			}
			if acted {
				last = ev.at
				quiet.Reset(burstQuiet)
			}
		case <-quiet.C:
			done = true
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.LastAction = last.Sub(start)
	if c.peer.Rollout {
		res.Restarts = float64(rolled)
	} else {
		res.Restarts = float64(len(marked)-before) / float64(c.pods)
	}
	if err := b.waitPods(ctx, c.ns, c.pods); err != nil {
		return res, fmt.Errorf("after the burst: %w", err)
	}
	// Settled is measured from the events: the last replica turning Ready is a pod event
	// already received, so waitPods's polling adds no delay to the figure.
	if at := lastReady(events); at.After(readyAt) {
		readyAt = at
	}
	res.Settled = max(res.LastAction, readyAt.Sub(start))
	return res, nil
}

// drain discards the events already received.
func drain(events <-chan seen) {
	for {
		select {
		case <-events:
		default:
			return
		}
	}
}

// lastReady consumes the events already received and returns when the last of them
// showed a pod Ready (the zero time if none did).
func lastReady(events <-chan seen) time.Time {
	var at time.Time
	for {
		select {
		case ev := <-events:
			if ev.kind == "pod" && ev.typ != "DELETED" && ev.obj.ready() {
				at = ev.at
			}
		default:
			return at
		}
	}
}
