// proc.go starts and observes the processes a scenario measures: the kubectl proxy they
// talk through, and their memory and CPU as the kernel counts them.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cuscon/internal/plane"
	"cuscon/internal/promtext"
)

// bench holds what every scenario uses.
type bench struct {
	p        *plane.Plane
	dir      string
	cuscon   string // the cuscon binary, built as shipped
	reloader string // the Reloader binary; empty when it could not be built
	python   string // the python3 that runs the article's script
	script   string // the article's script
	kube     *kube  // straight to the apiserver, as admin: fixtures and the independent watch
	proxyURL string // the kubectl proxy every peer talks through
	churned  int    // churn updates made so far, so that each writes new content
	// churnSpares, if not nil, names further ConfigMaps (by index) that the churn
	// leaves alone, besides the annotated ones.
	churnSpares func(idx int) bool
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

// waitHTTP polls url every 5 ms and returns when it first answered 200.
func waitHTTP(ctx context.Context, proc *plane.Process, url string) (time.Time, error) {
	var at time.Time
	err := poll(ctx, 5*time.Minute, url, func() bool {
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
		return at, fmt.Errorf("%s exited:\n%s", proc.Name, plane.Tail(proc.Log, 20))
	}
	return at, err
}

// scrape reads a Prometheus endpoint and sums the samples of name by the value of label.
func scrape(url, name, label string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	samples, err := promtext.Parse(string(b))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range samples {
		if s.Name == name {
			out[s.Labels[label]] += s.Value
		}
	}
	return out, nil
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

// loadAverage is the machine's one-minute load average, to say how busy it was.
func loadAverage() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}
