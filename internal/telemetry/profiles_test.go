//go:build pprof

// profiles_test.go checks the profile server of binaries built with -tags pprof
// (hack/test.sh runs it so): named profiles in pprof's format, a bounded CPU profile, and
// a clear refusal of what it does not serve.

package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProfilesAreServedOnTheirOwnAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, ServeProfiles(ctx, addr, slog.New(slog.DiscardHandler)))

	get := func(path string) (int, []byte) {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	for _, tc := range []struct {
		path string
		code int
		gzip bool
	}{
		{"/debug/pprof/heap", http.StatusOK, true},
		{"/debug/pprof/goroutine", http.StatusOK, true},
		{"/debug/pprof/profile?seconds=1", http.StatusOK, true},
		{"/debug/pprof/profile?seconds=0", http.StatusBadRequest, false},
		{"/debug/pprof/profile?seconds=301", http.StatusBadRequest, false},
		{"/debug/pprof/nothing", http.StatusNotFound, false},
	} {
		code, body := get(tc.path)
		assert.Equal(t, tc.code, code, tc.path)
		if tc.gzip {
			require.GreaterOrEqual(t, len(body), 2, tc.path)
			assert.Equal(t, []byte{0x1f, 0x8b}, body[:2], "%s: a pprof profile is gzipped protobuf", tc.path)
		}
	}
}
