// leader.go elects one acting replica through a coordination.k8s.io/v1 Lease, over raw
// HTTP, the way client-go's leader election does: the holder renews the Lease every
// retry period; the others take it over once it has not changed for its duration, as
// judged by their own clock; the holder releases it on shutdown. A leader acts only
// until the renew deadline after its last successful renewal began, judged by the clock
// and not by a loop that a hung request could stall, so it stops acting before anyone
// can take the Lease over.

package main

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
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

// elector takes part in the election for one Lease.
type elector struct {
	api      *apiClient
	log      *slog.Logger
	metrics  *metrics
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
}

// actingUntil is when this replica must stop acting; a time in the past when it does not
// hold the Lease.
func (e *elector) actingUntil() time.Time { return time.Unix(0, e.until.Load()) }

// isLeader reports whether this replica may act now.
func (e *elector) isLeader() bool { return time.Now().Before(e.actingUntil()) }

// path is the Lease's URL; with name "" the collection's.
func (e *elector) path(name string) string { return leasePath(e.ns, name) }

// run takes part until ctx ends. Each attempt is bounded by the renew deadline, and
// whether leadership lapsed is judged after the attempt returns. It does not release the
// Lease: the caller does, with release, once the restart under way has finished.
func (e *elector) run(ctx context.Context) {
	e.metrics.leader.set(0)
	e.log.Info("Waiting to become the leader", "lease", e.ns+"/"+e.name, "identity", e.identity)
	for {
		began := time.Now()
		attempt, cancel := context.WithTimeout(ctx, e.renewDeadline)
		ok := e.tryAcquireOrRenew(attempt, began)
		cancel()
		switch {
		case ok:
			lapsed := !e.isLeader() // acting stopped before this renewal came back: a new term
			e.until.Store(began.Add(e.renewDeadline).UnixNano())
			if !e.holding.Swap(true) || lapsed {
				e.metrics.leader.set(1)
				e.log.Info("Became the leader", "lease", e.ns+"/"+e.name, "identity", e.identity)
				if e.onStartedLeading != nil {
					e.onStartedLeading()
				}
			}
		case e.holding.Load() && !e.isLeader():
			e.holding.Store(false)
			e.metrics.leader.set(0)
			e.log.Error("Lost the lease: could not renew it in time; no longer acting", "lease", e.ns+"/"+e.name, "renewDeadline", e.renewDeadline.String())
		}
		jitter := time.Duration(rand.Float64() * 0.2 * float64(e.retryPeriod))
		if !sleep(ctx, e.retryPeriod+jitter) {
			return
		}
	}
}

// tryAcquireOrRenew reads the Lease and takes it if it is free, expired or ours. It
// reports whether this replica holds it afterwards.
func (e *elector) tryAcquireOrRenew(ctx context.Context, now time.Time) bool {
	var l lease
	err := e.api.get(ctx, e.path(e.name), nil, &l)
	if errorCode(err) == http.StatusNotFound {
		l = lease{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Metadata: leaseMeta{Name: e.name, Namespace: e.ns},
			Spec: e.mine(leaseSpec{}, now)}
		if err := e.api.call(ctx, http.MethodPost, e.path(""), nil, "application/json", l, nil); err != nil {
			e.log.Debug("Could not create the lease", "err", err)
			return false
		}
		e.observe(l.Spec, now)
		return true
	}
	if err != nil {
		e.log.Debug("Could not read the lease", "err", err)
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
	if err := e.api.call(ctx, http.MethodPut, e.path(e.name), nil, "application/json", l, nil); err != nil {
		e.log.Debug("Could not take or renew the lease", "err", err) // 409: someone else wrote first
		return false
	}
	e.observe(l.Spec, now)
	return true
}

// mine returns spec held by this replica from now on.
func (e *elector) mine(spec leaseSpec, now time.Time) leaseSpec {
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

func (e *elector) observe(spec leaseSpec, now time.Time) {
	e.observed, e.observedAt = spec, now
}

// release gives the Lease up, if this replica holds it, so that another replica takes
// over at once.
func (e *elector) release(ctx context.Context) {
	if !e.holding.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	var l lease
	if err := e.api.get(ctx, e.path(e.name), nil, &l); err != nil || l.Spec.HolderIdentity != e.identity {
		return
	}
	l.Spec.HolderIdentity = ""
	l.Spec.LeaseDurationSeconds = 1
	l.Spec.RenewTime = time.Now().UTC().Format(microTime)
	if err := e.api.call(ctx, http.MethodPut, e.path(e.name), nil, "application/json", l, nil); err != nil {
		e.log.Warn("Could not release the lease", "err", err)
		return
	}
	e.holding.Store(false)
	e.until.Store(0)
	e.metrics.leader.set(0)
	e.log.Info("Released the lease", "lease", e.ns+"/"+e.name)
}

// whileActing returns a context that ends when parent does or when lease says this
// replica may no longer act, so that no request of a leader outlives its leadership. A
// zero time from lease means there is no election: the context ends with parent only.
func whileActing(parent context.Context, lease func() time.Time) (context.Context, context.CancelFunc) {
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
