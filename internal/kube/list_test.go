package kube

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pagedAPI serves lists two items a page, and records each list request's query. Its
// first continue token expires once when expire is set. It says it is Kubernetes 1.30,
// which serves consistent lists from etcd: lists are asked for in pages.
func pagedAPI(t *testing.T, expire bool) (*Client, *[]url.Values) {
	return versionedPagedAPI(t, expire, "30")
}

// versionedPagedAPI is pagedAPI that says it is Kubernetes 1.minor.
func versionedPagedAPI(t *testing.T, expire bool, minor string) (*Client, *[]url.Values) {
	var mu sync.Mutex
	var queries []url.Values
	expired := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			fmt.Fprintf(w, `{"major":"1","minor":%q}`, minor)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		queries = append(queries, r.URL.Query())
		page := r.URL.Query().Get("continue")
		if page == "p2" && expire && !expired {
			expired = true
			w.WriteHeader(http.StatusGone)
			fmt.Fprint(w, `{"kind":"Status","reason":"Expired","code":410}`)
			return
		}
		next := map[string]string{"": "p2", "p2": ""}[page]
		fmt.Fprintf(w, `{"metadata":{"continue":%q,"resourceVersion":"9"},"items":[{"metadata":{"name":"a%s"}},{"metadata":{"name":"b%s"}}]}`, next, page, page)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	return c, &queries
}

func TestAListFollowsContinueTokensWithoutAResourceVersion(t *testing.T) {
	c, queries := pagedAPI(t, false)
	var names []string
	rv, err := ListPages(context.Background(), c, "/api/v1/namespaces/default/pods", url.Values{"labelSelector": {"app in (a, b)"}, "resourceVersion": {"0"}}, nil,
		func(p *Pod) { names = append(names, p.Metadata.Name) })
	require.NoError(t, err)
	assert.Equal(t, "9", rv)
	assert.Equal(t, []string{"a", "b", "ap2", "bp2"}, names)
	require.Len(t, *queries, 2)
	assert.Equal(t, "app in (a, b)", (*queries)[0].Get("labelSelector"))
	assert.Equal(t, "0", (*queries)[0].Get("resourceVersion"), "the first page from the watch cache")
	assert.Equal(t, "500", (*queries)[0].Get("limit"))
	assert.Equal(t, "p2", (*queries)[1].Get("continue"))
	assert.False(t, (*queries)[1].Has("resourceVersion"), "the API refuses a resourceVersion with a continue token")
	assert.Equal(t, "app in (a, b)", (*queries)[1].Get("labelSelector"), "every page is of the same selection")
}

func TestAListIsAskedForWholeWhereTheCacheServesItElseInPages(t *testing.T) {
	for _, tc := range []struct {
		minor, accept, limit string
	}{
		{"30", "", "500"},
		{"30", AcceptMetadataList, "5000"}, // a page of metadata weighs what 500 whole objects do
		{"31", "", ""},                     // served from the watch cache: in one request
		{"34+", AcceptMetadataList, ""},
	} {
		c, queries := versionedPagedAPI(t, false, tc.minor)
		_, err := ListPagesAs(context.Background(), c, "/x", nil, tc.accept, nil, func(*Pod) {})
		require.NoError(t, err)
		require.NotEmpty(t, *queries)
		for _, q := range *queries {
			assert.Equal(t, tc.limit, q.Get("limit"), "1.%s, accept %q", tc.minor, tc.accept)
		}
	}
}

func TestAnExpiredContinueTokenStartsTheListOver(t *testing.T) {
	c, _ := pagedAPI(t, true)
	var names []string
	restarts := 0
	_, err := ListPages(context.Background(), c, "/x", nil, func() { restarts++; names = nil },
		func(p *Pod) { names = append(names, p.Metadata.Name) })
	require.NoError(t, err)
	assert.Equal(t, 1, restarts)
	assert.Equal(t, []string{"a", "b", "ap2", "bp2"}, names, "each item once")

	c, _ = pagedAPI(t, true)
	_, err = ListPages(context.Background(), c, "/x", nil, nil, func(*Pod) {})
	assert.Equal(t, http.StatusGone, Code(err), "without restart, the expiry is the caller's")
}
