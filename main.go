// main.go dispatches to the controller, to `cuscon sync` or to `cuscon plan`, wires the
// parts together, and runs until SIGTERM or SIGINT. The configuration is read in config.go.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sync" {
		os.Exit(syncMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "plan" {
		os.Exit(planMain(os.Args[2:]))
	}
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, errVersion):
		fmt.Println("cuscon", version)
		return
	case errors.Is(err, flag.ErrHelp):
		return
	case err != nil:
		fmt.Fprintln(os.Stderr, "cuscon:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cuscon:", err)
		os.Exit(1)
	}
}

// syncMain runs `cuscon sync` and returns its exit code. In subprocess mode the child's
// signals are handled by runChild, not by a context.
func syncMain(args []string) int {
	cfg, err := parseSyncConfig(args, os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, "cuscon sync:", err)
		return 2
	}
	if len(cfg.Command) > 0 {
		return runSync(context.Background(), cfg, os.Stdout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return runSync(ctx, cfg, os.Stdout)
}

// run wires the parts together and runs them until ctx ends.
func run(ctx context.Context, cfg config, logOut io.Writer) error {
	log, err := loggerFor(logOut, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("Starting the service", "version", version, "namespace", cfg.Namespace, "api", a.apiURL,
		"annotation", cfg.Annotation, "state", cfg.State, "strategy", cfg.Strategy, "dryRun", cfg.DryRun, "reloaderAnnotations", cfg.ReloaderAnnotations)
	if cfg.ListenAddress != "" {
		if _, err := serve(ctx, cfg.ListenAddress, a.health.healthy, a.health.ready, a.metrics, log); err != nil {
			return err
		}
	}
	a.run(ctx)
	log.Info("Stopped", "reason", context.Cause(ctx))
	return nil
}

// app is cuscon assembled: watchers feed the controller, which schedules restarts
// that the executor carries out; with leader election, only while this replica leads.
type app struct {
	apiURL   string
	watchers []*watcher
	ctl      *controller
	sched    *scheduler
	exec     *executor
	events   *eventRecorder
	elector  *elector
	metrics  *metrics
	health   *health
	// grace is how long requests under way may go on once shutdown begins: once for the
	// whole app, however many objects the batches under way report.
	grace time.Duration
}

// retryPolicy paces the rounds of pods a restart left: from a second to at most a minute.
var retryPolicy = backoffPolicy{Initial: time.Second, Max: time.Minute}

// newApp builds cuscon from cfg. The one request it may make, for the digest key of the
// Reloader mode with Secrets, is retried while it may pass, until ctx ends.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	m := newMetrics()
	api, base, err := connect(cfg.APIURL, cfg.InCluster, cfg.ServiceAccountDir, m)
	if err != nil {
		return nil, err
	}
	a := &app{apiURL: base, metrics: m, health: newHealth(), sched: newScheduler(cfg.Debounce, log), grace: cfg.ShutdownTimeout}
	if cfg.Events {
		a.events = newEventRecorder(api, log, m, cfg.DryRun)
	}
	leading, lease := func() bool { return true }, func() time.Time { return time.Time{} }
	if cfg.LeaderElect {
		a.elector = &elector{
			api: api, log: log, metrics: m, ns: cfg.LeaseNamespace, name: cfg.LeaseName, identity: cfg.Identity,
			leaseDuration: cfg.LeaseDuration, renewDeadline: cfg.RenewDeadline, retryPeriod: cfg.RetryPeriod,
			onStartedLeading: a.resync,
		}
		leading, lease = a.elector.isLeader, a.elector.actingUntil
	}
	a.ctl = &controller{
		api: api, log: log, annotation: cfg.Annotation, policy: policy{strategy: cfg.Strategy, overrides: cfg.overrides(), recordState: cfg.State == "annotation"},
		dryRun: cfg.DryRun, events: a.events, sched: a.sched, metrics: m,
		leading: leading, retry: retryPolicy, state: map[string]objState{},
	}
	a.exec = &executor{
		api: api, log: log, events: a.events, limiter: newRateLimiter(cfg.RateLimit), dryRun: cfg.DryRun,
		deleteUnowned: cfg.DeleteUnownedPods, self: newSelfFinder(api, cfg.PodNamespace, cfg.Identity), maxUnavailable: cfg.MaxUnavailable,
		parallel: 8, readyTimeout: cfg.ReadyTimeout, evictTimeout: cfg.EvictTimeout, pollInterval: time.Second,
		backoff: defaultBackoff, done: a.ctl.finished, metrics: m, lease: lease,
	}
	if cfg.ReloaderAnnotations {
		var key []byte
		if cfg.Secrets {
			if key, err = digestKey(ctx, api, cfg, log); err != nil {
				return nil, err
			}
		}
		a.ctl.reloader = newReloaderMode(api, log, cfg.scopes(), key)
		r := a.ctl.reloader
		r.sched, r.events, r.leading, r.dryRun = a.sched, a.events, leading, cfg.DryRun
		r.overrides, r.self = cfg.overrides(), a.exec.self
	}
	for _, scope := range cfg.scopes() {
		w := newWatcher(api, scope, log, a.ctl, m, a.health)
		w.labelSelector, w.keep = cfg.WatchSelector, a.ctl.annotated
		if r := a.ctl.reloader; r != nil { // every object counts: any may be used by a workload
			w.keep = func(*source) bool { return true }
			w.prepare = r.prepare(func(k string) bool { return k == cfg.Annotation || strings.HasPrefix(k, "cuscon.dev/") })
		}
		a.watchers = append(a.watchers, w)
	}
	return a, nil
}

// digestKey loads the digest key, retrying what may pass (the proxy starting, say).
func digestKey(ctx context.Context, api *apiClient, cfg config, log *slog.Logger) ([]byte, error) {
	bo := defaultBackoff.start()
	for {
		key, err := loadDigestKey(ctx, api, cfg.ownNamespace(), cfg.DigestKeySecret, cfg.DryRun)
		if err == nil || errors.Is(err, errDigestKey) || !isTransient(err) {
			return key, err
		}
		log.Warn("Could not read the digest key yet, retrying", "err", err)
		if !bo.wait(ctx) {
			return nil, err
		}
	}
}

// resync starts a new leader's term: what the controller knew as a follower is
// dropped, and every watcher lists again, so that changes the previous leader did not
// finish are found from the recorded hashes and applied.
func (a *app) resync() {
	a.ctl.reset()
	for _, w := range a.watchers {
		select {
		case w.resync <- struct{}{}:
		default:
		}
	}
}

// run runs every part until ctx ends, then waits for the restart under way (bounded
// by the shutdown timeout), releases the Lease, and sends pending Events.
func (a *app) run(ctx context.Context) {
	var wg sync.WaitGroup
	evCtx, stopEvents := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEvents()
	evDone := make(chan struct{})
	if a.events != nil {
		go func() { a.events.run(evCtx); close(evDone) }()
	} else {
		close(evDone)
	}
	if a.elector != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.elector.run(ctx) }()
	}
	wg.Add(1)
	send, stopSend := afterShutdown(ctx, a.grace)
	defer stopSend()
	go func() {
		defer wg.Done()
		a.sched.run(ctx, func(b []restartRequest) { a.exec.run(lifetime{wait: ctx, send: send}, b) })
	}()
	for _, w := range a.watchers {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(ctx) }()
	}
	if r := a.ctl.reloader; r != nil {
		wg.Add(1)
		go func() { defer wg.Done(); r.run(ctx) }()
	}
	wg.Wait()
	if a.elector != nil {
		a.elector.release(ctx)
	}
	stopEvents()
	<-evDone
}
