// modes.go wires the Reloader mode into the controller: the mode and what it is told
// (Reloader's flags, its alerts and webhook, the namespaces a selector selects), the
// digest key of Secrets it reads or makes, the notes it logs at start, and Reloader's
// defaults when cuscon was started as Reloader's chart starts Reloader.

package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"cuscon/internal/alert"
	"cuscon/internal/backoff"
	"cuscon/internal/envflag"
	"cuscon/internal/kube"
	"cuscon/internal/reloader"
)

// buildReloaderMode builds the Reloader mode (--reloader-annotations) into a: the mode,
// its alerts and webhook, the watch of the namespaces --namespace-selector selects, and
// the reading of the digest key of Secrets.
func (a *app) buildReloaderMode(cfg config, pods *pods, leading func() bool, log *slog.Logger) {
	m := a.metrics
	var notify reloader.Notifier
	if cfg.Alerts.OnReload || cfg.Alerts.WebhookURL != "" {
		a.alerts = alert.New(cfg.Alerts, nil, log, func(what, result string) { m.Alerts.Inc("kind", what, "result", result) })
		notify = notifier{a.alerts}
	}
	a.mode = reloader.New(a.client, reloader.Config{Scopes: cfg.scopes(), Overrides: cfg.overrides(), DryRun: cfg.DryRun,
		Retry: cfg.tuning.backoff, Options: cfg.Reloader, LabelSelector: cfg.watchSelector(), Notify: notify,
		WaveTimeout: cfg.WaveTimeout, Window: cfg.MaintenanceWindow},
		a.sched, pods.Guard, leading, a.events, m, log)
	if sel, ok := a.mode.NamespaceSelector(); ok {
		opts := cfg.tuning.watch
		opts.LabelSelector = sel
		a.namespaces = kube.NewWatcher(a.client, kube.Scope{Resource: kube.Namespaces}, opts, reloader.SummarizeNamespace,
			kube.Handler[string](a.mode.Namespaces()), log, m, a.health)
	}
	if cfg.Secrets {
		a.readKey = func(ctx context.Context) bool { return a.readDigestKey(ctx, cfg, log) }
		a.retryKey = func(ctx context.Context) { a.retryDigestKey(ctx, cfg, log) }
	}
}

// readDigestKey reads (or makes) the Reloader mode's digest key of Secrets and gives it
// to the mode; it reports whether it could.
func (a *app) readDigestKey(ctx context.Context, cfg config, log *slog.Logger) bool {
	key, err := reloader.LoadKey(ctx, a.client, cfg.ownNamespace(), cfg.DigestKeySecret, cfg.DryRun)
	if err == nil {
		a.mode.SetKey(key)
		return true
	}
	if errors.Is(err, reloader.ErrUncreatable) {
		if a.mode.HasKey() { // the key of this process is in use; said once
			log.Debug("The digest key Secret still cannot be created", "err", err)
			return false
		}
		// No record can have been made with a key that never existed: a key of this
		// process compares Secrets at once, unguessable as ever, and records made with
		// it are recorded anew once the real one can be made.
		ephemeral := make([]byte, 32)
		if _, rerr := rand.Read(ephemeral); rerr == nil {
			a.mode.SetKey(ephemeral)
			log.Warn("Secrets are digested with a key of this process until the digest key Secret exists (create it, or grant create on secrets): a Secret changed while cuscon is down is not caught up",
				"err", err)
			return false
		}
	}
	level := slog.LevelWarn
	if errors.Is(err, reloader.ErrKey) || !kube.IsTransient(err) {
		level = slog.LevelError
	}
	log.Log(ctx, level, "Could not read the digest key; Secrets are not compared for workloads until it can be read, retrying", "err", err)
	return false
}

// retryDigestKey tries to read the digest key until it can, then has the Secrets listed
// again for their digests to be made. Until then the mode keeps the records of Secrets
// as they are and compares none: nothing is restarted for a Secret, and nothing is lost;
// ConfigMaps, and the annotation's Secrets, go on as ever.
func (a *app) retryDigestKey(ctx context.Context, cfg config, log *slog.Logger) {
	bo := cmp.Or(cfg.tuning.backoff, backoff.Policy{Initial: time.Second, Max: time.Minute}).Start()
	for bo.Wait(ctx) {
		if a.readDigestKey(ctx, cfg, log) {
			for _, w := range a.watchers {
				if w.Scope().Resource == kube.Secrets {
					w.Resync()
				}
			}
			return
		}
	}
}

// notifier tells Reloader's alerts and webhook what the mode reports.
type notifier struct{ s *alert.Sender }

func (n notifier) Reloaded(objectType, object, namespace, kind, workload string) {
	n.s.Reloaded(alert.Reload{ObjectType: objectType, Object: object, Namespace: namespace, WorkloadKind: kind, Workload: workload})
}

func (n notifier) Changed(objectType, object, namespace string) {
	n.s.Changed(objectType, object, namespace)
}

// reloaderNotes logs how the Reloader mode was told to run, and what of Reloader's
// flags means nothing here, as Reloader warns of it.
func reloaderNotes(cfg config, log *slog.Logger) {
	o := cfg.Reloader
	log.Info("Reloader mode", "asReloader", cfg.AsReloader, "reloadStrategy", o.Strategy, "allNamespaces", cfg.AllNamespaces,
		"secrets", cfg.Secrets, "argoRollouts", o.ArgoRollouts == "true", "reloadOnCreate", o.ReloadOnCreate == "true",
		"reloadOnDelete", o.ReloadOnDelete == "true", "autoReloadAll", o.AutoReloadAll, "alerts", cfg.Alerts.OnReload)
	if !cfg.AllNamespaces && (len(o.NamespacesToIgnore) > 0 || len(o.NamespaceSelector) > 0) {
		log.Warn("--namespaces-to-ignore and --namespace-selector apply only when every namespace is watched; ignored")
	}
	if o.EnableCSI {
		log.Warn("--enable-csi-integration: SecretProviderClasses are not supported; ignored")
	}
	if o.WebhookURL != "" {
		log.Warn("--webhook-url is set: nothing is restarted; each change is posted to the webhook instead")
	}
}

// asReloader applies Reloader's defaults where no flag (or twin) said otherwise: the
// Reloader mode on, Secrets watched (unless --resources-to-ignore=secrets), every
// namespace (or --namespaces, or KUBERNETES_NAMESPACE), metrics and probes on :9090
// (Reloader's /metrics and /live), the API server found in the pod, and
// --enable-ha's Lease named as Reloader names it, in cuscon's own namespace.
func (c *config) asReloader(s *envflag.Set, getenv func(string) string) {
	if !s.IsSet("reloader-annotations") {
		c.ReloaderAnnotations = true
	}
	if !s.IsSet("secrets") {
		c.Secrets = true
	}
	if !s.IsSet("namespace") && !s.IsSet("namespaces") && !s.IsSet("all-namespaces") {
		if ns := getenv("KUBERNETES_NAMESPACE"); ns != "" {
			c.Namespace = ns
		} else {
			c.AllNamespaces = true
		}
	}
	if !s.IsSet("listen-address") {
		c.Telemetry.ListenAddress = ":9090"
	}
	if !s.IsSet("api-url") && !s.IsSet("in-cluster") && getenv("KUBERNETES_SERVICE_HOST") != "" {
		c.Connection.InCluster = true
	}
	if !s.IsSet("lease-name") {
		c.LeaseName = "stakater-reloader-lock"
	}
	if !s.IsSet("pod-cache") { // Reloader's chart grants nothing on pods: watching them would only be refused
		c.PodCache = false
	}
	if !s.IsSet("lease-namespace") {
		c.LeaseNamespace = cmp.Or(c.PodNamespace, kube.ServiceAccountNamespace(c.Connection.ServiceAccountDir), getenv("RELOADER_NAMESPACE"))
	}
}
