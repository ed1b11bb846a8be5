// client_test.go tests the one place that talks to the API: every path it builds, how it
// reads an error answer (a Status, or the proxy's plain text), and which connection
// failures count as the local proxy being down.

package kube

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

	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryPathIsBuiltInOnePlaceAndEscaped(t *testing.T) {
	p := &Pod{Metadata: ObjectMeta{Name: "web-0", Namespace: "team a"}}
	for got, want := range map[string]string{
		CollectionPath(ConfigMaps, "default"):                         "/api/v1/namespaces/default/configmaps",
		CollectionPath(Secrets, ""):                                   "/api/v1/secrets",
		CollectionPath(Pods, "prod"):                                  "/api/v1/namespaces/prod/pods",
		CollectionPath(Events, "prod"):                                "/api/v1/namespaces/prod/events",
		ObjectPath(ConfigMaps, "default", "a/b"):                      "/api/v1/namespaces/default/configmaps/a%2Fb",
		ObjectPath(Pods, "default", "web-0"):                          "/api/v1/namespaces/default/pods/web-0",
		EvictionPath(p):                                               "/api/v1/namespaces/team%20a/pods/web-0/eviction",
		AppsPath("Deployment", "default", "web"):                      "/apis/apps/v1/namespaces/default/deployments/web",
		AppsPath("StatefulSet", "default", "db"):                      "/apis/apps/v1/namespaces/default/statefulsets/db",
		AppsPath("ReplicaSet", "default", "web-5d"):                   "/apis/apps/v1/namespaces/default/replicasets/web-5d",
		LeasePath("kube-system", ""):                                  "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
		LeasePath("default", "cuscon"):                                "/apis/coordination.k8s.io/v1/namespaces/default/leases/cuscon",
		Workload{Kind: "DaemonSet", Namespace: "x", Name: "y"}.Path(): "/apis/apps/v1/namespaces/x/daemonsets/y",
	} {
		assert.Equal(t, want, got)
	}
	assert.Equal(t, url.Values{"dryRun": {"All"}}, DryRunQuery(true))
	assert.Nil(t, DryRunQuery(false))
}

func TestErrorAnswersAreReadAsTheAPIOrTheProxySentThem(t *testing.T) {
	for _, row := range []struct {
		name, contentType, body, retryAfter string
		code                                int
		want                                APIError
	}{
		{"a Status from the API", "application/json",
			`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","code":404}`, "",
			404, APIError{Code: 404, Reason: "NotFound", Message: `pods "x" not found`}},
		{"a 429 with Retry-After", "application/json", `{"kind":"Status","reason":"TooManyRequests","message":"budget"}`, "3",
			429, APIError{Code: 429, Reason: "TooManyRequests", Message: "budget", RetryAfter: 3 * time.Second}},
		{"the proxy's plain text", "text/plain", "Error trying to reach service: 'dial tcp: i/o timeout'\n", "",
			503, APIError{Code: 503, Message: "Error trying to reach service: 'dial tcp: i/o timeout'"}},
		{"JSON that is not a Status", "application/json", `{"error":"nope"}`, "",
			500, APIError{Code: 500, Message: `{"error":"nope"}`}},
		{"a long body is cut", "text/plain", strings.Repeat("e", 500), "",
			502, APIError{Code: 502, Message: strings.Repeat("e", 197) + "..."}},
		{"a Retry-After that is not seconds", "text/plain", "slow down", "Wed, 21 Oct 2015 07:28:00 GMT",
			429, APIError{Code: 429, Message: "slow down"}},
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
			api, err := NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
			require.NoError(t, err)
			err = api.Get(t.Context(), "/api/v1/namespaces/default/pods/x", nil, &struct{}{})
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, row.want, *ae)
			assert.Equal(t, row.code, Code(err))
		})
	}
}

func TestAnAPIURLMustNameSchemeAndHost(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:8001", "http://", "://x", "%zz"} {
		_, err := NewClient(bad, nil, telemetry.NewMetrics("test"))
		assert.Error(t, err, bad)
	}
	api, err := NewClient("http://127.0.0.1:8001/", nil, telemetry.NewMetrics("test"))
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
		{"http://127.0.0.1:8001", &APIError{Code: 503}, false},
	} {
		api, err := NewClient(row.base, nil, telemetry.NewMetrics("test"))
		require.NoError(t, err)
		assert.Equal(t, row.want, api.RefusedLoopback(row.err), "%s: %v", row.base, row.err)
	}
}

func TestTruncateCutsAtAWholeCharacterAndSaysSo(t *testing.T) {
	assert.Equal(t, "short", Truncate("short", 10))
	assert.Equal(t, "abcdefg...", Truncate("abcdefghijklmnop", 10))
	assert.Equal(t, "é...", Truncate("ééééé", 6), "never half a rune")
}
