// scale.go is the optional large scenario (--scale): one namespace with 100,000 small
// ConfigMaps and 10,000 pods, to see how cuscon's memory, startup and API calls per
// change grow, and what a pod LIST costs the API server at that size.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// scaleResult is the large scenario's measurements of cuscon (defaults).
type scaleResult struct {
	ConfigMaps, Pods, Bytes int // objects in the namespace; ConfigMap data size each
	Matched                 int // pods the changed ConfigMap selects
	Startup                 time.Duration
	PeakRSS, SteadyRSS      int64
	Changes                 int
	First, Last             []time.Duration    // update seen → first / last DELETE
	StartupCalls            map[string]float64 // verb → requests until ready, WATCH excluded
	PerChange               map[string]float64 // verb → requests per change
	ChangeGetMs             float64            // cuscon's mean GET (the pod LIST) during the changes
	SelectorListMs          float64            // median pod LIST by label selector, through the proxy
	FullListMs              float64            // median LIST of every pod, 500 a page, through the proxy
	FullListBytes           int64
	ConfigMapListMs         float64 // median LIST of every ConfigMap, 500 a page, through the proxy
	ConfigMapListBytes      int64
	// Footprint: cuscon (defaults) and Reloader, one after the other, started on the
	// same namespace as in the footprint runs: startup, memory with every pod known.
	Footprint []footprintResult
}

// parkedNode holds the filler pods: a Node no kubelet (not even kwok) manages, so they
// stay Pending, cost the scheduler and kwok nothing, and are still listed.
const parkedNode = `{"apiVersion":"v1","kind":"Node","metadata":{"name":"bench-parked"}}`

// scale runs the large scenario, then the footprint of each of peers on it.
func (b *bench) scale(ctx context.Context, configmaps, pods, changes int, peers []peer) (*scaleResult, error) {
	res := &scaleResult{ConfigMaps: configmaps, Pods: pods, Bytes: 256, Matched: 10, Changes: changes}
	ns := "bench-scale"
	k := b.kube
	if err := k.namespace(ctx, ns); err != nil {
		return nil, err
	}
	defer func() { go k.do(context.Background(), http.MethodDelete, "/api/v1/namespaces/"+ns, nil, nil) }() //nolint:errcheck // best effort
	if _, err := b.p.KubectlIn(ctx, strings.NewReader(parkedNode), "apply", "-f", "-"); err != nil {
		return nil, err
	}
	if err := b.fill(ctx, ns, configmaps, res.Bytes); err != nil {
		return nil, err
	}
	err := b.create(ctx, fmt.Sprintf("%d parked pods", pods), pods, "/api/v1/namespaces/"+ns+"/pods", func(i int) any {
		return map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": fmt.Sprintf("filler-%05d", i), "labels": map[string]string{"app": "filler"}},
			"spec":     map[string]any{"nodeName": "bench-parked", "containers": []map[string]any{{"name": "app", "image": "filler:1"}}}}
	})
	if err != nil {
		return nil, err
	}
	if err := k.deployment(ctx, ns, res.Matched); err != nil {
		return nil, err
	}
	if err := b.waitPods(ctx, ns, res.Matched); err != nil {
		return nil, err
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "web-config", "annotations": map[string]string{"magalix.com/podDeleteMatch": "app=web"}},
		"data":     map[string]string{"v": "0"}}
	if err := k.do(ctx, http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", cm, nil); err != nil {
		return nil, err
	}
	res.SelectorListMs = b.timeList(ns, "pods", "?labelSelector=app%3Dweb", 10, nil)
	res.FullListMs = b.timeList(ns, "pods", "?limit=500", 10, &res.FullListBytes)
	res.ConfigMapListMs = b.timeList(ns, "configmaps", "?limit=500", 3, &res.ConfigMapListBytes)

	p := peer{Name: "cuscon", Kind: "cuscon"}
	r, err := b.startPeer(p, ns, b.proxyURL)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			r.stop()
		}
	}()
	at, err := waitHTTP(ctx, r.proc, "http://"+r.listen+"/readyz")
	if err != nil {
		return nil, err
	}
	res.Startup = at.Sub(r.started)
	pid := r.proc.Pid()
	settle(pid)
	res.PeakRSS = status(pid, "VmHWM")
	time.Sleep(10 * time.Second)
	res.SteadyRSS = status(pid, "VmRSS")
	metrics := "http://" + r.listen + "/metrics"
	before, err := scrape(metrics, "cuscon_api_requests_total", "verb")
	if err != nil {
		return nil, err
	}
	res.StartupCalls = before
	delete(res.StartupCalls, "WATCH")
	sum0, _ := scrape(metrics, "cuscon_api_request_duration_seconds_sum", "verb")
	n0, _ := scrape(metrics, "cuscon_api_request_duration_seconds_count", "verb")

	lat, err := b.measureChanges(ctx, p, r, ns, res.Matched, changes, 0)
	if err != nil {
		return nil, err
	}
	res.First, res.Last = lat.First, lat.Last
	after, err := scrape(metrics, "cuscon_api_requests_total", "verb")
	if err != nil {
		return nil, err
	}
	res.PerChange = map[string]float64{}
	for verb, v := range after {
		if verb != "WATCH" && v > before[verb] {
			res.PerChange[verb] = (v - before[verb]) / float64(changes+lat.Warmups)
		}
	}
	sum1, _ := scrape(metrics, "cuscon_api_request_duration_seconds_sum", "verb")
	n1, _ := scrape(metrics, "cuscon_api_request_duration_seconds_count", "verb")
	if dn := n1["GET"] - n0["GET"]; dn > 0 {
		res.ChangeGetMs = 1000 * (sum1["GET"] - sum0["GET"]) / dn
	}
	r.stop()
	stopped = true
	// Without the pod cache too: the difference is what knowing the pods costs.
	noCache := peer{Name: "cuscon (no pod cache)", Kind: "cuscon", Env: []string{"CUSCON_POD_CACHE=false"}}
	for _, p := range append(slices.Clone(peers), noCache) {
		if !(p.Kind == "cuscon" && (len(p.Env) == 0 || p.Name == noCache.Name) || p.Kind == "reloader") {
			continue
		}
		step(fmt.Sprintf("scale: footprint of %s", p.Name))
		fp, err := b.footprint(ctx, p, ns, configmaps, res.Bytes)
		if err != nil {
			return nil, fmt.Errorf("footprint of %s: %w", p.Name, err)
		}
		res.Footprint = append(res.Footprint, fp)
	}
	return res, nil
}

// timeList times n LISTs of the namespace's resource through the proxy (following
// continue tokens) and returns the median in ms; bytes, if not nil, gets one LIST's size.
func (b *bench) timeList(ns, resource, query string, n int, bytes *int64) float64 {
	var ds []time.Duration
	for range n {
		began := time.Now()
		var size int64
		cont := ""
		for {
			var l struct {
				Metadata struct {
					Continue string `json:"continue"`
				} `json:"metadata"`
			}
			u := b.proxyURL + "/api/v1/namespaces/" + ns + "/" + resource + query
			if cont != "" {
				u += "&continue=" + url.QueryEscape(cont)
			}
			resp, err := proxyClient.Get(u)
			if err != nil {
				return 0
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			size += int64(len(body))
			if json.Unmarshal(body, &l) != nil || l.Metadata.Continue == "" {
				break
			}
			cont = l.Metadata.Continue
		}
		ds = append(ds, time.Since(began))
		if bytes != nil {
			*bytes = size
		}
	}
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}
