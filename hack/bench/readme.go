// readme.go keeps the README's Performance figures those of the last run: the text
// between the two markers below is rewritten by every run (and by --render).
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

const (
	readmeBegin = "<!-- hack/bench.sh writes from here: do not edit by hand -->"
	readmeEnd   = "<!-- hack/bench.sh writes up to here -->"
)

// readmeBlock is the README's summary of the run: the headline rows of the side-by-side
// table, when and how busy the machine was.
func (r *report) readmeBlock() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Last run: %s, %s, %d cores, load average %.1f → %.1f; %d changes per peer and pod count; ratios are the peer's figure over cuscon's (above 1: cuscon faster or lighter). The full tables, and how each peer was run, are in [docs/benchmarks.md](docs/benchmarks.md).\n\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.CPU, r.Cores, r.LoadBefore, r.LoadAfter, r.Changes)
	if r.ReloaderNote != "" {
		fmt.Fprintf(&b, "Reloader was not measured in this run: %s.\n\n", r.ReloaderNote)
	}
	headline := []string{"3 pods: PATCH → first action, p50", "3 pods: event seen → first action, p50", "3 pods: event seen → first action, p99",
		"30 pods: event seen → last action, p50", "3 pods, burst", "RSS idle", "peak RSS, 10000", "CPU under churn, 10000", "startup to ConfigMaps in hand, 10000", "startup to settled (initial objects digested), 10000",
		"startup to ConfigMaps in hand, 100000", "3 pods: API requests per change", "idle: API requests per hour"}
	for _, line := range strings.SplitAfter(r.summary(), "\n") {
		keep := strings.HasPrefix(line, "| figure") || strings.HasPrefix(line, "|---")
		for _, h := range headline {
			keep = keep || strings.HasPrefix(line, "| "+h)
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

// updateReadme replaces the text between the markers in path, if both are there.
func (r *report) updateReadme(path string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return nil // no README next to the docs: nothing to keep true
	}
	i, j := bytes.Index(old, []byte(readmeBegin)), bytes.Index(old, []byte(readmeEnd))
	if i < 0 || j < i {
		return nil
	}
	var b bytes.Buffer
	b.Write(old[:i+len(readmeBegin)])
	b.WriteString("\n" + r.readmeBlock() + "\n")
	b.Write(old[j:])
	return os.WriteFile(path, b.Bytes(), 0o644)
}
