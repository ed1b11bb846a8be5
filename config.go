// config.go reads the configuration of both modes, the controller's and `cuscon sync`'s,
// from flags and their environment twins (flags.go), validated before anything starts.

package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// commonConfig is what the controller and `cuscon sync` are both told: how to reach the
// API, where to serve health and metrics, how to log.
type commonConfig struct {
	APIURL            string
	InCluster         bool
	ServiceAccountDir string
	ListenAddress     string
	LogFormat         string
	LogLevel          string
}

// config is everything cuscon can be told.
type config struct {
	commonConfig
	Namespace     string
	Namespaces    string
	AllNamespaces bool
	WatchSelector string
	Secrets       bool
	Annotation    string
	State         string
	Strategy      string
	// OverrideStrategies lists, comma-separated, the strategies an object's strategy
	// annotation may choose instead of Strategy.
	OverrideStrategies string
	MaxUnavailable     int
	ReadyTimeout       time.Duration
	EvictTimeout       time.Duration
	Debounce           time.Duration
	RateLimit          int
	DryRun             bool
	Events             bool
	DeleteUnownedPods  bool
	ShutdownTimeout    time.Duration
	LeaderElect        bool
	LeaseName          string
	LeaseNamespace     string
	Identity           string
	LeaseDuration      time.Duration
	RenewDeadline      time.Duration
	RetryPeriod        time.Duration
	// DigestKeySecret names the Secret, in cuscon's own namespace, that holds the key of
	// the Reloader mode's Secret digests.
	DigestKeySecret string
	// PodNamespace is cuscon's own namespace: with Identity, its own pod, and the
	// workload that runs it, are never restarted.
	PodNamespace string
	// ReloaderAnnotations honours stakater/Reloader's annotations on workloads too.
	ReloaderAnnotations bool
}

// errVersion asks main to print the version and exit.
var errVersion = errors.New("version requested")

// parseConfig reads flags from args; each flag's default comes from its environment
// twin (read with getenv) when that is set. Help goes to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	e := newEnvFlags("cuscon", "Usage: cuscon [flags]\n\nRestarts the pods a ConfigMap's annotation selects when its content changes.", out, getenv)
	fs := e.fs
	e.common(&c.commonConfig)
	e.decisionFlags(&c)
	e.str(&c.State, "state", "CUSCON_STATE", "annotation", "where the last applied content hash is kept: annotation (on the object, survives restarts) or memory")
	e.integer(&c.MaxUnavailable, "max-unavailable", "CUSCON_MAX_UNAVAILABLE", 0, "delete/evict this many pods at a time, waiting for replacements to be Ready in between (0: all at once)")
	e.duration(&c.ReadyTimeout, "ready-timeout", "CUSCON_READY_TIMEOUT", 5*time.Minute, "with --max-unavailable, how long to wait for replacements before stopping")
	e.duration(&c.EvictTimeout, "evict-timeout", "CUSCON_EVICT_TIMEOUT", 5*time.Minute, "how long to keep retrying evictions a PodDisruptionBudget blocks")
	e.duration(&c.Debounce, "debounce", "CUSCON_DEBOUNCE", 2*time.Second, "changes within this long after a restart wait for its end and run together")
	e.integer(&c.RateLimit, "rate-limit", "CUSCON_RATE_LIMIT", 120, "at most this many restart actions (pods, workloads) a minute (0: no limit)")
	e.boolean(&c.DryRun, "dry-run", "CUSCON_DRY_RUN", false, "decide and log everything, send every write with dryRun=All, change nothing")
	e.boolean(&c.Events, "events", "CUSCON_EVENTS", true, "report restarts and refusals as Kubernetes Events")
	e.duration(&c.ShutdownTimeout, "shutdown-timeout", "CUSCON_SHUTDOWN_TIMEOUT", 10*time.Second, "on SIGTERM, how long requests under way may finish")
	e.boolean(&c.LeaderElect, "leader-elect", "CUSCON_LEADER_ELECT", false, "elect one acting replica through a Lease; the others watch and wait")
	e.str(&c.LeaseName, "lease-name", "CUSCON_LEASE_NAME", "cuscon", "the Lease of the election")
	e.str(&c.LeaseNamespace, "lease-namespace", "CUSCON_LEASE_NAMESPACE", "", "the Lease's namespace (default: --namespace)")
	e.str(&c.Identity, "identity", "POD_NAME", hostname(), "this replica's name in the election, and its pod's name: cuscon never restarts that pod nor the workload that runs it")
	e.str(&c.DigestKeySecret, "digest-key-secret", "CUSCON_DIGEST_KEY_SECRET", "cuscon-digest-key", "with --reloader-annotations and --secrets: the Secret, in cuscon's own namespace, holding the key its Secret digests are made with (created if missing; needs get and create on it)")
	e.str(&c.PodNamespace, "pod-namespace", "POD_NAMESPACE", "", "cuscon's own namespace (default: its ServiceAccount's, if mounted)")
	e.duration(&c.LeaseDuration, "lease-duration", "CUSCON_LEASE_DURATION", 15*time.Second, "how long the others wait after the leader's last renewal")
	e.duration(&c.RenewDeadline, "renew-deadline", "CUSCON_RENEW_DEADLINE", 10*time.Second, "how long the leader keeps failing to renew before it stops acting")
	e.duration(&c.RetryPeriod, "retry-period", "CUSCON_RETRY_PERIOD", 2*time.Second, "how often the Lease is tried and renewed")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.ReloaderAnnotations && c.State != "annotation":
		return c, errors.New("--reloader-annotations needs --state=annotation: what a workload was restarted for is recorded on it")
	case *showVersion:
		return c, errVersion
	case e.err != nil:
		return c, e.err
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
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
	if c.LeaseNamespace == "" {
		c.LeaseNamespace = c.Namespace
	}
	if c.PodNamespace == "" {
		c.PodNamespace = serviceAccountNamespace(c.ServiceAccountDir)
	}
	return c, nil
}

// serviceAccountNamespace is the namespace the kubelet mounts beside the ServiceAccount
// token (every container of a pod that mounts the token has it), or "".
func serviceAccountNamespace(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// checkDecisions refuses what decides behaviour and cannot work: an unknown strategy,
// an empty annotation or namespace. The controller and `cuscon plan` both ask it.
func (c config) checkDecisions() error {
	switch {
	case !validStrategy(c.Strategy):
		return fmt.Errorf("--strategy %q: want delete, evict or rollout", c.Strategy)
	case slices.ContainsFunc(c.overrides(), func(s string) bool { return !validStrategy(s) }):
		return fmt.Errorf("--override-strategies %q: want a comma-separated list of delete, evict and rollout", c.OverrideStrategies)
	case c.Annotation == "" || c.Namespace == "":
		return errors.New("--annotation and --namespace must not be empty")
	}
	return nil
}

// decisionFlags defines the flags that decide what cuscon acts on and how: `cuscon plan`
// honours them too, so that it shows what the controller so told would do.
func (e *envFlags) decisionFlags(c *config) {
	e.str(&c.Namespace, "namespace", "res_namespace", "default", "namespace whose ConfigMaps and pods are handled")
	e.str(&c.Namespaces, "namespaces", "CUSCON_NAMESPACES", "", "comma-separated namespaces to handle instead of --namespace")
	e.boolean(&c.AllNamespaces, "all-namespaces", "CUSCON_ALL_NAMESPACES", false, "handle every namespace (needs a ClusterRole)")
	e.str(&c.WatchSelector, "watch-selector", "CUSCON_WATCH_SELECTOR", "", "label selector the watched ConfigMaps and Secrets must match (filtered by the server)")
	e.boolean(&c.Secrets, "secrets", "CUSCON_SECRETS", false, "also watch Secrets carrying the annotation (needs list, watch, patch on secrets)")
	e.str(&c.Annotation, "annotation", "CUSCON_ANNOTATION", "magalix.com/podDeleteMatch", "annotation holding the pod label selector")
	e.str(&c.Strategy, "strategy", "CUSCON_STRATEGY", "delete", "how pods are restarted: delete, evict (honours PodDisruptionBudgets) or rollout (the workload's rolling update); the annotation "+strategyAnnotation+" overrides it per object")
	e.str(&c.OverrideStrategies, "override-strategies", "CUSCON_OVERRIDE_STRATEGIES", "delete,evict", "the strategies the annotation "+strategyAnnotation+" may choose instead of --strategy (comma-separated; empty: none). rollout restarts whole workloads, beyond the selected pods: allow it only if whoever may annotate a ConfigMap may do that")
	e.boolean(&c.DeleteUnownedPods, "delete-unowned-pods", "CUSCON_DELETE_UNOWNED_PODS", false, "also delete matching pods that no controller owns and nothing will recreate")
	e.boolean(&c.ReloaderAnnotations, "reloader-annotations", "CUSCON_RELOADER_ANNOTATIONS", false, "also restart Deployments, StatefulSets and DaemonSets that opted in with stakater/Reloader's annotations (needs list, patch on them)")
}

// ownNamespace is where cuscon keeps what is its own (the digest key): its pod's
// namespace, else the Lease's.
func (c config) ownNamespace() string { return cmp.Or(c.PodNamespace, c.LeaseNamespace) }

// overrides lists the strategies of --override-strategies.
func (c config) overrides() []string { return splitList(c.OverrideStrategies) }

// splitList splits a comma-separated list, dropping blanks and repeats.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

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
	e := newEnvFlags("cuscon sync", "Usage: cuscon sync --configmap [NAMESPACE/]NAME --dir DIR (--reload-url URL | -- COMMAND ARGS...)\n\nWrites a ConfigMap's keys as files into DIR and tells the app to reload when its content changes.", out, getenv)
	fs := e.fs
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
		namespaces = splitList(c.Namespaces)
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
