//go:build pprof

// profiles.go serves Go's profiles (--enable-pprof) in binaries built with -tags pprof.
// The shipped image leaves them out: runtime/pprof and its gzip writer cost the static
// binary about 0.25 MB, which its 8 MiB budget does not have room for, and a profile is
// taken by whoever builds cuscon to measure it, with the tag.

package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"
)

// ServeProfiles serves what `go tool pprof` fetches on addr until ctx ends: only there,
// never beside /metrics. /debug/pprof/profile is a CPU profile of ?seconds=N (default 30,
// at most 300); /debug/pprof/NAME is one of the runtime's named profiles (heap,
// goroutine, allocs, block, mutex, threadcreate).
func ServeProfiles(ctx context.Context, addr string, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", cpuProfile)
	mux.HandleFunc("/debug/pprof/{name}", namedProfile)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", "err", err)
		}
	}()
	log.Info("Serving Go's profiles", "addr", ln.Addr().String())
	return nil
}

// cpuProfile writes a CPU profile of ?seconds=N, or of less if the client goes away first.
func cpuProfile(w http.ResponseWriter, r *http.Request) {
	secs := 30
	if v := r.URL.Query().Get("seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 300 {
			http.Error(w, "seconds: want 1 to 300", http.StatusBadRequest)
			return
		}
		secs = n
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(w); err != nil {
		http.Error(w, "a CPU profile is already being taken: "+err.Error(), http.StatusConflict)
		return
	}
	t := time.NewTimer(time.Duration(secs) * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
	pprof.StopCPUProfile()
}

// namedProfile writes one of the runtime's named profiles in the format go tool pprof reads.
func namedProfile(w http.ResponseWriter, r *http.Request) {
	p := pprof.Lookup(r.PathValue("name"))
	if p == nil {
		http.Error(w, "no such profile; try heap, goroutine, allocs, block, mutex or threadcreate", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_ = p.WriteTo(w, 0)
}
