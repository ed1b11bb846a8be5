// main.go dispatches to the controller, `cuscon plan` or `cuscon sync`, wires the
// controller's parts together, and runs until SIGTERM or SIGINT. The configuration is
// read in config.go.

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
	"sync"
	"syscall"
	"time"

	"cuscon/internal/alert"
	"cuscon/internal/kube"
	"cuscon/internal/lease"
	"cuscon/internal/podcache"
	"cuscon/internal/reloader"
	"cuscon/internal/restart"
	"cuscon/internal/syncer"
	"cuscon/internal/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(dispatch(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }

// dispatch runs the command args name and returns its exit code: the controller unless
// the first argument is a command.
func dispatch(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	command := ""
	if len(args) > 0 {
		command = args[0]
	}
	switch command {
	case "sync":
		return syncMain(args[1:], getenv, stdout, stderr)
	case "plan":
		return planMain(args[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "cuscon", version)
		return 0
	case "help":
		if len(args) > 1 && (args[1] == "plan" || args[1] == "sync") {
			return dispatch([]string{args[1], "--help"}, getenv, stdout, stderr)
		}
		args = []string{"--help"}
	}
	cfg, err := parseConfig(args, getenv, stdout)
	switch {
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, "cuscon", version)
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "cuscon:", err)
		fmt.Fprintln(stderr, "Run 'cuscon --help' for the commands and flags.")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runController(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "cuscon:", err)
		return 1
	}
	return 0
}

// syncMain runs `cuscon sync` and returns its exit code. In subprocess mode the child's
// signals are handled by the syncer, not by a context.
func syncMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := syncer.ParseConfig(args, getenv, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "cuscon sync:", err)
		return 2
	}
	if len(cfg.Command) > 0 {
		return syncer.Sync(context.Background(), cfg, version, stdout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return syncer.Sync(ctx, cfg, version, stdout)
}

// runController wires the controller's parts together and runs them until ctx ends.
func runController(ctx context.Context, cfg config, logOut io.Writer) error {
	log, err := cfg.Telemetry.Logger(logOut)
	if err != nil {
		return err
	}
	a, err := newApp(cfg, log)
	if err != nil {
		return err
	}
	log.Info("Starting the service", "version", version, "namespace", cfg.Namespace, "api", a.client.Base(),
		"annotation", cfg.Annotation, "state", cfg.State, "strategy", cfg.Strategy, "dryRun", cfg.DryRun, "reloaderAnnotations", cfg.ReloaderAnnotations)
	if cfg.ReloaderAnnotations {
		reloaderNotes(cfg, log)
	}
	if cfg.Reloader.EnablePprof {
		if err := telemetry.ServeProfiles(ctx, cfg.Reloader.PprofAddr, log); err != nil {
			return err
		}
	}
	if cfg.Telemetry.ListenAddress != "" {
		if _, err := telemetry.Serve(ctx, cfg.Telemetry.ListenAddress, telemetry.DefaultLimits, a.health.Healthy, a.health.Ready, a.metrics, log); err != nil {
			return err
		}
	}
	a.runParts(ctx)
	log.Info("Stopped", "reason", context.Cause(ctx))
	return nil
}

// app is the controller assembled: watchers feed the controller (and the Reloader
// mode), which send restarts to the scheduler, whose batches the executor carries out;
// with leader election, only while this replica leads.
type app struct {
	client   *kube.Client
	watchers []*kube.Watcher[seen]
	ctl      *controller
	mode     *reloader.Mode // nil without --reloader-annotations
	// podCache knows the pods in scope through podWatchers (nil without --pod-cache).
	podCache    *podcache.Cache
	podWatchers []*kube.Watcher[podcache.Pod]
	// namespaces watches the namespaces --namespace-selector selects (nil without).
	namespaces *kube.Watcher[string]
	alerts     *alert.Sender // nil without Reloader's alerts or --webhook-url
	sched      *restart.Scheduler
	exec       *restart.Executor
	events     *kube.EventRecorder // nil without --events
	elector    *lease.Elector      // nil without --leader-elect
	// readKey reads the Reloader mode's digest key of Secrets once, before the watchers
	// start; retryKey tries again until it can (both nil without the mode and Secrets).
	readKey  func(context.Context) bool
	retryKey func(context.Context)
	metrics  *telemetry.Metrics
	health   *telemetry.Health
	// grace is how long requests under way may go on once shutdown begins: once for the
	// whole app, however many objects the batches under way report.
	grace time.Duration
}

// newApp builds the controller from cfg.
func newApp(cfg config, log *slog.Logger) (*app, error) {
	m := telemetry.NewMetrics(version)
	client, err := kube.Connect(cfg.Connection, m)
	if err != nil {
		return nil, err
	}
	a := &app{client: client, metrics: m, health: telemetry.NewHealth(cfg.tuning.readyGrace), sched: restart.NewScheduler(cfg.Debounce, log),
		grace: cfg.ShutdownTimeout}
	if cfg.Events {
		a.events = kube.NewEventRecorder(client, log, m, cfg.DryRun)
	}
	leading, actingUntil := func() bool { return true }, func() time.Time { return time.Time{} }
	if cfg.LeaderElect {
		a.elector = lease.New(client, lease.Config{Namespace: cfg.LeaseNamespace, Name: cfg.LeaseName, Identity: cfg.Identity,
			LeaseDuration: cfg.LeaseDuration, RenewDeadline: cfg.RenewDeadline, RetryPeriod: cfg.RetryPeriod}, a.resync, log, m)
		leading, actingUntil = a.elector.IsLeader, a.elector.ActingUntil
	}
	pods := &pods{client: client, dryRun: cfg.DryRun, deleteUnowned: cfg.DeleteUnownedPods, self: newSelfFinder(client, cfg.PodNamespace, cfg.Identity),
		lookups: m.PodLookups}
	if cfg.PodCache {
		pods.known = podcache.New(m.PodCachePods)
		a.podCache = pods.known
		opts := cfg.tuning.watch
		opts.MetadataOnly, opts.Optional, opts.FieldSelector = true, true, podcache.FieldSelector
		for _, ns := range cfg.namespacesInScope() { // not in /readyz: without it, pods are listed as before
			a.podWatchers = append(a.podWatchers, kube.NewWatcher(client, kube.Scope{Resource: kube.Pods, Namespace: ns}, opts,
				podcache.Summarize, kube.Handler[podcache.Pod](pods.known), log, m, nil))
		}
	}
	a.exec = restart.NewExecutor(client, pods, restart.Options{DryRun: cfg.DryRun, MaxUnavailable: cfg.MaxUnavailable,
		ReadyTimeout: cfg.ReadyTimeout, EvictTimeout: cfg.EvictTimeout, RateLimit: cfg.RateLimit,
		Backoff: cfg.tuning.backoff, PollInterval: cfg.tuning.pollInterval}, actingUntil, a.events, m, log)
	a.ctl = newController(client, cfg.policy(), cfg.DryRun, a.sched, leading, a.events, m, log, cfg.tuning.backoff)
	if cfg.ReloaderAnnotations {
		a.buildReloaderMode(cfg, pods, leading, log)
	}
	h := watched{annotation: cfg.Annotation, ctl: a.ctl, mode: a.mode}
	for _, scope := range cfg.scopes() {
		opts := cfg.tuning.watch
		opts.LabelSelector = cfg.watchSelector()
		if a.mode == nil { // the Reloader mode may need any object's content: a workload may use it
			opts.ContentOf = h.needsContent
		}
		a.watchers = append(a.watchers, kube.NewWatcher(client, scope, opts, h.summarize, kube.Handler[seen](h), log, m, a.health))
	}
	return a, nil
}

// resync starts a new leader's term: what the controller knew as a follower is
// dropped, and every watcher lists again, so that changes the previous leader did not
// finish are found from the recorded hashes and applied.
func (a *app) resync() {
	a.ctl.reset()
	if a.mode != nil {
		a.mode.Reset()
	}
	for _, w := range a.watchers {
		w.Resync()
	}
	if a.namespaces != nil {
		a.namespaces.Resync()
	}
	if a.podCache != nil {
		a.podCache.Forget()
		for _, w := range a.podWatchers {
			w.Resync()
		}
	}
}

// runParts runs every part until ctx ends, then waits for the restart under way
// (bounded by the shutdown timeout), releases the Lease, and sends pending Events.
func (a *app) runParts(ctx context.Context) {
	var wg sync.WaitGroup
	evCtx, stopEvents := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEvents()
	evDone := make(chan struct{})
	go func() {
		if a.events != nil {
			a.events.PostEvents(evCtx)
		}
		close(evDone)
	}()
	start := func(part func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); part(ctx) }()
	}
	if a.elector != nil {
		start(a.elector.Campaign)
	}
	send, stopSend := afterShutdown(ctx, a.grace)
	defer stopSend()
	start(func(ctx context.Context) {
		a.sched.ServeLanes(ctx, a.exec.Batches(restart.Lifetime{Wait: ctx, Send: send}))
	})
	if a.readKey != nil && !a.readKey(ctx) {
		start(a.retryKey)
	}
	for _, w := range a.watchers {
		start(w.Watch)
	}
	if a.namespaces != nil {
		start(a.namespaces.Watch)
	}
	for _, w := range a.podWatchers {
		start(w.Watch)
	}
	if a.mode != nil {
		start(a.mode.CheckWorkloads)
	}
	if a.alerts != nil {
		start(a.alerts.Run)
	}
	wg.Wait()
	if a.elector != nil {
		a.elector.Release(ctx)
	}
	stopEvents()
	<-evDone
}

// afterShutdown returns a context for requests that should finish even when ctx ends:
// it is cancelled only grace after ctx is, or when the returned cancel is called.
func afterShutdown(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	act, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return act, func() { stop(); cancel() }
}
