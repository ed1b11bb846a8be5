// Command bench measures cuscon on the local control plane and writes the results to
// docs/benchmarks.md and docs/benchmarks.svg: reaction latency (ConfigMap update to
// first and last pod DELETE, seen through an independent watch), footprint (RSS and
// CPU, idle and with thousands of 10 KiB ConfigMaps under churn), startup to ready,
// decoder throughput, and binary size. Run it with hack/bench.sh.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"cuscon/internal/plane"
)

func main() {
	bin := flag.String("bin", "", "the plane's binaries (printed by hack/build-plane.sh)")
	out := flag.String("out", "docs", "where benchmarks.md and benchmarks.svg are written")
	changes := flag.Int("changes", 100, "ConfigMap changes per latency run (0: skip the latency runs)")
	sizes := flag.String("configmaps", "1000,10000", "ConfigMap counts for the footprint runs")
	render := flag.Bool("render", false, "only render benchmarks.md and .svg again from benchmarks.json")
	flag.Parse()
	if *render {
		if err := rerender(*out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "bench: --bin is required")
		os.Exit(2)
	}
	if err := run(*bin, *out, *changes, parseCounts(*sizes)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin, out string, changes int, counts []int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cuscon-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := &report{Date: time.Now().UTC(), Changes: changes}
	r.machine()

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

	step("starting the control plane")
	p, err := plane.Start(ctx, plane.Options{BinDir: bin, Dir: dir, Progress: os.Stderr})
	if err != nil {
		return err
	}
	defer p.Stop()
	b := &bench{p: p, dir: dir, cuscon: cuscon, kube: newKube(p.Server, plane.AdminToken)}
	if err := b.startProxy(); err != nil {
		return err
	}

	for _, pods := range []int{3, 30} {
		if changes == 0 {
			break
		}
		step(fmt.Sprintf("reaction latency: %d changes, %d pods", changes, pods))
		lat, err := b.latency(ctx, pods, changes)
		if err != nil {
			return fmt.Errorf("latency with %d pods: %w", pods, err)
		}
		r.Latency = append(r.Latency, lat)
	}
	for _, n := range append([]int{0}, counts...) {
		step(fmt.Sprintf("footprint: %d ConfigMaps of 10 KiB", n))
		fp, err := b.footprint(ctx, n)
		if err != nil {
			return fmt.Errorf("footprint with %d ConfigMaps: %w", n, err)
		}
		r.Footprint = append(r.Footprint, fp)
	}
	step("decoder benchmark (go test -bench)")
	if r.Decoder, err = decoderBench(); err != nil {
		return err
	}
	if err := r.save(out); err != nil {
		return err
	}
	step("wrote benchmarks.json, .md and .svg in " + out)
	fmt.Print(r.markdown())
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
		os.WriteFile(filepath.Join(out, "benchmarks.svg"), []byte(r.svg()), 0o644))
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
