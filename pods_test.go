// pods_test.go tests the requests a restart is made of, and the record of what is owed:
// a DELETE is guarded by the uid and carries dryRun in its body, pod lists go to the
// watch cache and never out with a selector cuscon refuses, and the record of owed pods
// stays bounded.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cuscon/internal/kube"
	"cuscon/internal/restart"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestADeleteAppliesOnlyToThatPodAndADryRunSaysSoInItsBody(t *testing.T) {
	p := podNamed("web-0", nil)
	assert.Equal(t, map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": map[string]string{"uid": "uid-web-0"}},
		deleteOptions(p, false))
	assert.Equal(t, []string{"All"}, deleteOptions(p, true)["dryRun"], "the API reads a DELETE's dryRun from its body")
}

// pagedPods is an API that records each request's query.
func pagedPods(t *testing.T) (*kube.Client, *[]string) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			http.NotFound(w, r) // lists in pages
			return
		}
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		_, _ = io.WriteString(w, `{"metadata":{},"items":[]}`)
	}))
	t.Cleanup(srv.Close)
	api, err := kube.NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	return api, &queries
}

func TestPodListsAskTheWatchCacheForTheSelectorsPods(t *testing.T) {
	api, queries := pagedPods(t)
	_, err := (&pods{client: api}).List(context.Background(), "default", "app in (a, b)")
	require.NoError(t, err)
	require.Len(t, *queries, 1)
	assert.Contains(t, (*queries)[0], "labelSelector=app+in+%28a%2C+b%29")
	assert.Contains(t, (*queries)[0], "resourceVersion=0")
}

func TestAPodListIsNeverSentWithASelectorCusconRefuses(t *testing.T) {
	api, queries := pagedPods(t)
	for _, sel := range []string{"", "!a", "a notin (b)", "a=b,,"} {
		_, err := (&pods{client: api}).List(context.Background(), "default", sel)
		assert.Error(t, err, sel)
	}
	assert.Empty(t, *queries)
}

// patches is an API that records the merge-patches sent to it.
func patches(t *testing.T) (*kube.Client, func() []map[string]any) {
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var patch map[string]any
		_ = json.NewDecoder(r.Body).Decode(&patch)
		mu.Lock()
		got = append(got, patch)
		mu.Unlock()
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	api, err := kube.NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	return api, func() []map[string]any { mu.Lock(); defer mu.Unlock(); return got }
}

// annotationsOf returns the annotations of a merge-patch.
func annotationsOf(patch map[string]any) map[string]any {
	return patch["metadata"].(map[string]any)["annotations"].(map[string]any)
}

func TestTheRecordSaysWhatWasAppliedAndWhatIsStillOwed(t *testing.T) {
	api, sent := patches(t)
	c := newTestController()
	c.client, c.policy.recordState = api, true
	ref := kube.ObjectRef{Kind: "ConfigMap", Namespace: "default", Name: "web"}
	c.record(context.Background(), c.log, ref, objState{applied: "h2"})
	c.record(context.Background(), c.log, ref, objState{applied: "h1", owed: &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"u1", "u2"}}}})
	many := make([]string, maxRecordedPods+1)
	for i := range many {
		many[i] = fmt.Sprint("u", i)
	}
	c.record(context.Background(), c.log, ref, objState{applied: "h1", owed: &owedWork{Hash: "h2", Owed: restart.Owed{Pods: many}}})
	got := sent()
	require.Len(t, got, 3)
	assert.Equal(t, map[string]any{hashAnnotation: "h2", owedAnnotation: nil}, annotationsOf(got[0]), "complete: the owed record is removed")
	assert.Equal(t, "h1", annotationsOf(got[1])[hashAnnotation], "incomplete: applied unchanged")
	assert.JSONEq(t, `{"hash":"h2","pods":["u1","u2"]}`, annotationsOf(got[1])[owedAnnotation].(string))
	assert.JSONEq(t, `{"hash":"h2","all":true}`, annotationsOf(got[2])[owedAnnotation].(string), "past the cap: all, so the record stays small")
	assert.Less(t, len(annotationsOf(got[2])[owedAnnotation].(string)), 100)

	c.policy.recordState = false
	c.record(context.Background(), c.log, ref, objState{applied: "h3"})
	assert.Len(t, sent(), 3, "--state=memory writes nothing")
}

func TestTheOwedRecordReadsBackAsWritten(t *testing.T) {
	w := owedWork{Hash: "sha256:ab", Owed: restart.Owed{Pods: []string{"u1"}}, tries: 7}
	b, err := json.Marshal(w)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "tries", "how often it was tried is not recorded")
	obs := cm("web", "h2", map[string]string{selectorKey: "app=web", owedAnnotation: string(b)})
	require.NotNil(t, obs.recorded.owed)
	assert.Equal(t, []string{"u1"}, obs.recorded.owed.Pods)
	assert.True(t, obs.recorded.owed.fromRecord)
	assert.True(t, strings.HasPrefix(obs.recorded.owed.Hash, "sha256:"))
}
