// config.go reads what the controller and `cuscon plan` are told, from flags and their
// environment twins (envflag), grouped by concern, validated before anything starts.

package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cuscon/internal/alert"
	"cuscon/internal/backoff"
	"cuscon/internal/envflag"
	"cuscon/internal/kube"
	"cuscon/internal/reloader"
	"cuscon/internal/restart"
	"cuscon/internal/telemetry"
	"cuscon/internal/waves"
	"cuscon/internal/window"
)

// config is everything the controller can be told.
type config struct {
	// Scope: what is watched.
	Namespace     string
	Namespaces    string
	AllNamespaces bool
	WatchSelector string
	Secrets       bool
	Annotation    string
	// Waves and windows of the Reloader mode's restarts (internal/waves).
	WaveTimeout       time.Duration
	MaintenanceWindow string
	// ReloaderAnnotations honours stakater/Reloader's annotations on workloads too.
	ReloaderAnnotations bool
	// Reloader are stakater/Reloader's flags, which the Reloader mode honours.
	Reloader reloader.Options
	// AsReloader: cuscon was started as Reloader's chart starts Reloader (the chart's
	// RELOADER_NAMESPACE in the environment): Reloader's defaults apply (asReloader).
	AsReloader bool
	// Alerts are Reloader's alerts (ALERT_*) and --webhook-url.
	Alerts alert.Config

	// Strategy and safety: how pods are restarted, and what bounds it.
	Strategy string
	// OverrideStrategies lists, comma-separated, the strategies an object's strategy
	// annotation may choose instead of Strategy.
	OverrideStrategies string
	DeleteUnownedPods  bool
	MaxUnavailable     int
	ReadyTimeout       time.Duration
	EvictTimeout       time.Duration
	Debounce           time.Duration
	RateLimit          int
	DryRun             bool
	ShutdownTimeout    time.Duration
	// PodCache keeps the pods in scope known (internal/podcache), so that a restart
	// needs no pod LIST.
	PodCache bool

	// State and election: what survives a restart of cuscon, and who acts.
	State          string
	LeaderElect    bool
	LeaseName      string
	LeaseNamespace string
	Identity       string
	LeaseDuration  time.Duration
	RenewDeadline  time.Duration
	RetryPeriod    time.Duration
	// PodNamespace is cuscon's own namespace: with Identity, its own pod, and the
	// workload that runs it, are never restarted.
	PodNamespace string
	// DigestKeySecret names the Secret, in cuscon's own namespace, that holds the key of
	// the Reloader mode's Secret digests.
	DigestKeySecret string

	Connection kube.Connection
	Telemetry  telemetry.Options
	Events     bool

	// tuning shortens waits; only tests set it.
	tuning tuning
}

// tuning is the waits a user never sets and tests shorten; each zero value is the
// default of the part it goes to.
type tuning struct {
	backoff      backoff.Policy    // retries of requests, and rounds of owed pods
	watch        kube.WatchOptions // retries of watches, and the idle timeout
	pollInterval time.Duration     // readiness checks while pacing
	readyGrace   time.Duration     // how long /readyz tolerates a disconnected watch
}

// errVersion asks main to print the version and exit.
var errVersion = errors.New("version requested")

// controllerUsage is the first lines of `cuscon --help`.
const controllerUsage = `Usage:
  cuscon [flags]                 run the controller (the default command)
  cuscon plan [flags]            say what a change of each object would restart; change nothing
  cuscon sync [flags] ...        unpack one ConfigMap into files in the app's pod, and reload it
  cuscon version                 print the version
  cuscon help [COMMAND]          print a command's help

The controller restarts the pods that a ConfigMap's annotation magalix.com/podDeleteMatch
selects (e.g. "app=frontend") when, and only when, that ConfigMap's content changes, so
that apps which read their configuration once at start pick up the new one. It talks to
the API through the kubectl proxy sidecar on 127.0.0.1:8001. With --reloader-annotations
(or started as stakater/Reloader's chart starts Reloader), it also restarts the workloads
that opted in with Reloader's annotations, as Reloader would (docs/reloader.md).`

// parseConfig reads the controller's flags from args; each flag's default comes from
// its environment twin (read with getenv) when that is set. Help goes to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	var showVersion bool
	s := controllerFlags(&c, &showVersion, getenv, out)
	if err := s.Parse(args); err != nil {
		return c, err
	}
	return c.complete(s, showVersion, getenv)
}

// controllerFlags defines the controller's flags into c, grouped as --help lists them.
func controllerFlags(c *config, showVersion *bool, getenv func(string) string, out io.Writer) *envflag.Set {
	s := envflag.New("cuscon", controllerUsage, out, getenv)
	defineDecisionFlags(s, c)
	s.Group("Strategy and safety")
	s.Int(&c.MaxUnavailable, "max-unavailable", "CUSCON_MAX_UNAVAILABLE", 0, "delete/evict this many pods at a time, waiting for replacements to be Ready in between (0: all at once)")
	s.Duration(&c.ReadyTimeout, "ready-timeout", "CUSCON_READY_TIMEOUT", 5*time.Minute, "with --max-unavailable, how long to wait for replacements before stopping")
	s.Duration(&c.EvictTimeout, "evict-timeout", "CUSCON_EVICT_TIMEOUT", 5*time.Minute, "how long to keep retrying evictions a PodDisruptionBudget blocks")
	s.Duration(&c.Debounce, "debounce", "CUSCON_DEBOUNCE", 2*time.Second, "changes within this long after a restart of the same pods wait for its end and run together")
	s.Int(&c.RateLimit, "rate-limit", "CUSCON_RATE_LIMIT", 120, "at most this many restart actions (pods, workloads) a minute (0: no limit)")
	s.Bool(&c.DryRun, "dry-run", "CUSCON_DRY_RUN", false, "decide and log everything, send every write with dryRun=All, change nothing")
	s.Bool(&c.PodCache, "pod-cache", "CUSCON_POD_CACHE", true, "know the pods in scope from a metadata-only watch (needs watch on pods), so that a restart sends its DELETEs without listing the pods first; without the right, pods are listed as before")
	s.Duration(&c.ShutdownTimeout, "shutdown-timeout", "CUSCON_SHUTDOWN_TIMEOUT", 10*time.Second, "on SIGTERM, how long requests under way may finish")
	s.Group("State and election")
	s.String(&c.State, "state", "CUSCON_STATE", "annotation", "where the last applied content hash is kept: annotation (on the object, survives restarts) or memory")
	s.Bool(&c.LeaderElect, "leader-elect", "CUSCON_LEADER_ELECT", false, "elect one acting replica through a Lease; the others watch and wait")
	s.String(&c.LeaseName, "lease-name", "CUSCON_LEASE_NAME", "cuscon", "the Lease of the election")
	s.String(&c.LeaseNamespace, "lease-namespace", "CUSCON_LEASE_NAMESPACE", "", "the Lease's namespace (default: --namespace)")
	s.String(&c.Identity, "identity", "POD_NAME", hostname(), "this replica's name in the election, and its pod's name: cuscon never restarts that pod nor the workload that runs it")
	s.String(&c.PodNamespace, "pod-namespace", "POD_NAMESPACE", "", "cuscon's own namespace (default: its ServiceAccount's, if mounted)")
	s.Duration(&c.LeaseDuration, "lease-duration", "CUSCON_LEASE_DURATION", 15*time.Second, "how long the others wait after the leader's last renewal")
	s.Duration(&c.RenewDeadline, "renew-deadline", "CUSCON_RENEW_DEADLINE", 10*time.Second, "how long the leader keeps failing to renew before it stops acting")
	s.Duration(&c.RetryPeriod, "retry-period", "CUSCON_RETRY_PERIOD", 2*time.Second, "how often the Lease is tried and renewed")
	s.String(&c.DigestKeySecret, "digest-key-secret", "CUSCON_DIGEST_KEY_SECRET", "cuscon-digest-key", "with --reloader-annotations and --secrets: the Secret, in cuscon's own namespace, holding the key its Secret digests are made with (created if missing)")
	s.Group("Reloader's flags, with its names and defaults (the Reloader mode)")
	c.Reloader.DefineRunFlags(s)
	s.Group("API access")
	c.Connection.DefineFlags(s)
	s.Group("Observability")
	c.Telemetry.DefineFlags(s)
	s.Bool(&c.Events, "events", "CUSCON_EVENTS", true, "report restarts and refusals as Kubernetes Events")
	s.Bool(showVersion, "version", "", false, "print the version and exit")
	return s
}

// complete applies what the flags imply (Reloader's defaults when started as its chart
// starts it) and refuses what cannot work.
func (c config) complete(s *envflag.Set, showVersion bool, getenv func(string) string) (config, error) {
	c.AsReloader = getenv("RELOADER_NAMESPACE") != "" || getenv("RELOADER_DEPLOYMENT_NAME") != ""
	if c.AsReloader {
		c.asReloader(s, getenv)
	}
	if c.Reloader.EnableHA {
		c.LeaderElect = true
	}
	c.Alerts = alert.FromEnv(getenv)
	c.Alerts.WebhookURL = c.Reloader.WebhookURL
	switch {
	case showVersion:
		return c, errVersion
	case c.ReloaderAnnotations && c.State != "annotation":
		return c, errors.New("--reloader-annotations needs --state=annotation: what a workload was restarted for is recorded on it")
	case c.State != "annotation" && c.State != "memory":
		return c, fmt.Errorf("--state %q: want annotation or memory", c.State)
	case c.MaxUnavailable < 0 || c.RateLimit < 0:
		return c, errors.New("--max-unavailable and --rate-limit must not be negative")
	case c.LeaderElect && c.State != "annotation":
		return c, errors.New("--leader-elect needs --state=annotation: a new leader learns what was applied from the objects")
	case c.LeaderElect && !(c.RetryPeriod < c.RenewDeadline && c.RenewDeadline < c.LeaseDuration):
		return c, errors.New("--leader-elect needs --retry-period < --renew-deadline < --lease-duration")
	case c.LeaderElect && c.LeaseDuration%time.Second != 0:
		return c, errors.New("--lease-duration must be whole seconds: the Lease records seconds")
	}
	if err := c.checkDecisions(); err != nil {
		return c, err
	}
	if err := c.Alerts.Validate(); c.ReloaderAnnotations && err != nil {
		return c, err
	}
	if c.LeaseNamespace == "" {
		c.LeaseNamespace = c.Namespace
	}
	if c.PodNamespace == "" {
		c.PodNamespace = kube.ServiceAccountNamespace(c.Connection.ServiceAccountDir)
	}
	return c, nil
}

// defineDecisionFlags defines the flags that decide what cuscon acts on and how:
// `cuscon plan` honours them too, so that it shows what the controller so told would do.
func defineDecisionFlags(s *envflag.Set, c *config) {
	s.Group("Scope")
	s.String(&c.Namespace, "namespace", "res_namespace", "default", "the namespace in scope: its ConfigMaps (and Secrets), its pods and workloads")
	s.String(&c.Namespaces, "namespaces", "CUSCON_NAMESPACES", "", "comma-separated namespaces in scope instead of --namespace")
	s.Bool(&c.AllNamespaces, "all-namespaces", "CUSCON_ALL_NAMESPACES", false, "every namespace in scope")
	s.String(&c.WatchSelector, "watch-selector", "CUSCON_WATCH_SELECTOR", "", "label selector the ConfigMaps and Secrets must match (filtered by the API server)")
	s.Bool(&c.Secrets, "secrets", "CUSCON_SECRETS", false, "Secrets carrying the annotation count too")
	s.String(&c.Annotation, "annotation", "CUSCON_ANNOTATION", "magalix.com/podDeleteMatch", "the annotation holding the pod label selector")
	s.Bool(&c.ReloaderAnnotations, "reloader-annotations", "CUSCON_RELOADER_ANNOTATIONS", false, "Deployments, StatefulSets and DaemonSets that opted in with stakater/Reloader's annotations count too")
	s.Group("Strategy and safety")
	s.String(&c.Strategy, "strategy", "CUSCON_STRATEGY", "delete", "how pods are restarted: delete, evict (honours PodDisruptionBudgets) or rollout (the workload's rolling update)")
	s.String(&c.OverrideStrategies, "override-strategies", "CUSCON_OVERRIDE_STRATEGIES", "delete,evict", "the strategies the annotation "+restart.StrategyAnnotation+" on an object may choose instead of --strategy (comma-separated; empty: none); rollout restarts whole workloads, beyond the selected pods")
	s.Bool(&c.DeleteUnownedPods, "delete-unowned-pods", "CUSCON_DELETE_UNOWNED_PODS", false, "matching pods that no controller owns (nothing would recreate them) count too")
	s.Group("Waves (the Reloader mode) and maintenance windows")
	s.Duration(&c.WaveTimeout, "wave-timeout", "CUSCON_WAVE_TIMEOUT", 10*time.Minute, "how long a wave may take to be healthy again before the later waves are held (annotation "+waves.TimeoutAnnotation+")")
	s.String(&c.MaintenanceWindow, "maintenance-window", "CUSCON_MAINTENANCE_WINDOW", "", `when the pods of an object, and the workloads, that name no window may be restarted, e.g. "Mon-Fri 22:00-06:00 Europe/Berlin" (annotation `+waves.WindowAnnotation+" on the object or workload); empty: at any time")
	s.Group("Reloader's flags, with its names and defaults (the Reloader mode)")
	c.Reloader.DefineFlags(s)
}

// checkDecisions refuses what decides behaviour and cannot work: an unknown strategy,
// an empty annotation or namespace. The controller and `cuscon plan` both ask it.
func (c config) checkDecisions() error {
	for _, s := range c.overrides() {
		if !restart.ValidStrategy(s) {
			return fmt.Errorf("--override-strategies %q: want a comma-separated list of delete, evict and rollout", c.OverrideStrategies)
		}
	}
	switch {
	case !restart.ValidStrategy(c.Strategy):
		return fmt.Errorf("--strategy %q: want delete, evict or rollout", c.Strategy)
	case c.Annotation == "" || c.Namespace == "":
		return errors.New("--annotation and --namespace must not be empty")
	case len(c.scopes()) == 0:
		return errors.New("--resources-to-ignore=configmaps without --secrets: nothing would be watched")
	case c.WaveTimeout <= 0:
		return fmt.Errorf("--wave-timeout %s: want a positive duration", c.WaveTimeout)
	}
	if _, err := window.Parse(c.MaintenanceWindow); err != nil {
		return fmt.Errorf("--maintenance-window: %w", err)
	}
	return c.Reloader.Validate()
}

// watchSelector is the label selector of every watch: --watch-selector and
// --resource-label-selector, both.
func (c config) watchSelector() string {
	return strings.Trim(c.WatchSelector+","+reloader.Selector(c.Reloader.ResourceLabelSelector), ",")
}

// ownNamespace is where cuscon keeps what is its own (the digest key): its pod's
// namespace, else the Lease's.
func (c config) ownNamespace() string { return cmp.Or(c.PodNamespace, c.LeaseNamespace) }

// overrides lists the strategies of --override-strategies.
func (c config) overrides() []string { return splitList(c.OverrideStrategies) }

// policy is the part of c that decisions depend on.
func (c config) policy() policy {
	return policy{strategy: c.Strategy, overrides: c.overrides(), recordState: c.State == "annotation", window: c.MaintenanceWindow}
}

// hostname is this machine's name, the default identity in leader election.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "cuscon"
	}
	return h
}
