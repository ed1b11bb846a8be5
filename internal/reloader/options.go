// options.go reads stakater/Reloader's command-line flags, with Reloader's names,
// defaults and syntax (--flag=value or --flag value, lists as CSV, the "true" strings),
// so that cuscon started with the arguments Reloader's chart renders behaves as Reloader
// would. Validation is pure and names the flag at fault.

package reloader

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"cuscon/internal/envflag"
	"cuscon/internal/labels"
)

// The strategies of --reload-strategy: Reloader's two, and cuscon's own stamp.
const (
	StrategyEnvVars     = "env-vars"    // STAKATER_<NAME>_<TYPE> in the containers that use the object
	StrategyAnnotations = "annotations" // reloader.stakater.com/last-reloaded-from on the pod template
	StrategyRollout     = "rollout"     // kubectl.kubernetes.io/restartedAt, as `kubectl rollout restart`
)

// Keys are the annotation keys the mode reads and writes; Reloader lets each be renamed.
type Keys struct {
	Reload          [2]string // by kind: ConfigMaps, Secrets (--configmap-annotation, --secret-annotation)
	TypedAuto       [2]string // --configmap-auto-annotation, --secret-auto-annotation
	Auto            string    // --auto-annotation
	Search, Match   string    // --auto-search-annotation, --search-match-annotation
	Ignore          string    // --ignore-annotation
	PausePeriod     string    // --pause-deployment-annotation
	PausedAt        string    // --pause-deployment-time-annotation
	RolloutStrategy string    // fixed: reloader.stakater.com/rollout-strategy
}

// DefaultKeys are Reloader's.
func DefaultKeys() Keys {
	return Keys{
		Reload:          [2]string{"configmap.reloader.stakater.com/reload", "secret.reloader.stakater.com/reload"},
		TypedAuto:       [2]string{"configmap.reloader.stakater.com/auto", "secret.reloader.stakater.com/auto"},
		Auto:            "reloader.stakater.com/auto",
		Search:          "reloader.stakater.com/search",
		Match:           "reloader.stakater.com/match",
		Ignore:          "reloader.stakater.com/ignore",
		PausePeriod:     "deployment.reloader.stakater.com/pause-period",
		PausedAt:        "deployment.reloader.stakater.com/paused-at",
		RolloutStrategy: "reloader.stakater.com/rollout-strategy",
	}
}

// Options are Reloader's flags that change what the mode does.
type Options struct {
	Strategy              string
	AutoReloadAll         bool
	Keys                  Keys
	NamespacesToIgnore    []string
	NamespaceSelector     []string
	ResourceLabelSelector []string
	ResourcesToIgnore     []string
	IgnoredWorkloadTypes  []string
	// ReloadOnCreate, ReloadOnDelete and ArgoRollouts are strings, as in Reloader: only
	// "true" turns them on.
	ReloadOnCreate, ReloadOnDelete, ArgoRollouts string
	SyncAfterRestart                             bool
	WebhookURL                                   string
	EnableHA                                     bool
	EnablePprof                                  bool
	PprofAddr                                    string
	EnableCSI                                    bool
}

// DefineFlags defines Reloader's flags that decide what is restarted and how, in s,
// under the group it is in (the controller and `cuscon plan` read them).
func (o *Options) DefineFlags(s *envflag.Set) {
	d := DefaultKeys()
	o.Keys.RolloutStrategy = d.RolloutStrategy
	s.String(&o.Strategy, "reload-strategy", twin("reload-strategy"), StrategyEnvVars, "how a workload is restarted: env-vars (a STAKATER_<NAME>_<TYPE> variable holding the content's hash), annotations (reloader.stakater.com/last-reloaded-from on the pod template) or rollout (kubectl rollout restart's stamp)")
	s.Bool(&o.AutoReloadAll, "auto-reload-all", twin("auto-reload-all"), false, "workloads with no auto annotation count as auto: \"true\" (not Jobs or CronJobs)")
	s.List(&o.ResourcesToIgnore, "resources-to-ignore", twin("resources-to-ignore"), "configmaps or secrets: that kind never restarts anything")
	s.List(&o.IgnoredWorkloadTypes, "ignored-workload-types", twin("ignored-workload-types"), "jobs, cronjobs or both: never restarted")
	s.List(&o.NamespacesToIgnore, "namespaces-to-ignore", twin("namespaces-to-ignore"), "with all namespaces in scope: namespaces whose workloads are never restarted")
	s.List(&o.NamespaceSelector, "namespace-selector", twin("namespace-selector"), "with all namespaces in scope: only namespaces whose labels match (e.g. env=test; k:v and k:* as Reloader reads them)")
	s.List(&o.ResourceLabelSelector, "resource-label-selector", twin("resource-label-selector"), "only ConfigMaps and Secrets whose labels match count (filtered by the API server)")
	s.String(&o.ReloadOnCreate, "reload-on-create", twin("reload-on-create"), "false", "\"true\": a workload is restarted when an object its reload annotation names is created")
	s.String(&o.ReloadOnDelete, "reload-on-delete", twin("reload-on-delete"), "false", "\"true\": a workload is restarted when an object its reload annotation names is deleted")
	s.String(&o.ArgoRollouts, "is-Argo-Rollouts", twin("is-Argo-Rollouts"), "false", "\"true\": Argo Rollouts count too (if their CRD is installed)")
	for _, k := range []struct {
		p         *string
		name, def string
	}{
		{&o.Keys.Reload[0], "configmap-annotation", d.Reload[0]},
		{&o.Keys.Reload[1], "secret-annotation", d.Reload[1]},
		{&o.Keys.Auto, "auto-annotation", d.Auto},
		{&o.Keys.TypedAuto[0], "configmap-auto-annotation", d.TypedAuto[0]},
		{&o.Keys.TypedAuto[1], "secret-auto-annotation", d.TypedAuto[1]},
		{&o.Keys.Search, "auto-search-annotation", d.Search},
		{&o.Keys.Match, "search-match-annotation", d.Match},
		{&o.Keys.Ignore, "ignore-annotation", d.Ignore},
		{&o.Keys.PausePeriod, "pause-deployment-annotation", d.PausePeriod},
		{&o.Keys.PausedAt, "pause-deployment-time-annotation", d.PausedAt},
	} {
		s.String(k.p, k.name, twin(k.name), k.def, "the annotation key Reloader calls so")
	}
}

// DefineRunFlags defines Reloader's flags that only the controller reads (not `cuscon
// plan`): how it runs, not what it decides.
func (o *Options) DefineRunFlags(s *envflag.Set) {
	s.Bool(&o.SyncAfterRestart, "sync-after-restart", twin("sync-after-restart"), false, "accepted for Reloader's chart; cuscon always catches up on what changed while it was down, from the records on the workloads, never more")
	s.String(&o.WebhookURL, "webhook-url", twin("webhook-url"), "", "restart nothing: POST to this URL for every change instead, as Reloader does")
	s.Bool(&o.EnableHA, "enable-ha", twin("enable-ha"), false, "as --leader-elect; started as Reloader's chart starts it, with Reloader's Lease (stakater-reloader-lock) in POD_NAMESPACE")
	s.Bool(&o.EnablePprof, "enable-pprof", twin("enable-pprof"), false, "serve Go's profiles on --pprof-addr")
	s.String(&o.PprofAddr, "pprof-addr", twin("pprof-addr"), ":6060", "where --enable-pprof serves")
	s.Bool(&o.EnableCSI, "enable-csi-integration", twin("enable-csi-integration"), false, "not supported: SecretProviderClasses are not watched (a warning)")
}

// twin is the environment twin of a Reloader flag: CUSCON_ and its name (Reloader reads
// none; manifests set cuscon's flags through them).
func twin(flag string) string {
	return "CUSCON_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Validate refuses what Reloader refuses, and what cannot work: an unknown strategy,
// both kinds ignored, an unknown workload type, a selector that does not parse.
func (o Options) Validate() error {
	switch o.Strategy {
	case StrategyEnvVars, StrategyAnnotations, StrategyRollout:
	default:
		return fmt.Errorf("--reload-strategy %q: want env-vars, annotations or rollout", o.Strategy)
	}
	if len(o.ResourcesToIgnore) > 1 {
		return fmt.Errorf("--resources-to-ignore %q: one of configmaps or secrets, not both (nothing would be watched)", strings.Join(o.ResourcesToIgnore, ","))
	}
	for _, r := range o.ResourcesToIgnore {
		if r = strings.ToLower(r); r != "configmaps" && r != "secrets" {
			return fmt.Errorf("--resources-to-ignore %q: want configmaps or secrets", r)
		}
	}
	for _, t := range o.IgnoredWorkloadTypes {
		if t != "jobs" && t != "cronjobs" {
			return fmt.Errorf("--ignored-workload-types %q: want jobs, cronjobs or both", strings.Join(o.IgnoredWorkloadTypes, ","))
		}
	}
	for name, sel := range map[string][]string{"--namespace-selector": o.NamespaceSelector, "--resource-label-selector": o.ResourceLabelSelector} {
		if _, err := labels.Matches(Selector(sel), nil); err != nil {
			return fmt.Errorf("%s %q: %w", name, strings.Join(sel, ","), err)
		}
	}
	for _, k := range append([]string{o.Keys.Auto, o.Keys.Search, o.Keys.Match, o.Keys.Ignore, o.Keys.PausePeriod, o.Keys.PausedAt},
		append(o.Keys.Reload[:], o.Keys.TypedAuto[:]...)...) {
		if k == "" {
			return errors.New("the annotation keys of Reloader's flags must not be empty")
		}
	}
	return nil
}

// Selector joins the elements of a Reloader selector flag into one label selector,
// reading Reloader's older forms as it does: k:v is k=v, and k:* or k=* is "k exists".
func Selector(elems []string) string {
	var out []string
	for _, e := range elems {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			continue
		case strings.HasSuffix(e, ":*") || strings.HasSuffix(e, "=*"):
			e = e[:len(e)-2]
		case !strings.ContainsAny(e, "=!") && strings.Contains(e, ":") && !strings.Contains(e, " "):
			e = strings.Replace(e, ":", "=", 1)
		}
		out = append(out, e)
	}
	return strings.Join(out, ",")
}

// Ignores reports whether res (configmaps or secrets) is ignored.
func (o Options) Ignores(plural string) bool {
	return slices.ContainsFunc(o.ResourcesToIgnore, func(r string) bool { return strings.EqualFold(r, plural) })
}

// IgnoresKind reports whether workloads of kind are ignored (--ignored-workload-types).
func (o Options) IgnoresKind(kind string) bool {
	return slices.Contains(o.IgnoredWorkloadTypes, strings.ToLower(kind)+"s")
}
