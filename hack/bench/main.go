// Command bench measures cuscon side by side with its peers — the article's Python
// script it replaces and stakater/Reloader — on the local control plane, one after the
// other, and writes docs/benchmarks.json, .md and .svg: reaction latency to the first
// and last action (seen through the benchmark's own watch), the floor a controller behind
// the same proxy could reach, footprint (RSS and CPU, idle and with thousands of 10 KiB
// ConfigMaps under churn), startup, optionally a large scenario (--scale), decoder
// throughput and binary size, each figure also as a ratio to cuscon's. Run it with
// hack/bench.sh.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"cuscon/internal/plane"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "the plane's binaries (printed by hack/build-plane.sh)")
	flag.StringVar(&o.out, "out", "docs", "where benchmarks.json, .md and .svg are written")
	flag.IntVar(&o.changes, "changes", 50, "ConfigMap changes per peer and pod count (0: skip the latency runs)")
	sizes := flag.String("configmaps", "1000,10000", "ConfigMap counts for the footprint runs (0, idle, is always run)")
	flag.StringVar(&o.peers, "peers", "all", "peers to run: all, or a comma-separated list of cuscon, python, reloader, floor or a peer's slug")
	flag.StringVar(&o.reloader, "reloader", "", "the Reloader binary (hack/bench.sh builds it from hack/tools/reloader)")
	flag.StringVar(&o.reloaderNote, "reloader-note", "", "why Reloader is missing, when --reloader is empty")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "the python3 (with requests) that runs the article's script")
	flag.BoolVar(&o.scale, "scale", false, "also run the large scenario: --scale-configmaps small ConfigMaps and --scale-pods pods in one namespace")
	flag.IntVar(&o.scaleCMs, "scale-configmaps", 100000, "ConfigMaps in the large scenario")
	flag.IntVar(&o.scalePods, "scale-pods", 10000, "pods in the large scenario")
	flag.IntVar(&o.workloads, "workloads", 1000, "Deployments in the Reloader mode's scenario, beside 10 times as many ConfigMaps (0: skip it)")
	flag.BoolVar(&o.noDecoder, "no-decoder", false, "skip the decoder benchmark")
	render := flag.Bool("render", false, "only render benchmarks.md and .svg again from benchmarks.json")
	flag.Parse()
	if *render {
		if err := rerender(o.out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if o.bin == "" {
		fmt.Fprintln(os.Stderr, "bench: --bin is required")
		os.Exit(2)
	}
	o.counts = parseCounts(*sizes)
	o.command = "hack/bench.sh"
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "bin" && f.Name != "out" && !strings.HasPrefix(f.Name, "reloader") {
			o.command += fmt.Sprintf(" --%s=%s", f.Name, f.Value)
		}
	})
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command line's.
type options struct {
	bin, out, peers, reloader, reloaderNote, python, command string
	changes, scaleCMs, scalePods, workloads                  int
	counts                                                   []int
	scale, noDecoder                                         bool
}

func run(o options) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cuscon-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := &report{Date: time.Now().UTC(), Changes: o.changes, LoadBefore: loadAverage(), ReloaderNote: o.reloaderNote, Command: o.command}
	r.machine()
	peers := selectPeers(o.peers)
	if o.reloader == "" {
		peers = slices.DeleteFunc(peers, func(p peer) bool { return p.Kind == "reloader" })
		if r.ReloaderNote == "" {
			r.ReloaderNote = "no Reloader binary was given"
		}
	}
	for _, p := range peers {
		r.Peers = append(r.Peers, p.Name)
	}

	step("building cuscon as shipped (static, -s -w)")
	cuscon := filepath.Join(dir, "cuscon")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", cuscon, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if fi, err := os.Stat(cuscon); err == nil {
		r.BinaryBytes = fi.Size()
	}
	script, err := filepath.Abs("hack/bench/article_controller.py")
	if err != nil {
		return err
	}

	step("starting the control plane")
	p, err := plane.Start(ctx, plane.Options{BinDir: o.bin, Dir: dir, Progress: os.Stderr})
	if err != nil {
		return err
	}
	defer p.Stop()
	b := &bench{p: p, dir: dir, cuscon: cuscon, reloader: o.reloader, python: o.python, script: script,
		kube: newKube(p.Server, plane.AdminToken)}
	if err := b.startProxy(); err != nil {
		return err
	}
	if err := b.latencies(ctx, r, peers, o.changes); err != nil {
		return err
	}
	if err := b.footprints(ctx, r, peers, o.counts); err != nil {
		return err
	}
	if o.workloads > 0 {
		if r.Workloads, err = b.workloads(ctx, o.workloads, 10*o.workloads, max(5, min(o.changes, 20)), peers); err != nil {
			return fmt.Errorf("workloads: %w", err)
		}
	}
	if o.scale {
		step(fmt.Sprintf("scale: %d ConfigMaps, %d pods in one namespace", o.scaleCMs, o.scalePods))
		if r.Scale, err = b.scale(ctx, o.scaleCMs, o.scalePods, max(5, min(o.changes, 20)), peers); err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		r.Footprint = append(r.Footprint, r.Scale.Footprint...)
	}
	if !o.noDecoder {
		step("decoder benchmark (go test -bench)")
		if r.Decoder, err = decoderBench(); err != nil {
			return err
		}
	}
	r.LoadAfter = loadAverage()
	if err := r.save(o.out); err != nil {
		return err
	}
	step("wrote benchmarks.json, .md and .svg in " + o.out)
	fmt.Print(r.markdown())
	return nil
}

// latencies runs every peer's latency runs, 3 pods then 30, one peer after another.
// First it measures each peer's traffic per change, and leaves those peers up, idle in
// namespaces of their own, through the latency runs until Reloader's first (Reloader
// binds :9090 whatever it is told, so two cannot run at once): an idle period of several
// minutes each (the first peer's the longest), which the report gives with the figures.
func (b *bench) latencies(ctx context.Context, r *report, peers []peer, changes int) error {
	if changes == 0 {
		return nil
	}
	idle, err := b.startTraffic(ctx, peers)
	if err != nil {
		return err
	}
	defer func() {
		if idle != nil {
			r.Traffic = b.finishTraffic(idle)
		}
	}()
	for _, pods := range []int{3, 30} {
		for _, p := range peers {
			if p.Kind == "reloader" && idle != nil {
				r.Traffic, idle = b.finishTraffic(idle), nil
			}
			step(fmt.Sprintf("reaction latency: %s, %d changes, %d pods", p.Name, changes, pods))
			lat, err := b.latency(ctx, p, pods, changes)
			if err != nil {
				return fmt.Errorf("latency of %s with %d pods: %w", p.Name, pods, err)
			}
			r.Latency = append(r.Latency, lat)
		}
	}
	return nil
}

// footprints fills one namespace per ConfigMap count and runs each peer on it in turn.
func (b *bench) footprints(ctx context.Context, r *report, peers []peer, counts []int) error {
	for _, n := range append([]int{0}, counts...) {
		ns := fmt.Sprintf("bench-footprint-%d", n)
		if err := b.kube.namespace(ctx, ns); err != nil {
			return err
		}
		if err := b.fill(ctx, ns, n, 10*1024); err != nil {
			return err
		}
		for _, p := range peers {
			if p.Kind == "floor" || len(p.Env) > 0 {
				continue // the floor has no process; cuscon's knobs change nothing at rest
			}
			step(fmt.Sprintf("footprint: %s, %d ConfigMaps of 10 KiB", p.Name, n))
			fp, err := b.footprint(ctx, p, ns, n, 10*1024)
			if err != nil {
				return fmt.Errorf("footprint of %s with %d ConfigMaps: %w", p.Name, n, err)
			}
			r.Footprint = append(r.Footprint, fp)
		}
		go b.kube.do(context.Background(), http.MethodDelete, "/api/v1/namespaces/"+ns, nil, nil) //nolint:errcheck // best effort
	}
	return nil
}

// save writes the raw results and their renderings into out.
func (r *report) save(out string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return errors.Join(os.MkdirAll(out, 0o755),
		os.WriteFile(filepath.Join(out, "benchmarks.json"), append(raw, '\n'), 0o644),
		os.WriteFile(filepath.Join(out, "benchmarks.md"), []byte(r.markdown()), 0o644),
		os.WriteFile(filepath.Join(out, "benchmarks.svg"), []byte(r.svg()), 0o644),
		r.updateReadme(filepath.Join(out, "..", "README.md")))
}

// rerender renders the .md and .svg again from the .json of an earlier run.
func rerender(out string) error {
	raw, err := os.ReadFile(filepath.Join(out, "benchmarks.json"))
	if err != nil {
		return err
	}
	var r report
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	return r.save(out)
}

// step prints progress.
func step(s string) { fmt.Fprintf(os.Stderr, "bench: %s %s\n", time.Now().Format("15:04:05"), s) }

// parseCounts reads a comma-separated list of numbers.
func parseCounts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// machine records what the numbers were measured on.
func (r *report) machine() {
	r.Cores = runtime.NumCPU()
	r.GoVersion = runtime.Version()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				r.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		r.MemoryGiB = float64(kb) / (1 << 20)
	}
}
