// reconcile_test.go calls the controller directly, as sample-controller's tests call
// their sync handler: an object observed → what was scheduled and what is remembered. No
// HTTP, no log wording; state is kept in memory so that nothing is written.

package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestController returns a controller whose scheduler is never run, so that what it
// schedules stays queued for the test to read.
func newTestController() *controller {
	log, _ := newLogger(io.Discard, "text", 0)
	return &controller{log: log, annotation: selectorKey, policy: policy{strategy: "delete", overrides: []string{"delete", "evict"}},
		sched: newScheduler(0, log), metrics: newMetrics(), leading: func() bool { return true },
		retry: testBackoff, state: map[string]objState{}}
}

// scheduled lists the requests queued in namespace default.
func (c *controller) scheduled() []restartRequest {
	c.sched.mu.Lock()
	defer c.sched.mu.Unlock()
	if l := c.sched.lanes["default"]; l != nil {
		return l.queue
	}
	return nil
}

// cm returns a ConfigMap in default with annotations and content hash.
func cm(name, hash string, annotations map[string]string) *source {
	return &source{Resource: configMaps, Hash: hash, Metadata: objectMeta{Name: name, Namespace: "default", Annotations: annotations}}
}

func TestReconcileSchedulesOnlyContentChanges(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, watchScope{resource: configMaps, namespace: "default"}, []source{*cm("web", "h1", sel("app=web"))})
	assert.Empty(t, c.scheduled(), "the first list is the baseline")

	c.changed(ctx, "MODIFIED", cm("web", "h1", map[string]string{selectorKey: "app=web", "note": "x"}))
	assert.Empty(t, c.scheduled(), "metadata only")
	c.changed(ctx, "MODIFIED", cm("other", "h9", nil))
	assert.Empty(t, c.scheduled(), "not annotated")

	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	require.Len(t, c.scheduled(), 1, "one restart for one change, however often it is seen")
	req := c.scheduled()[0]
	assert.Equal(t, "h2", req.hash)
	assert.Equal(t, "app=web", req.selector)
	assert.Nil(t, req.only, "every matching pod")
	assert.Equal(t, "h2", c.state["configmaps/default/web"].pending)
}

func TestReconcileRefusesWithoutScheduling(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, watchScope{resource: configMaps, namespace: "default"}, []source{*cm("web", "h1", sel("!legacy"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("!legacy")))
	assert.Empty(t, c.scheduled())
	assert.NotEmpty(t, c.state["configmaps/default/web"].refused)
	var b strings.Builder
	_ = c.metrics.write(&b)
	assert.Equal(t, 1.0, value(parseMetrics(t, b.String()), "cuscon_restarts_owed"), "a refused change is owed")
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
	c.synced(ctx, watchScope{resource: configMaps, namespace: "default"}, []source{*cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	req := c.scheduled()[0]
	c.sched.lanes["default"].queue = nil // taken by the executor
	c.finished(ctx, result{req: req, owed: &owedWork{Hash: "h2", Pods: []string{"uid-1"}}})
	st := c.state["configmaps/default/web"]
	assert.Equal(t, "h1", st.applied, "not applied")
	require.NotNil(t, st.owed)
	c.retryOwed("configmaps/default/web", "h2")
	require.Len(t, c.scheduled(), 1)
	assert.Equal(t, []string{"uid-1"}, c.scheduled()[0].only)

	c.retryOwed("configmaps/default/web", "h2")
	assert.Len(t, c.scheduled(), 1, "a retry already pending is not scheduled twice")
	c.changed(ctx, "MODIFIED", cm("web", "h3", sel("app=web")))
	assert.Equal(t, "h3", c.scheduled()[0].hash, "a newer change supersedes the owed pods")
}

func TestADeletedObjectIsForgotten(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, watchScope{resource: configMaps, namespace: "default"}, []source{*cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "DELETED", cm("web", "h1", sel("app=web")))
	assert.Empty(t, c.state)
	c.changed(ctx, "ADDED", cm("web", "h2", sel("app=web")))
	assert.Empty(t, c.scheduled(), "created again: a new baseline")
}

func TestAListForgetsWhatIsNoLongerThere(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	scope := watchScope{resource: configMaps, namespace: "default"}
	c.synced(ctx, scope, []source{*cm("a", "h1", sel("app=a")), *cm("b", "h1", sel("app=b"))})
	c.state["secrets/default/s"] = objState{applied: "x"} // another scope: kept
	c.synced(ctx, scope, []source{*cm("a", "h1", sel("app=a"))})
	assert.Contains(t, c.state, "configmaps/default/a")
	assert.NotContains(t, c.state, "configmaps/default/b")
	assert.Contains(t, c.state, "secrets/default/s")
}
