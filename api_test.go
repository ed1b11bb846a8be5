// api_test.go tests the one place that talks to the API: every path it builds, how it
// reads an error answer (a Status, or the proxy's plain text), and which connection
// failures count as the local proxy being down.

package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryPathIsBuiltInOnePlaceAndEscaped(t *testing.T) {
	p := &pod{Metadata: objectMeta{Name: "web-0", Namespace: "team a"}}
	for got, want := range map[string]string{
		collectionPath(configMaps, "default"):                         "/api/v1/namespaces/default/configmaps",
		collectionPath(secrets, ""):                                   "/api/v1/secrets",
		collectionPath(podResource, "prod"):                           "/api/v1/namespaces/prod/pods",
		collectionPath(eventResource, "prod"):                         "/api/v1/namespaces/prod/events",
		objectPath(configMaps, "default", "a/b"):                      "/api/v1/namespaces/default/configmaps/a%2Fb",
		objectPath(podResource, "default", "web-0"):                   "/api/v1/namespaces/default/pods/web-0",
		evictionPath(p):                                               "/api/v1/namespaces/team%20a/pods/web-0/eviction",
		workloadPath("Deployment", "default", "web"):                  "/apis/apps/v1/namespaces/default/deployments/web",
		workloadPath("StatefulSet", "default", "db"):                  "/apis/apps/v1/namespaces/default/statefulsets/db",
		workloadPath("ReplicaSet", "default", "web-5d"):               "/apis/apps/v1/namespaces/default/replicasets/web-5d",
		leasePath("kube-system", ""):                                  "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
		leasePath("default", "cuscon"):                                "/apis/coordination.k8s.io/v1/namespaces/default/leases/cuscon",
		workload{Kind: "DaemonSet", Namespace: "x", Name: "y"}.path(): "/apis/apps/v1/namespaces/x/daemonsets/y",
	} {
		assert.Equal(t, want, got)
	}
	assert.Equal(t, url.Values{"dryRun": {"All"}}, dryRunQuery(true))
	assert.Nil(t, dryRunQuery(false))
}

func TestErrorAnswersAreReadAsTheAPIOrTheProxySentThem(t *testing.T) {
	for _, row := range []struct {
		name, contentType, body, retryAfter string
		code                                int
		want                                apiError
	}{
		{"a Status from the API", "application/json",
			`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","code":404}`, "",
			404, apiError{Code: 404, Reason: "NotFound", Message: `pods "x" not found`}},
		{"a 429 with Retry-After", "application/json", `{"kind":"Status","reason":"TooManyRequests","message":"budget"}`, "3",
			429, apiError{Code: 429, Reason: "TooManyRequests", Message: "budget", RetryAfter: 3 * time.Second}},
		{"the proxy's plain text", "text/plain", "Error trying to reach service: 'dial tcp: i/o timeout'\n", "",
			503, apiError{Code: 503, Message: "Error trying to reach service: 'dial tcp: i/o timeout'"}},
		{"JSON that is not a Status", "application/json", `{"error":"nope"}`, "",
			500, apiError{Code: 500, Message: `{"error":"nope"}`}},
		{"a long body is cut", "text/plain", strings.Repeat("e", 500), "",
			502, apiError{Code: 502, Message: strings.Repeat("e", 197) + "..."}},
		{"a Retry-After that is not seconds", "text/plain", "slow down", "Wed, 21 Oct 2015 07:28:00 GMT",
			429, apiError{Code: 429, Message: "slow down"}},
	} {
		t.Run(row.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", row.contentType)
				if row.retryAfter != "" {
					w.Header().Set("Retry-After", row.retryAfter)
				}
				w.WriteHeader(row.code)
				fmt.Fprint(w, row.body)
			}))
			defer srv.Close()
			api, err := newAPIClient(srv.URL, nil)
			require.NoError(t, err)
			err = api.get(t.Context(), "/api/v1/namespaces/default/pods/x", nil, &struct{}{})
			var ae *apiError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, row.want, *ae)
			assert.Equal(t, row.code, errorCode(err))
		})
	}
}

func TestAnAPIURLMustNameSchemeAndHost(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:8001", "http://", "://x", "%zz"} {
		_, err := newAPIClient(bad, nil)
		assert.Error(t, err, bad)
	}
	api, err := newAPIClient("http://127.0.0.1:8001/", nil)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8001/api/v1/pods?limit=1", api.url("/api/v1/pods", url.Values{"limit": {"1"}}))
}

func TestOnlyARefusedConnectionToThisHostIsTheProxyRestarting(t *testing.T) {
	refused := &url.Error{Op: "Get", Err: fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED)}
	for _, row := range []struct {
		base string
		err  error
		want bool
	}{
		{"http://127.0.0.1:8001", refused, true},
		{"http://localhost:8001", refused, true},
		{"http://[::1]:8001", refused, true},
		{"https://10.96.0.1:443", refused, false},
		{"https://kubernetes.default.svc", refused, false},
		{"http://127.0.0.1:8001", &url.Error{Op: "Get", Err: errors.New("i/o timeout")}, false},
		{"http://127.0.0.1:8001", &apiError{Code: 503}, false},
	} {
		api, err := newAPIClient(row.base, nil)
		require.NoError(t, err)
		assert.Equal(t, row.want, api.refusedLoopback(row.err), "%s: %v", row.base, row.err)
	}
}

func TestTruncateCutsAtAWholeCharacterAndSaysSo(t *testing.T) {
	assert.Equal(t, "short", truncate("short", 10))
	assert.Equal(t, "abcdefg...", truncate("abcdefghijklmnop", 10))
	assert.Equal(t, "é...", truncate("ééééé", 6), "never half a rune")
}
