package reloader

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"sync"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWorkloadKindsAreListedAtOnceAndHandedOnInOrder serves each kind's list only once
// every kind's request has arrived: listed one after another, the first would wait in
// vain. Whatever order the answers come in, fn sees the kinds in the order asked, and a
// kind the API does not serve is skipped and reported.
func TestWorkloadKindsAreListedAtOnceAndHandedOnInOrder(t *testing.T) {
	kinds := []string{"Deployment", "StatefulSet", "DaemonSet", "Rollout", "CronJob"}
	var arrived sync.WaitGroup
	arrived.Add(len(kinds))
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select {
		case <-all:
		case <-time.After(5 * time.Second):
			http.Error(w, "the other kinds were not asked for meanwhile", http.StatusGatewayTimeout)
			return
		}
		plural := path.Base(r.URL.Path)
		if plural == "rollouts" {
			http.Error(w, `{"kind":"Status","code":404}`, http.StatusNotFound)
			return
		}
		if plural == "deployments" {
			time.Sleep(50 * time.Millisecond) // the first kind answers last
		}
		fmt.Fprintf(w, `{"metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"%s-a"}},{"metadata":{"name":"%s-b"}}]}`, plural, plural)
	}))
	t.Cleanup(srv.Close)
	c, err := kube.NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)

	var seen []string
	var skipped []string
	err = listWorkloads(context.Background(), c, "shop", kinds, true, func(kind string, _ error) { skipped = append(skipped, kind) },
		func(w *workloadObj) { seen = append(seen, w.Kind+"/"+w.Metadata.Name) })
	require.NoError(t, err)
	assert.Equal(t, []string{"Deployment/deployments-a", "Deployment/deployments-b", "StatefulSet/statefulsets-a", "StatefulSet/statefulsets-b",
		"DaemonSet/daemonsets-a", "DaemonSet/daemonsets-b", "CronJob/cronjobs-a", "CronJob/cronjobs-b"}, seen)
	assert.Equal(t, []string{"Rollout"}, skipped)
}
