// scenarios.go runs the measured scenarios: reaction latency and footprint, each in a
// namespace of its own, with cuscon behind a real kubectl proxy as in production.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cuscon/internal/plane"
)

// bench holds what every scenario uses.
type bench struct {
	p        *plane.Plane
	dir      string
	cuscon   string
	kube     *kube
	proxyURL string
}

// startProxy runs kubectl proxy on a free port, as the sidecar does.
func (b *bench) startProxy() error {
	ports, err := plane.FreePorts(1)
	if err != nil {
		return err
	}
	if _, err := b.p.Run("proxy", nil, b.p.KubectlPath(), "--kubeconfig", b.p.Kubeconfig, "proxy",
		fmt.Sprintf("--port=%d", ports[0]), "--address=127.0.0.1"); err != nil {
		return err
	}
	b.proxyURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	return poll(context.Background(), 30*time.Second, "kubectl proxy", func() bool {
		resp, err := http.Get(b.proxyURL + "/api")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
}

// startCuscon starts cuscon for ns with extra environment and returns it, the address
// of its /readyz, and when it was started.
func (b *bench) startCuscon(ns string, extra ...string) (*plane.Process, string, time.Time, error) {
	ports, err := plane.FreePorts(1)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", ports[0])
	env := append([]string{"res_namespace=" + ns, "CUSCON_API_URL=" + b.proxyURL, "CUSCON_LISTEN_ADDRESS=" + listen}, extra...)
	started := time.Now()
	proc, err := plane.StartProcess(b.dir, "cuscon-"+ns, env, b.cuscon)
	return proc, "http://" + listen + "/readyz", started, err
}

// waitReady polls /readyz every 5 ms and returns when it first answered 200.
func waitReady(ctx context.Context, proc *plane.Process, url string) (time.Time, error) {
	var at time.Time
	err := poll(ctx, 5*time.Minute, "cuscon's /readyz", func() bool {
		if proc.Exited() {
			return true
		}
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		at = time.Now()
		return resp.StatusCode == http.StatusOK
	})
	if proc.Exited() {
		return at, fmt.Errorf("cuscon exited:\n%s", plane.Tail(proc.Log, 20))
	}
	return at, err
}

// --- latency ---

// latencyResult is one latency run.
type latencyResult struct {
	Pods        int
	First, Last []time.Duration // ConfigMap update seen → first / last pod DELETE seen
}

// latency changes a ConfigMap `changes` times, each after the previous restart has
// been replaced, and times through its own watches how long cuscon took to the first
// and to the last pod DELETE.
func (b *bench) latency(ctx context.Context, pods, changes int) (latencyResult, error) {
	res := latencyResult{Pods: pods}
	ns := fmt.Sprintf("bench-latency-%d", pods)
	k := b.kube
	if err := k.namespace(ctx, ns); err != nil {
		return res, err
	}
	if err := k.deployment(ctx, ns, pods); err != nil {
		return res, err
	}
	if err := b.waitPods(ctx, ns, pods); err != nil {
		return res, err
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "web-config", "annotations": map[string]string{"magalix.com/podDeleteMatch": "app=web"}},
		"data":     map[string]string{"v": "0"}}
	if err := k.do(ctx, http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", cm, nil); err != nil {
		return res, err
	}
	// Debounce and rate limit off: each change here comes after the previous restart,
	// and what is timed is how fast cuscon reacts, not the pauses it can be told to take.
	proc, ready, _, err := b.startCuscon(ns, "CUSCON_DEBOUNCE=0s", "CUSCON_RATE_LIMIT=0")
	if err != nil {
		return res, err
	}
	defer proc.Stop(10 * time.Second)
	if _, err := waitReady(ctx, proc, ready); err != nil {
		return res, err
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan seen, 4096)
	for _, w := range []struct{ path, kind string }{{"/api/v1/namespaces/" + ns + "/pods", "pod"}, {"/api/v1/namespaces/" + ns + "/configmaps", "cm"}} {
		rv, err := k.listRV(ctx, w.path)
		if err != nil {
			return res, err
		}
		if err := k.watch(wctx, w.path, rv, w.kind, events); err != nil {
			return res, err
		}
	}
	for i := 1; i <= changes; i++ {
		first, last, err := b.oneChange(ctx, ns, pods, i, events)
		if err != nil {
			return res, fmt.Errorf("change %d: %w", i, err)
		}
		res.First = append(res.First, first)
		res.Last = append(res.Last, last)
	}
	go k.do(context.Background(), http.MethodDelete, "/api/v1/namespaces/"+ns, nil, nil) //nolint:errcheck // best effort
	return res, nil
}

// oneChange makes change i and waits, through the watch events, for the update, for
// every pod that was running to be deleted, and for as many Ready replacements.
func (b *bench) oneChange(ctx context.Context, ns string, pods, i int, events <-chan seen) (time.Duration, time.Duration, error) {
	current, err := b.podUIDs(ctx, ns)
	if err != nil {
		return 0, 0, err
	}
	patch := map[string]any{"data": map[string]string{"v": strconv.Itoa(i)}}
	if err := b.kube.do(ctx, http.MethodPatch, "/api/v1/namespaces/"+ns+"/configmaps/web-config", patch, nil); err != nil {
		return 0, 0, err
	}
	var updated, firstDel, lastDel time.Time
	deleted := map[string]bool{}
	ready := map[string]bool{}
	timeout := time.After(60 * time.Second)
	for updated.IsZero() || len(deleted) < len(current) || len(ready) < pods {
		var ev seen
		select {
		case ev = <-events:
		case <-timeout:
			return 0, 0, fmt.Errorf("timed out: update seen %v, %d of %d deleted, %d of %d ready",
				!updated.IsZero(), len(deleted), len(current), len(ready), pods)
		}
		uid := ev.obj.Metadata.UID
		switch {
		case ev.kind == "cm" && ev.obj.Data["v"] == strconv.Itoa(i) && updated.IsZero():
			updated = ev.at
		case ev.kind == "pod" && current[uid] && !deleted[uid] && (ev.typ == "DELETED" || ev.obj.Metadata.DeletionTimestamp != nil):
			deleted[uid] = true
			if firstDel.IsZero() {
				firstDel = ev.at
			}
			lastDel = ev.at
		case ev.kind == "pod" && !current[uid] && ev.typ != "DELETED" && ev.obj.ready():
			ready[uid] = true
		}
	}
	return firstDel.Sub(updated), lastDel.Sub(updated), nil
}

// podUIDs returns the UIDs of the web pods that are not terminating.
func (b *bench) podUIDs(ctx context.Context, ns string) (map[string]bool, error) {
	var l struct{ Items []object }
	if err := b.kube.do(ctx, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods?labelSelector=app%3Dweb", nil, &l); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range l.Items {
		if p.Metadata.DeletionTimestamp == nil {
			out[p.Metadata.UID] = true
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

// --- footprint ---

// footprintResult is one footprint run.
type footprintResult struct {
	ConfigMaps   int
	Startup      time.Duration // process start to /readyz 200 (the first list done)
	PeakRSS      int64         // VmHWM after the first list: the list's peak
	SteadyRSS    int64         // VmRSS once settled
	ChurnRSS     int64         // highest VmRSS under churn
	ChurnPeakRSS int64         // VmHWM at the end
	ChurnUpdates int
	ChurnSeconds float64
	ChurnCPUPct  float64 // CPU time over wall time, in % of one core
	IdleCPUPct   float64 // the same over the idle period
}

// churnRate is the steady churn of updates to unannotated ConfigMaps, per second.
const churnRate = 50

// footprint fills a namespace with n ConfigMaps of 10 KiB (1 in 100 annotated), starts
// cuscon, and measures its startup, memory, and CPU under churn.
func (b *bench) footprint(ctx context.Context, n int) (footprintResult, error) {
	res := footprintResult{ConfigMaps: n}
	ns := fmt.Sprintf("bench-footprint-%d", n)
	if err := b.kube.namespace(ctx, ns); err != nil {
		return res, err
	}
	if err := b.fill(ctx, ns, n); err != nil {
		return res, err
	}
	proc, ready, started, err := b.startCuscon(ns)
	if err != nil {
		return res, err
	}
	defer proc.Stop(10 * time.Second)
	at, err := waitReady(ctx, proc, ready)
	if err != nil {
		return res, err
	}
	res.Startup = at.Sub(started)
	pid := proc.Pid()
	res.PeakRSS = status(pid, "VmHWM")
	cpu0, t0 := cpuSeconds(pid), time.Now()
	time.Sleep(10 * time.Second) // idle: nothing to await, the point is to let time pass
	res.IdleCPUPct = 100 * (cpuSeconds(pid) - cpu0) / time.Since(t0).Seconds()
	res.SteadyRSS = status(pid, "VmRSS")
	if n >= 100 {
		if err := b.churn(ctx, ns, n, pid, &res); err != nil {
			return res, err
		}
	}
	res.ChurnPeakRSS = status(pid, "VmHWM")
	go b.kube.do(context.Background(), http.MethodDelete, "/api/v1/namespaces/"+ns, nil, nil) //nolint:errcheck // best effort
	return res, nil
}

// payload is about 10 KiB of configuration text.
func payload(seed int) string {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var sb strings.Builder
	for sb.Len() < 10*1024 {
		fmt.Fprintf(&sb, "key_%d=", sb.Len())
		for range 60 {
			sb.WriteByte(letters[r.IntN(len(letters))])
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// fill creates n ConfigMaps in ns, eight at a time; one in 100 carries the annotation.
func (b *bench) fill(ctx context.Context, ns string, n int) error {
	started := time.Now()
	jobs := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				meta := map[string]any{"name": fmt.Sprintf("cfg-%05d", i)}
				if i%100 == 0 {
					meta["annotations"] = map[string]string{"magalix.com/podDeleteMatch": "app=bench-nothing"}
				}
				cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": map[string]string{"app.properties": payload(i)}}
				if err := b.kube.do(ctx, http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", cm, nil); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	step(fmt.Sprintf("created %d ConfigMaps in %.1fs", n, time.Since(started).Seconds()))
	return nil
}

// churn updates unannotated ConfigMaps at churnRate a second for 20 s, sampling RSS.
func (b *bench) churn(ctx context.Context, ns string, n, pid int, res *footprintResult) error {
	const seconds = 20
	tick := time.NewTicker(time.Second / churnRate)
	defer tick.Stop()
	cpu0, t0 := cpuSeconds(pid), time.Now()
	var rss []int64
	for i := 0; i < churnRate*seconds; i++ {
		<-tick.C
		idx := 1 + i%(n-1)
		if idx%100 == 0 {
			idx++ // leave the annotated ones alone: the churn is of ConfigMaps nobody watches
		}
		patch := map[string]any{"data": map[string]string{"app.properties": payload(n + i)}}
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

// status reads a kB field of /proc/PID/status, in bytes.
func status(pid int, field string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpuSeconds is the user plus system CPU time of a process, from /proc/PID/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}
