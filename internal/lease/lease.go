// Package lease elects one acting replica through a coordination.k8s.io/v1 Lease, over
// raw HTTP, the way client-go's leader election does: the holder renews the Lease every
// retry period; the others take it over once it has not changed for its duration, as
// judged by their own clock; the holder releases it on shutdown. A leader acts only
// until the renew deadline after its last successful renewal began, judged by the clock
// and not by a loop that a hung request could stall, so it stops acting before anyone
// can take the Lease over. It decides nothing about restarts.
package lease

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/telemetry"
)

// microTime is the Lease's time format.
const microTime = "2006-01-02T15:04:05.000000Z07:00"

// lease is a coordination.k8s.io/v1 Lease.
type lease struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Metadata   leaseMeta `json:"metadata"`
	Spec       leaseSpec `json:"spec"`
}

// leaseMeta is the Lease's metadata; resourceVersion makes a PUT conditional.
type leaseMeta struct {
	Name            string `json:"name"`
	Namespace       string `json:"namespace"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// leaseSpec is who holds the Lease and since when.
type leaseSpec struct {
	HolderIdentity       string `json:"holderIdentity"`
	LeaseDurationSeconds int    `json:"leaseDurationSeconds"`
	AcquireTime          string `json:"acquireTime,omitempty"`
	RenewTime            string `json:"renewTime,omitempty"`
	LeaseTransitions     int    `json:"leaseTransitions"`
}

// Config is what an Elector is told: the Lease, this replica's name in it, and
// client-go's timings.
type Config struct {
	Namespace, Name string
	Identity        string
	// LeaseDuration is how long others wait after the last renewal before taking over;
	// RenewDeadline is how long the leader keeps trying to renew before it steps down;
	// RetryPeriod is how often everyone tries.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Elector takes part in the election for one Lease.
type Elector struct {
	client   *kube.Client
	log      *slog.Logger
	metrics  *telemetry.Metrics
	ns, name string
	identity string
	// leaseDuration is how long others wait after the last renewal before taking over;
	// renewDeadline is how long the leader keeps trying to renew before it steps down;
	// retryPeriod is how often everyone tries.
	leaseDuration, renewDeadline, retryPeriod time.Duration
	// onStartedLeading runs each time this replica becomes the leader.
	onStartedLeading func()

	// holding: this replica has won the Lease and not yet lost or released it.
	holding atomic.Bool
	// until is when acting must stop, in Unix nanoseconds: the renew deadline after the
	// start of the last successful renewal. 0 while not holding.
	until      atomic.Int64
	observed   leaseSpec // the record as last seen
	observedAt time.Time // when it was last seen to change, on our clock
	lastErr    string    // the last refusal warned of (the campaign's goroutine only)
}

// New returns an elector for cfg; onStartedLeading runs each time this replica becomes
// the leader (a new term: what it knew as a follower is stale).
func New(c *kube.Client, cfg Config, onStartedLeading func(), log *slog.Logger, m *telemetry.Metrics) *Elector {
	return &Elector{client: c, log: log, metrics: m, ns: cfg.Namespace, name: cfg.Name, identity: cfg.Identity,
		leaseDuration: cfg.LeaseDuration, renewDeadline: cfg.RenewDeadline, retryPeriod: cfg.RetryPeriod,
		onStartedLeading: onStartedLeading}
}

// ActingUntil is when this replica must stop acting; a time in the past when it does not
// hold the Lease.
func (e *Elector) ActingUntil() time.Time { return time.Unix(0, e.until.Load()) }

// IsLeader reports whether this replica may act now.
func (e *Elector) IsLeader() bool { return time.Now().Before(e.ActingUntil()) }

// path is the Lease's URL; with name "" the collection's.
func (e *Elector) path(name string) string { return kube.LeasePath(e.ns, name) }

// Campaign takes part until ctx ends. Each attempt is bounded by the renew deadline, and
// whether leadership lapsed is judged after the attempt returns. It does not release the
// Lease: the caller does, with Release, once the restart under way has finished.
func (e *Elector) Campaign(ctx context.Context) {
	e.metrics.Leader.Set(0)
	e.log.Info("Waiting to become the leader", "lease", e.ns+"/"+e.name, "identity", e.identity)
	for {
		began := time.Now()
		attempt, cancel := context.WithTimeout(ctx, e.renewDeadline)
		ok := e.tryAcquireOrRenew(attempt, began)
		cancel()
		switch {
		case ok:
			lapsed := !e.IsLeader() // acting stopped before this renewal came back: a new term
			e.until.Store(began.Add(e.renewDeadline).UnixNano())
			if !e.holding.Swap(true) || lapsed {
				e.metrics.Leader.Set(1)
				e.log.Info("Became the leader", "lease", e.ns+"/"+e.name, "identity", e.identity)
				if e.onStartedLeading != nil {
					e.onStartedLeading()
				}
			}
		case e.holding.Load() && !e.IsLeader():
			e.holding.Store(false)
			e.metrics.Leader.Set(0)
			e.log.Error("Lost the lease: could not renew it in time; no longer acting", "lease", e.ns+"/"+e.name, "renewDeadline", e.renewDeadline.String())
		}
		jitter := time.Duration(rand.Float64() * 0.2 * float64(e.retryPeriod))
		if !backoff.Sleep(ctx, e.retryPeriod+jitter) {
			return
		}
	}
}

// failed logs a failed step of the election: a conflict or a server's passing trouble at
// debug level, a refusal that will last (no rights on the Lease) as a warning, once per
// distinct error, for it would otherwise leave cuscon waiting without a word.
func (e *Elector) failed(msg string, err error) {
	if kube.Code(err) == http.StatusConflict || kube.IsTransient(err) {
		e.log.Debug(msg, "err", err)
		return
	}
	repeated := e.lastErr == err.Error()
	e.lastErr = err.Error()
	if !repeated {
		e.log.Warn(msg+"; retrying (grant get, update and create on this Lease)", "lease", e.ns+"/"+e.name, "err", err)
	}
}

// tryAcquireOrRenew reads the Lease and takes it if it is free, expired or ours. It
// reports whether this replica holds it afterwards.
func (e *Elector) tryAcquireOrRenew(ctx context.Context, now time.Time) bool {
	var l lease
	err := e.client.Get(ctx, e.path(e.name), nil, &l)
	if kube.Code(err) == http.StatusNotFound {
		l = lease{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Metadata: leaseMeta{Name: e.name, Namespace: e.ns},
			Spec: e.mine(leaseSpec{}, now)}
		if err := e.client.Call(ctx, http.MethodPost, e.path(""), nil, "application/json", l, nil); err != nil {
			e.failed("Could not create the lease", err)
			return false
		}
		e.observe(l.Spec, now)
		return true
	}
	if err != nil {
		e.failed("Could not read the lease", err)
		return false
	}
	if l.Spec != e.observed {
		e.observe(l.Spec, now)
	}
	held := l.Spec.HolderIdentity != "" && l.Spec.HolderIdentity != e.identity
	expires := e.observedAt.Add(time.Duration(l.Spec.LeaseDurationSeconds) * time.Second)
	if held && now.Before(expires) {
		return false
	}
	l.Spec = e.mine(l.Spec, now)
	if err := e.client.Call(ctx, http.MethodPut, e.path(e.name), nil, "application/json", l, nil); err != nil {
		e.failed("Could not take or renew the lease", err) // 409: someone else wrote first
		return false
	}
	e.observe(l.Spec, now)
	return true
}

// mine returns spec held by this replica from now on.
func (e *Elector) mine(spec leaseSpec, now time.Time) leaseSpec {
	if spec.HolderIdentity != e.identity {
		spec.AcquireTime = now.UTC().Format(microTime)
		if spec.HolderIdentity != "" {
			spec.LeaseTransitions++
		}
	}
	spec.HolderIdentity = e.identity
	spec.LeaseDurationSeconds = int(e.leaseDuration / time.Second)
	spec.RenewTime = now.UTC().Format(microTime)
	return spec
}

func (e *Elector) observe(spec leaseSpec, now time.Time) {
	e.observed, e.observedAt = spec, now
}

// Release gives the Lease up, if this replica holds it, so that another replica takes
// over at once.
func (e *Elector) Release(ctx context.Context) {
	if !e.holding.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	var l lease
	if err := e.client.Get(ctx, e.path(e.name), nil, &l); err != nil || l.Spec.HolderIdentity != e.identity {
		return
	}
	l.Spec.HolderIdentity = ""
	l.Spec.LeaseDurationSeconds = 1
	l.Spec.RenewTime = time.Now().UTC().Format(microTime)
	if err := e.client.Call(ctx, http.MethodPut, e.path(e.name), nil, "application/json", l, nil); err != nil {
		e.log.Warn("Could not release the lease", "err", err)
		return
	}
	e.holding.Store(false)
	e.until.Store(0)
	e.metrics.Leader.Set(0)
	e.log.Info("Released the lease", "lease", e.ns+"/"+e.name)
}

// WhileActing returns a context that ends when parent does or when lease says this
// replica may no longer act, so that no request of a leader outlives its leadership. A
// zero time from lease means there is no election: the context ends with parent only.
func WhileActing(parent context.Context, lease func() time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	if lease().IsZero() {
		return ctx, cancel
	}
	go func() {
		for {
			d := time.Until(lease())
			if d <= 0 {
				cancel()
				return
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return ctx, cancel
}
