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
		if r.URL.Path == "/version" {
			http.NotFound(w, r) // lists in pages
			return
		}
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
	err = listWorkloads(context.Background(), c, "shop", kinds, true, func(*workloadObj) bool { return true },
		func(kind string, _ error) { skipped = append(skipped, kind) },
		func(w *workloadObj) { seen = append(seen, w.Kind+"/"+w.Metadata.Name) })
	require.NoError(t, err)
	assert.Equal(t, []string{"Deployment/deployments-a", "Deployment/deployments-b", "StatefulSet/statefulsets-a", "StatefulSet/statefulsets-b",
		"DaemonSet/daemonsets-a", "DaemonSet/daemonsets-b", "CronJob/cronjobs-a", "CronJob/cronjobs-b"}, seen)
	assert.Equal(t, []string{"Rollout"}, skipped)
}

// TestAFailedKindEndsTheOtherLists: a kind that cannot be listed fails the check, and the
// lists still under way are ended rather than waited for; the error names the kind that
// failed, not one that was cut short.
func TestAFailedKindEndsTheOtherLists(t *testing.T) {
	ended, hanging := make(chan struct{}), make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path.Base(r.URL.Path) {
		case "statefulsets": // fails once the Deployments list is under way
			select {
			case <-hanging:
			case <-release:
			}
			http.Error(w, `{"kind":"Status","code":500,"message":"etcd is down"}`, http.StatusInternalServerError)
		case "deployments": // hangs until the client gives up on it
			close(hanging)
			select {
			case <-r.Context().Done():
				close(ended)
			case <-release:
			}
		default:
			fmt.Fprint(w, `{"metadata":{},"items":[]}`)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := kube.NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)

	err = listWorkloads(context.Background(), c, "shop", []string{"Deployment", "StatefulSet", "DaemonSet"}, true,
		func(*workloadObj) bool { return true }, nil, func(*workloadObj) {})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "list statefulsets")
	assert.Equal(t, http.StatusInternalServerError, kube.Code(err))
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the Deployments list was not ended")
	}
}
