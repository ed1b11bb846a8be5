// incluster_test.go tests direct in-cluster access: the current token of a rotating
// ServiceAccount, the cluster CA trusted, and the environment it needs.

package kube

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInClusterSendsTheCurrentTokenAndTrustsTheCA(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = io.WriteString(w, `{"metadata":{},"items":[]}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("first-token\n"), 0o600))
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "https://"), ":")
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)

	base, rt, err := inClusterConfig(dir)
	require.NoError(t, err)
	api, err := NewClient(base, rt, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, api.Get(ctx, "/api/v1/namespaces/default/pods", nil, &struct{}{}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("rotated-token\n"), 0o600))
	rt.(*bearerTransport).tokens.every = 0 // as if a minute had passed
	require.NoError(t, api.Get(ctx, "/api/v1/namespaces/default/pods", nil, &struct{}{}))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"Bearer first-token", "Bearer rotated-token"}, seen)
}

func TestInClusterNeedsItsEnvironment(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, _, err := inClusterConfig(t.TempDir())
	assert.ErrorContains(t, err, "KUBERNETES_SERVICE_HOST")
}
