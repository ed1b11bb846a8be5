// reconcile_test.go calls the controller directly, as sample-controller's tests call
// their sync handler: an object observed → what was scheduled and what is remembered. No
// HTTP, no log wording; state is kept in memory so that nothing is written.

package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/restart"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queue records the restarts a controller asks for, as a scheduler that never runs
// them would hold them: one per key, the newest.
type queue struct {
	mu   sync.Mutex
	reqs []restart.Request
}

func (q *queue) Add(req restart.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.reqs {
		if q.reqs[i].Key == req.Key {
			q.reqs[i] = req
			return
		}
	}
	q.reqs = append(q.reqs, req)
}

// newTestController returns a controller whose restarts are only recorded, for the
// test to read, and whose state is kept in memory.
func newTestController() *controller {
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	return newController(nil, policy{strategy: "delete", overrides: []string{"delete", "evict"}}, false, &queue{},
		func() bool { return true }, nil, telemetry.NewMetrics("test"), log, testBackoff)
}

// scheduled lists the restarts asked for.
func (c *controller) scheduled() []restart.Request {
	q := c.sched.(*queue)
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.reqs)
}

// cm is what the controller observes of ConfigMap name in default with annotations and
// content hash.
func cm(name, hash string, annotations map[string]string) observation {
	obs := observe(&kube.Object{Resource: kube.ConfigMaps, Metadata: kube.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations}}, selectorKey)
	obs.hash = hash
	return obs
}

func TestReconcileSchedulesOnlyContentChanges(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}, []observation{cm("web", "h1", sel("app=web"))})
	assert.Empty(t, c.scheduled(), "the first list is the baseline")

	c.changed(ctx, "MODIFIED", cm("web", "h1", map[string]string{selectorKey: "app=web", "note": "x"}))
	assert.Empty(t, c.scheduled(), "metadata only")
	c.changed(ctx, "MODIFIED", cm("other", "h9", nil))
	assert.Empty(t, c.scheduled(), "not annotated")

	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	require.Len(t, c.scheduled(), 1, "one restart for one change, however often it is seen")
	req := c.scheduled()[0]
	assert.Equal(t, "h2", pendingHash(c, req.Key))
	assert.Equal(t, "app=web", req.Selector)
	assert.Nil(t, req.Only, "every matching pod")
	assert.Equal(t, "h2", c.state["configmaps/default/web"].pending)
}

func TestReconcileRefusesWithoutScheduling(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}, []observation{cm("web", "h1", sel("!legacy"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("!legacy")))
	assert.Empty(t, c.scheduled())
	assert.NotEmpty(t, c.state["configmaps/default/web"].refused)
	var b strings.Builder
	_ = c.metrics.Write(&b)
	assert.Equal(t, 1.0, kubetest.Value(kubetest.ParseMetrics(t, b.String()), "cuscon_restarts_owed"), "a refused change is owed")
}

func TestAFollowerDecidesNothing(t *testing.T) {
	c := newTestController()
	c.leading = func() bool { return false }
	c.changed(context.Background(), "MODIFIED", cm("web", "h2", sel("app=web")))
	assert.Empty(t, c.state)
	assert.Empty(t, c.scheduled())
}

func TestAnIncompleteRestartIsRetriedWithOnlyThePodsLeft(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}, []observation{cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	req := c.scheduled()[0]
	c.taken()
	req.Done(ctx, restart.Result{Owed: &restart.Owed{Pods: []string{"uid-1"}}})
	st := c.state["configmaps/default/web"]
	assert.Equal(t, "h1", st.applied, "not applied")
	require.NotNil(t, st.owed)
	c.retryOwed("configmaps/default/web", "h2")
	require.Len(t, c.scheduled(), 1)
	assert.Equal(t, []string{"uid-1"}, c.scheduled()[0].Only)

	c.retryOwed("configmaps/default/web", "h2")
	assert.Len(t, c.scheduled(), 1, "a retry already pending is not scheduled twice")
	c.changed(ctx, "MODIFIED", cm("web", "h3", sel("app=web")))
	assert.Equal(t, "h3", pendingHash(c, c.scheduled()[0].Key), "a newer change supersedes the owed pods")
}

func TestADeletedObjectIsForgotten(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}, []observation{cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "DELETED", cm("web", "h1", sel("app=web")))
	assert.Empty(t, c.state)
	c.changed(ctx, "ADDED", cm("web", "h2", sel("app=web")))
	assert.Empty(t, c.scheduled(), "created again: a new baseline")
}

func TestAListForgetsWhatIsNoLongerThere(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	scope := kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}
	c.synced(ctx, scope, []observation{cm("a", "h1", sel("app=a")), cm("b", "h1", sel("app=b"))})
	c.state["secrets/default/s"] = objState{applied: "x"} // another scope: kept
	c.synced(ctx, scope, []observation{cm("a", "h1", sel("app=a"))})
	assert.Contains(t, c.state, "configmaps/default/a")
	assert.NotContains(t, c.state, "configmaps/default/b")
	assert.Contains(t, c.state, "secrets/default/s")
}

// pendingHash is the content hash whose restart is under way for key.
func pendingHash(c *controller, key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state[key].pending
}

// taken empties the queue, as the executor taking the restarts would.
func (c *controller) taken() {
	q := c.sched.(*queue)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reqs = nil
}

func TestADeferralIsForgottenOnceDecidedOtherwise(t *testing.T) {
	c := newTestController()
	later := time.Now().UTC().Add(2 * time.Hour)
	c.policy.window = later.Format("15:04") + "-" + later.Add(time.Hour).Format("15:04") + " UTC" // closed now
	ctx := context.Background()
	key := "configmaps/default/web"
	deferred := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.deferred[key]
		return ok
	}
	c.synced(ctx, kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}, []observation{cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	assert.Empty(t, c.scheduled(), "outside the window")
	assert.True(t, deferred(), "decided again when the window opens")

	c.changed(ctx, "MODIFIED", cm("web", "h1", sel("app=web"))) // undone: nothing is owed
	assert.False(t, deferred(), "nothing left for the window's opening")
	assert.Equal(t, "", c.state[key].deferred)

	c.changed(ctx, "MODIFIED", cm("web", "h3", sel("app=web")))
	require.True(t, deferred())
	c.changed(ctx, "DELETED", cm("web", "h3", sel("app=web")))
	assert.False(t, deferred(), "a deleted object owes nothing")
	assert.Empty(t, c.scheduled())
}
