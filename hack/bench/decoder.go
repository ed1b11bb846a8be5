// decoder.go runs cuscon's decoder benchmarks and renders them, and the large
// scenario's section of docs/benchmarks.md.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// decoderResult is one line of go test -bench.
type decoderResult struct {
	Name                          string
	EventsPerSec, MBPerSec        float64
	AllocsPerEvent, BytesPerEvent float64
}

// decoderBench runs the decoder benchmarks and reads their metrics.
func decoderBench() ([]decoderResult, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkDecode", "-benchtime", "3s", "-cpu", "1", "./internal/kube", ".")
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

// decoderSection renders the decoder benchmarks.
func (r *report) decoderSection() string {
	if len(r.Decoder) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n## Decoder\n\n`go test -bench ^BenchmarkDecode -cpu 1` on `internal/kube/testdata/watch-1kib.jsonl`, 200 events recorded from kube-apiserver 1.34 (ConfigMaps with 1 KiB of data, managedFields included). DecodeAndDecide adds the controller's decision per event.\n\n")
	b.WriteString("| benchmark | events/s | MB/s | allocs/event | bytes/event |\n|---|---|---|---|---|\n")
	for _, d := range r.Decoder {
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %.1f | %.0f |\n", d.Name, d.EventsPerSec, d.MBPerSec, d.AllocsPerEvent, d.BytesPerEvent)
	}
	return b.String()
}

// scaleSection renders the large scenario, if it ran.
func (r *report) scaleSection() string {
	s := r.Scale
	if s == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Large namespace (--scale)\n\ncuscon with its defaults on one namespace holding %d ConfigMaps of %d bytes (1 in 100 annotated) and %d pods (Pending on a node no kubelet runs, so they cost only storage and listing), plus a Deployment of %d pods its changed ConfigMap selects; %d changes. API calls from cuscon's own `cuscon_api_requests_total` (GET is a LIST here). See [scaling.md](scaling.md) for what the figures mean at cluster scale.\n\n", s.ConfigMaps, s.Bytes, s.Pods, s.Matched, s.Changes)
	b.WriteString("| figure | measured |\n|---|---|\n")
	fmt.Fprintf(&b, "| startup to /readyz | %s |\n| peak RSS (the list) | %s |\n| steady RSS | %s |\n", ms(s.Startup), mib(s.PeakRSS), mib(s.SteadyRSS))
	fmt.Fprintf(&b, "| requests at start, until settled plus 10 s (first start: one hash PATCH per annotated ConfigMap) | %s |\n| requests per change | %s |\n", verbs(s.StartupCalls), verbs(s.PerChange))
	fmt.Fprintf(&b, "| event seen → first / last DELETE, p50 | %s / %s |\n", ms(percentile(s.First, 50)), ms(percentile(s.Last, 50)))
	fmt.Fprintf(&b, "| cuscon's mean pod LIST during the changes | %.1f ms |\n", s.ChangeGetMs)
	fmt.Fprintf(&b, "| pod LIST by label selector (%d of %d pods), median of 10, through the proxy | %.1f ms |\n", s.Matched, s.Pods+s.Matched, s.SelectorListMs)
	fmt.Fprintf(&b, "| LIST of every pod, 500 a page, median of 10, through the proxy | %.1f ms, %.1f MiB |\n", s.FullListMs, float64(s.FullListBytes)/(1<<20))
	if s.ConfigMapListMs > 0 {
		fmt.Fprintf(&b, "| LIST of every ConfigMap, 500 a page, median of 3, through the proxy | %.1f ms, %.1f MiB |\n", s.ConfigMapListMs, float64(s.ConfigMapListBytes)/(1<<20))
	}
	return b.String()
}

// verbs renders request counts by verb.
func verbs(m map[string]float64) string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s %.1f", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
