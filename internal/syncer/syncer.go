// Package syncer is `cuscon sync`, cuscon's in-pod mode: it watches one ConfigMap (or
// Secret), writes its keys as files into a directory atomically (atomic.go), and tells
// the app to reload (notify.go): by an HTTP request when cuscon runs as a sidecar, or by
// SIGHUP when it runs the app as its child. Only content changes reload; a reload that
// keeps failing turns /healthz red so that Kubernetes restarts the pod. It restarts no
// pod and knows nothing of the controller.
package syncer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/telemetry"
)

// syncer unpacks one object into files and asks for reloads. It is a watcher's handler.
type syncer struct {
	log     *slog.Logger
	writer  *atomicWriter
	metrics *telemetry.Metrics
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
func newSyncer(log *slog.Logger, m *telemetry.Metrics, dir string, secret bool) *syncer {
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

// Synced writes the object of a complete list: there is one, or none yet.
func (s *syncer) Synced(ctx context.Context, scope kube.Scope, items []*kube.Object) {
	if len(items) == 0 {
		s.log.Warn("Object not found; waiting for it to be created", "scope", scope.String())
		return
	}
	s.apply(items[0])
}

// Changed writes what a watch event says, unless the object was deleted.
func (s *syncer) Changed(ctx context.Context, eventType string, obj *kube.Object) {
	if eventType == "DELETED" {
		s.log.Warn("Object deleted; the files stay as they are", "name", obj.Metadata.Name)
		return
	}
	s.apply(obj)
}

// apply writes obj's content if it changed and asks for a reload, except on the first
// write into an empty directory: the app has not read anything yet.
func (s *syncer) apply(obj *kube.Object) {
	hash := kube.ContentHash(obj)
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
		s.metrics.SyncWrites.Inc("result", "refused")
		s.log.Error("Could not write the new configuration; the previous files stay and the app is not told", "dir", s.writer.dir, "err", err)
		return
	}
	s.metrics.SyncWrites.Inc("result", "ok")
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
func filesOf(obj *kube.Object) (map[string][]byte, error) {
	files := map[string][]byte{}
	for k, v := range obj.Data {
		if obj.Resource == kube.Secrets {
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

// Sync runs `cuscon sync` until ctx ends (sidecar mode) or the child exits (subprocess
// mode), and returns the exit code. Its log goes to logOut; version is the build's.
func Sync(ctx context.Context, cfg Config, version string, logOut io.Writer) int {
	log, err := cfg.Telemetry.Logger(logOut)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cuscon sync:", err)
		return 2
	}
	m := telemetry.NewMetrics(version)
	api, err := kube.Connect(cfg.Connection, m)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	res := kube.ConfigMaps
	if cfg.Secret {
		res = kube.Secrets
	}
	log = log.With("namespace", cfg.Namespace, strings.ToLower(res.Kind), cfg.Name)
	s := newSyncer(log, m, cfg.Dir, cfg.Secret)
	h := telemetry.NewHealth(0)
	whole := func(o *kube.Object) (*kube.Object, bool) { return o, true }
	w := kube.NewWatcher(api, kube.Scope{Resource: res, Namespace: cfg.Namespace}, kube.WatchOptions{FieldSelector: "metadata.name=" + cfg.Name},
		whole, kube.Handler[*kube.Object](s), log, m, h)
	n := &notifier{log: log, metrics: m, limit: cfg.ReloadRetries, backoff: backoff.Policy{Initial: 500 * time.Millisecond, Max: 30 * time.Second}}
	healthy := func() (bool, string) {
		if ok, why := h.Healthy(); !ok {
			return ok, why
		}
		return n.healthy()
	}
	if cfg.Telemetry.ListenAddress != "" {
		if _, err := telemetry.Serve(ctx, cfg.Telemetry.ListenAddress, telemetry.DefaultLimits, healthy, s.ready, m, log); err != nil {
			log.Error(err.Error())
			return 1
		}
	}
	log.Info("Starting the sync", "version", version, "dir", cfg.Dir, "api", api.Base())
	wctx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWatch()
	wg.Add(1)
	go func() { defer wg.Done(); w.Watch(wctx) }()
	startReloads := func() {
		wg.Add(1)
		go func() { defer wg.Done(); n.notifyApp(wctx, s.reloads) }()
	}
	if len(cfg.Command) > 0 {
		return runChild(ctx, cfg.Command, s, n, log, startReloads)
	}
	n.send = httpReload(cfg.ReloadMethod, cfg.ReloadURL)
	startReloads()
	<-ctx.Done()
	log.Info("Stopped", "reason", context.Cause(ctx))
	return 0
}
