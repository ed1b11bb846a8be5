// Command cuscon restarts the pods selected by a ConfigMap's magalix.com/podDeleteMatch
// annotation when that ConfigMap's content changes. It talks to the Kubernetes API
// through a kubectl proxy sidecar on 127.0.0.1:8001.
//
// main.go reads the configuration (flags, each with an environment twin), wires the
// parts together, and runs until SIGTERM or SIGINT.
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// config is everything cuscon can be told.
type config struct {
	Namespace         string
	Namespaces        string
	AllNamespaces     bool
	WatchSelector     string
	Secrets           bool
	APIURL            string
	Annotation        string
	State             string
	Strategy          string
	MaxUnavailable    int
	ReadyTimeout      time.Duration
	EvictTimeout      time.Duration
	Debounce          time.Duration
	RateLimit         int
	DryRun            bool
	Events            bool
	LogFormat         string
	LogLevel          string
	DeleteUnownedPods bool
	ShutdownTimeout   time.Duration
	ListenAddress     string
	LeaderElect       bool
	LeaseName         string
	LeaseNamespace    string
	Identity          string
	LeaseDuration     time.Duration
	RenewDeadline     time.Duration
	RetryPeriod       time.Duration
	InCluster         bool
	ServiceAccountDir string
}

// errVersion asks main to print the version and exit.
var errVersion = errors.New("version requested")

// envFlags defines flags whose defaults come from environment twins, and remembers the
// first twin that did not parse.
type envFlags struct {
	fs     *flag.FlagSet
	getenv func(string) string
	err    error
}

func (e *envFlags) str(p *string, name, env, def, usage string) {
	if v := e.getenv(env); v != "" {
		def = v
	}
	e.fs.StringVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) boolean(p *bool, name, env string, def bool, usage string) {
	if v := e.getenv(env); v != "" {
		b, err := strconv.ParseBool(v)
		e.keep(env, err)
		def = b
	}
	e.fs.BoolVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) integer(p *int, name, env string, def int, usage string) {
	if v := e.getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		e.keep(env, err)
		def = n
	}
	e.fs.IntVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v := e.getenv(env); v != "" {
		d, err := time.ParseDuration(v)
		e.keep(env, err)
		def = d
	}
	e.fs.DurationVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) keep(env string, err error) {
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("env %s: %w", env, err)
	}
}

// parseConfig reads flags from args; each flag's default comes from its environment
// twin (read with getenv) when that is set. Help goes to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("cuscon", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: cuscon [flags]\n\nRestarts the pods a ConfigMap's annotation selects when its content changes.\nFlags (a flag on the command line beats its environment twin):")
		fs.PrintDefaults()
	}
	e := &envFlags{fs: fs, getenv: getenv}
	e.str(&c.Namespace, "namespace", "res_namespace", "default", "namespace whose ConfigMaps and pods are handled")
	e.str(&c.Namespaces, "namespaces", "CUSCON_NAMESPACES", "", "comma-separated namespaces to handle instead of --namespace")
	e.boolean(&c.AllNamespaces, "all-namespaces", "CUSCON_ALL_NAMESPACES", false, "handle every namespace (needs a ClusterRole)")
	e.str(&c.WatchSelector, "watch-selector", "CUSCON_WATCH_SELECTOR", "", "label selector the watched ConfigMaps and Secrets must match (filtered by the server)")
	e.boolean(&c.Secrets, "secrets", "CUSCON_SECRETS", false, "also watch Secrets carrying the annotation (needs list, watch, patch on secrets)")
	e.str(&c.APIURL, "api-url", "CUSCON_API_URL", "http://127.0.0.1:8001", "Kubernetes API address: the kubectl proxy sidecar")
	e.str(&c.Annotation, "annotation", "CUSCON_ANNOTATION", "magalix.com/podDeleteMatch", "annotation holding the pod label selector")
	e.str(&c.State, "state", "CUSCON_STATE", "annotation", "where the last applied content hash is kept: annotation (on the object, survives restarts) or memory")
	e.str(&c.Strategy, "strategy", "CUSCON_STRATEGY", "delete", "how pods are restarted: delete, evict (honours PodDisruptionBudgets) or rollout (the workload's rolling update); the annotation "+strategyAnnotation+" overrides it per object")
	e.integer(&c.MaxUnavailable, "max-unavailable", "CUSCON_MAX_UNAVAILABLE", 0, "delete/evict this many pods at a time, waiting for replacements to be Ready in between (0: all at once)")
	e.duration(&c.ReadyTimeout, "ready-timeout", "CUSCON_READY_TIMEOUT", 5*time.Minute, "with --max-unavailable, how long to wait for replacements before stopping")
	e.duration(&c.EvictTimeout, "evict-timeout", "CUSCON_EVICT_TIMEOUT", 5*time.Minute, "how long to keep retrying evictions a PodDisruptionBudget blocks")
	e.duration(&c.Debounce, "debounce", "CUSCON_DEBOUNCE", 2*time.Second, "changes within this long after a restart wait for its end and run together")
	e.integer(&c.RateLimit, "rate-limit", "CUSCON_RATE_LIMIT", 120, "at most this many restart actions (pods, workloads) a minute (0: no limit)")
	e.boolean(&c.DryRun, "dry-run", "CUSCON_DRY_RUN", false, "decide and log everything, send every write with dryRun=All, change nothing")
	e.boolean(&c.Events, "events", "CUSCON_EVENTS", true, "report restarts and refusals as Kubernetes Events")
	e.str(&c.LogFormat, "log-format", "CUSCON_LOG_FORMAT", "text", "text (the Python script's lines) or json")
	e.str(&c.LogLevel, "log-level", "CUSCON_LOG_LEVEL", "info", "info or debug; debug explains every decision")
	e.boolean(&c.DeleteUnownedPods, "delete-unowned-pods", "CUSCON_DELETE_UNOWNED_PODS", false, "also delete matching pods that no controller owns and nothing will recreate")
	e.duration(&c.ShutdownTimeout, "shutdown-timeout", "CUSCON_SHUTDOWN_TIMEOUT", 10*time.Second, "on SIGTERM, how long requests under way may finish")
	e.str(&c.ListenAddress, "listen-address", "CUSCON_LISTEN_ADDRESS", ":8080", "where /healthz, /readyz and /metrics are served (empty: nowhere)")
	e.boolean(&c.LeaderElect, "leader-elect", "CUSCON_LEADER_ELECT", false, "elect one acting replica through a Lease; the others watch and wait")
	e.str(&c.LeaseName, "lease-name", "CUSCON_LEASE_NAME", "cuscon", "the Lease of the election")
	e.str(&c.LeaseNamespace, "lease-namespace", "CUSCON_LEASE_NAMESPACE", "", "the Lease's namespace (default: --namespace)")
	e.str(&c.Identity, "identity", "POD_NAME", hostname(), "this replica's name in the election")
	e.duration(&c.LeaseDuration, "lease-duration", "CUSCON_LEASE_DURATION", 15*time.Second, "how long the others wait after the leader's last renewal")
	e.duration(&c.RenewDeadline, "renew-deadline", "CUSCON_RENEW_DEADLINE", 10*time.Second, "how long the leader keeps failing to renew before it stops acting")
	e.duration(&c.RetryPeriod, "retry-period", "CUSCON_RETRY_PERIOD", 2*time.Second, "how often the Lease is tried and renewed")
	e.boolean(&c.InCluster, "in-cluster", "CUSCON_IN_CLUSTER", false, "talk to the API server directly with the pod's ServiceAccount, no proxy sidecar")
	e.str(&c.ServiceAccountDir, "service-account-dir", "CUSCON_SERVICE_ACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount", "with --in-cluster: where the token and ca.crt are")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case *showVersion:
		return c, errVersion
	case e.err != nil:
		return c, e.err
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case c.State != "annotation" && c.State != "memory":
		return c, fmt.Errorf("--state %q: want annotation or memory", c.State)
	case !validStrategy(c.Strategy):
		return c, fmt.Errorf("--strategy %q: want delete, evict or rollout", c.Strategy)
	case c.Annotation == "" || c.Namespace == "":
		return c, errors.New("--annotation and --namespace must not be empty")
	case c.MaxUnavailable < 0 || c.RateLimit < 0:
		return c, errors.New("--max-unavailable and --rate-limit must not be negative")
	case c.LeaderElect && c.State != "annotation":
		return c, errors.New("--leader-elect needs --state=annotation: a new leader learns what was applied from the objects")
	case c.LeaderElect && !(c.RetryPeriod < c.RenewDeadline && c.RenewDeadline < c.LeaseDuration):
		return c, errors.New("--leader-elect needs --retry-period < --renew-deadline < --lease-duration")
	case c.LeaderElect && c.LeaseDuration%time.Second != 0:
		return c, errors.New("--lease-duration must be whole seconds: the Lease records seconds")
	}
	if c.LeaseNamespace == "" {
		c.LeaseNamespace = c.Namespace
	}
	return c, nil
}

// hostname is this machine's name, the default identity in leader election.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "cuscon"
	}
	return h
}

// scopes lists what to watch: each namespace (or all) for ConfigMaps, and for Secrets
// when asked.
func (c config) scopes() []watchScope {
	namespaces := []string{c.Namespace}
	switch {
	case c.AllNamespaces:
		namespaces = []string{""}
	case c.Namespaces != "":
		namespaces = nil
		for _, ns := range strings.Split(c.Namespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" && !slices.Contains(namespaces, ns) {
				namespaces = append(namespaces, ns)
			}
		}
	}
	kinds := []resource{configMaps}
	if c.Secrets {
		kinds = append(kinds, secrets)
	}
	var out []watchScope
	for _, k := range kinds {
		for _, ns := range namespaces {
			out = append(out, watchScope{resource: k, namespace: ns})
		}
	}
	return out
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sync" {
		os.Exit(syncMain(os.Args[2:]))
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
	a, err := newApp(cfg, log)
	if err != nil {
		return err
	}
	log.Info("Starting the service", "version", version, "namespace", cfg.Namespace, "api", a.apiURL,
		"annotation", cfg.Annotation, "state", cfg.State, "strategy", cfg.Strategy, "dryRun", cfg.DryRun)
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
}

// newApp builds cuscon from cfg.
func newApp(cfg config, log *slog.Logger) (*app, error) {
	m := newMetrics()
	api, base, err := connect(cfg.APIURL, cfg.InCluster, cfg.ServiceAccountDir, m)
	if err != nil {
		return nil, err
	}
	a := &app{apiURL: base, metrics: m, health: newHealth(15*time.Second, 10*time.Minute), sched: newScheduler(cfg.Debounce)}
	if cfg.Events {
		a.events = newEventRecorder(api, log, cfg.DryRun)
	}
	leading := func() bool { return true }
	if cfg.LeaderElect {
		a.elector = &elector{
			api: api, log: log, metrics: m, ns: cfg.LeaseNamespace, name: cfg.LeaseName, identity: cfg.Identity,
			leaseDuration: cfg.LeaseDuration, renewDeadline: cfg.RenewDeadline, retryPeriod: cfg.RetryPeriod,
			onStartedLeading: a.resync,
		}
		leading = a.elector.isLeader
	}
	a.ctl = &controller{
		api: api, log: log, annotation: cfg.Annotation, strategy: cfg.Strategy,
		recordState: cfg.State == "annotation", dryRun: cfg.DryRun, grace: cfg.ShutdownTimeout,
		events: a.events, sched: a.sched, leading: leading, state: map[string]objState{},
	}
	a.exec = &executor{
		api: api, log: log, events: a.events, limiter: newRateLimiter(cfg.RateLimit), dryRun: cfg.DryRun,
		deleteUnowned: cfg.DeleteUnownedPods, maxUnavailable: cfg.MaxUnavailable,
		readyTimeout: cfg.ReadyTimeout, evictTimeout: cfg.EvictTimeout, pollInterval: time.Second,
		grace: cfg.ShutdownTimeout, backoff: defaultBackoff, done: a.ctl.finished, metrics: m, leading: leading,
	}
	for _, scope := range cfg.scopes() {
		a.watchers = append(a.watchers, &watcher{
			api: api, scope: scope, labelSelector: cfg.WatchSelector, log: log, handler: a.ctl,
			keep: a.ctl.annotated, idleTimeout: 5 * time.Minute, pageSize: 500, backoff: defaultBackoff,
			metrics: m, health: a.health, resync: make(chan struct{}, 1),
		})
	}
	return a, nil
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
	go func() { defer wg.Done(); a.sched.run(ctx, func(b []restartRequest) { a.exec.run(ctx, b) }) }()
	for _, w := range a.watchers {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(ctx) }()
	}
	wg.Wait()
	if a.elector != nil {
		a.elector.release(ctx)
	}
	stopEvents()
	<-evDone
}
