// sync.go is cuscon's in-pod mode, `cuscon sync`: it watches one ConfigMap (or Secret),
// writes its keys as files into a directory (atomic.go), and tells the app to reload:
// by an HTTP request when cuscon runs as a sidecar, or by SIGHUP when it runs the app
// as its child. Only content changes reload; a reload that keeps failing turns
// /healthz red so that Kubernetes restarts the pod.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// syncConfig is what `cuscon sync` can be told.
type syncConfig struct {
	Namespace, Name string
	Secret          bool
	Dir             string
	ReloadURL       string
	ReloadMethod    string
	ReloadRetries   int
	Command         []string
	commonConfig
}

// parseSyncConfig reads the sync subcommand's flags; what follows "--" is the command.
func parseSyncConfig(args []string, getenv func(string) string, out io.Writer) (syncConfig, error) {
	var c syncConfig
	if i := indexOf(args, "--"); i >= 0 {
		args, c.Command = args[:i], args[i+1:]
	}
	fs := flag.NewFlagSet("cuscon sync", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: cuscon sync --configmap [NAMESPACE/]NAME --dir DIR (--reload-url URL | -- COMMAND ARGS...)\n\nWrites a ConfigMap's keys as files into DIR and tells the app to reload when its content changes.\nFlags (a flag on the command line beats its environment twin):")
		fs.PrintDefaults()
	}
	e := &envFlags{fs: fs, getenv: getenv}
	var configMap, secret string
	e.str(&configMap, "configmap", "CUSCON_SYNC_CONFIGMAP", "", "[NAMESPACE/]NAME of the ConfigMap to unpack (namespace default: res_namespace, else default)")
	e.str(&secret, "secret", "CUSCON_SYNC_SECRET", "", "[NAMESPACE/]NAME of a Secret to unpack instead; files are written 0600")
	e.str(&c.Dir, "dir", "CUSCON_SYNC_DIR", "", "directory the keys are written into")
	e.str(&c.ReloadURL, "reload-url", "CUSCON_RELOAD_URL", "", "sidecar mode: the app's reload endpoint")
	e.str(&c.ReloadMethod, "reload-method", "CUSCON_RELOAD_METHOD", http.MethodPost, "HTTP method of the reload request")
	e.integer(&c.ReloadRetries, "reload-retries", "CUSCON_RELOAD_RETRIES", 5, "failed reloads in a row after which /healthz fails (cuscon keeps retrying)")
	e.common(&c.commonConfig)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	ref := configMap
	if secret != "" {
		ref, c.Secret = secret, true
	}
	c.Namespace, c.Name, _ = strings.Cut(ref, "/")
	if c.Name == "" {
		c.Namespace, c.Name = getenv("res_namespace"), c.Namespace
		if c.Namespace == "" {
			c.Namespace = "default"
		}
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q (the command goes after --)", fs.Args())
	case (configMap == "") == (secret == ""):
		return c, errors.New("give exactly one of --configmap and --secret")
	case c.Name == "" || c.Dir == "":
		return c, errors.New("--dir and the object's name are required")
	case (c.ReloadURL == "") == (len(c.Command) == 0):
		return c, errors.New("give either --reload-url (sidecar mode) or -- COMMAND (subprocess mode)")
	}
	return c, nil
}

// indexOf returns the index of s in list, or -1.
func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

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
		s.metrics.inc("cuscon_sync_writes_total", "result", "refused")
		s.log.Error("Could not write the new configuration; the previous files stay and the app is not told", "dir", s.writer.dir, "err", err)
		return
	}
	s.metrics.inc("cuscon_sync_writes_total", "result", "ok")
	first := s.written == ""
	s.written = hash
	s.log.Info(fmt.Sprintf("Wrote %d files to %s", len(files), s.writer.dir), "hash", hash)
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

// reloader passes reload requests on to the app, retrying failures with backoff; after
// `limit` failures in a row it reports itself unhealthy until a reload succeeds.
type reloader struct {
	log     *slog.Logger
	metrics *metrics
	send    func(ctx context.Context) error
	limit   int
	backoff backoffPolicy

	mu       sync.Mutex
	failures int
	lastErr  error
}

// run serves requests from reloads until ctx ends.
func (r *reloader) run(ctx context.Context, reloads <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reloads:
		}
		bo := r.backoff.start()
		for {
			err := r.send(ctx)
			r.note(err)
			if err == nil || !bo.wait(ctx) {
				break
			}
		}
	}
}

// note records the outcome of one reload.
func (r *reloader) note(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.failures, r.lastErr = 0, nil
		r.metrics.inc("cuscon_reloads_total", "result", "ok")
		r.log.Info("Reloaded the app")
		return
	}
	r.failures++
	r.lastErr = err
	r.metrics.inc("cuscon_reloads_total", "result", "failed")
	r.log.Warn("Could not reload the app, retrying", "failures", r.failures, "err", err)
}

// healthy is false once `limit` reloads in a row have failed.
func (r *reloader) healthy() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures >= r.limit {
		return false, fmt.Sprintf("%d reloads in a row failed, last: %v", r.failures, r.lastErr)
	}
	return true, ""
}

// httpReload returns a reload that sends method to url and wants a 2xx.
func httpReload(method, url string) func(ctx context.Context) error {
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
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
	h := newHealth(15*time.Second, 10*time.Minute)
	w := &watcher{api: api, scope: watchScope{resource: res, namespace: cfg.Namespace},
		fieldSelector: "metadata.name=" + cfg.Name, log: log, handler: s, keep: func(*source) bool { return true },
		idleTimeout: 5 * time.Minute, pageSize: 500, backoff: defaultBackoff, metrics: m, health: h}
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

// runChild waits for the first write, starts the command, passes reloads on as SIGHUP
// and SIGTERM/SIGINT on as themselves, and returns the child's exit code when it ends
// (128 + the signal's number if a signal ended it). If ctx ends first, the child is
// sent SIGTERM and waited for.
func runChild(ctx context.Context, command []string, s *syncer, r *reloader, log *slog.Logger, startReloads func()) int {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	select {
	case <-s.firstWrite:
	case sig := <-signals:
		log.Info("Stopped before the first write", "signal", sig.String())
		return 128 + int(sig.(syscall.Signal))
	case <-ctx.Done():
		return 1
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Error("Could not start the command", "command", command[0], "err", err)
		return 127
	}
	log.Info("Started the command", "command", strings.Join(command, " "), "pid", cmd.Process.Pid)
	r.send = func(context.Context) error { return cmd.Process.Signal(syscall.SIGHUP) }
	startReloads()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	done := ctx.Done()
	for {
		select {
		case sig := <-signals:
			log.Info("Passing the signal to the command", "signal", sig.String())
			_ = cmd.Process.Signal(sig)
		case <-done:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done = nil
		case <-exited:
			code := cmd.ProcessState.ExitCode()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			log.Info("The command exited", "code", code)
			return code
		}
	}
}
