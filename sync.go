// sync.go is cuscon's in-pod mode, `cuscon sync`: it watches one ConfigMap (or Secret),
// writes its keys as files into a directory (atomic.go), and tells the app to reload:
// by an HTTP request when cuscon runs as a sidecar, or by SIGHUP when it runs the app
// as its child. Only content changes reload; a reload that keeps failing turns
// /healthz red so that Kubernetes restarts the pod. Reloading is reload.go's part.

package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// syncer unpacks one object into files and asks for reloads. It is a watcher's handler.
type syncer struct {
	log     *slog.Logger
	writer  *atomicWriter
	metrics *metrics
	// onDisk is the hash of the content already in the directory at start, if any.
	onDisk string
	// reloads receives a request for each content change to pass on to the app.
	reloads chan struct{}
	// firstWrite is closed once the directory holds the object's content.
	firstWrite chan struct{}

	mu      sync.Mutex
	written string // hash of the content last written
}

// newSyncer returns a syncer writing into dir.
func newSyncer(log *slog.Logger, m *metrics, dir string, secret bool) *syncer {
	w := &atomicWriter{dir: dir, fileMode: 0o644, dirMode: 0o755}
	if secret {
		w.fileMode, w.dirMode = 0o600, 0o700
	}
	if err := w.removeStale(); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("Could not remove the versions a stopped cuscon left", "dir", dir, "err", err)
	}
	return &syncer{log: log, writer: w, metrics: m, onDisk: w.lastHash(),
		reloads: make(chan struct{}, 1), firstWrite: make(chan struct{})}
}

func (s *syncer) synced(ctx context.Context, scope watchScope, items []source) {
	if len(items) == 0 {
		s.log.Warn("Object not found; waiting for it to be created", "scope", scope.String())
		return
	}
	s.apply(&items[0])
}

func (s *syncer) changed(ctx context.Context, eventType string, obj *source) {
	if eventType == "DELETED" {
		s.log.Warn("Object deleted; the files stay as they are", "name", obj.Metadata.Name)
		return
	}
	s.apply(obj)
}

// apply writes obj's content if it changed and asks for a reload, except on the first
// write into an empty directory: the app has not read anything yet.
func (s *syncer) apply(obj *source) {
	hash := contentHash(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	if hash == s.written {
		s.log.Debug("Content unchanged; no reload", "resourceVersion", obj.Metadata.ResourceVersion)
		return
	}
	files, err := filesOf(obj)
	if err == nil {
		err = s.writer.write(files, hash)
	}
	if err != nil {
		s.metrics.syncWrites.inc("result", "refused")
		s.log.Error("Could not write the new configuration; the previous files stay and the app is not told", "dir", s.writer.dir, "err", err)
		return
	}
	s.metrics.syncWrites.inc("result", "ok")
	first := s.written == ""
	s.written = hash
	s.log.Info(fmt.Sprintf("Wrote %d files to %s", len(files), s.writer.dir)) // no digest: it would reveal a Secret's short values
	if first {
		close(s.firstWrite)
		if s.onDisk == "" || s.onDisk == hash {
			return // nothing older was read by the app
		}
	}
	select {
	case s.reloads <- struct{}{}:
	default: // a reload is already due; it will read these files
	}
}

// ready reports whether the directory holds the object's content.
func (s *syncer) ready() (bool, string) {
	select {
	case <-s.firstWrite:
		return true, ""
	default:
		return false, "configuration not written yet"
	}
}

// filesOf returns obj's keys and contents: data as text (base64-decoded for a
// Secret), binaryData decoded.
func filesOf(obj *source) (map[string][]byte, error) {
	files := map[string][]byte{}
	for k, v := range obj.Data {
		if obj.Resource == secrets {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			files[k] = b
			continue
		}
		files[k] = []byte(v)
	}
	for k, v := range obj.BinaryData {
		if _, dup := files[k]; dup {
			return nil, fmt.Errorf("key %q is in both data and binaryData", k)
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		files[k] = b
	}
	return files, nil
}

// runSync runs `cuscon sync` until ctx ends (sidecar mode) or the child exits
// (subprocess mode), and returns the exit code.
func runSync(ctx context.Context, cfg syncConfig, logOut io.Writer) int {
	log, err := loggerFor(logOut, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cuscon sync:", err)
		return 2
	}
	m := newMetrics()
	api, base, err := connect(cfg.APIURL, cfg.InCluster, cfg.ServiceAccountDir, m)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	res := configMaps
	if cfg.Secret {
		res = secrets
	}
	log = log.With("namespace", cfg.Namespace, kindField(res), cfg.Name)
	s := newSyncer(log, m, cfg.Dir, cfg.Secret)
	h := newHealth()
	w := newWatcher(api, watchScope{resource: res, namespace: cfg.Namespace}, log, s, m, h)
	w.fieldSelector, w.keepData = "metadata.name="+cfg.Name, true
	r := &reloader{log: log, metrics: m, limit: cfg.ReloadRetries, backoff: backoffPolicy{Initial: 500 * time.Millisecond, Max: 30 * time.Second}}
	healthy := func() (bool, string) {
		if ok, why := h.healthy(); !ok {
			return ok, why
		}
		return r.healthy()
	}
	if cfg.ListenAddress != "" {
		if _, err := serve(ctx, cfg.ListenAddress, healthy, s.ready, m, log); err != nil {
			log.Error(err.Error())
			return 1
		}
	}
	log.Info("Starting the sync", "version", version, "dir", cfg.Dir, "api", base)
	wctx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWatch()
	wg.Add(1)
	go func() { defer wg.Done(); w.run(wctx) }()
	startReloads := func() {
		wg.Add(1)
		go func() { defer wg.Done(); r.run(wctx, s.reloads) }()
	}
	if len(cfg.Command) > 0 {
		return runChild(ctx, cfg.Command, s, r, log, startReloads)
	}
	r.send = httpReload(cfg.ReloadMethod, cfg.ReloadURL)
	startReloads()
	<-ctx.Done()
	log.Info("Stopped", "reason", context.Cause(ctx))
	return 0
}
