package kube

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWhichServersServeConsistentListsFromTheirCache(t *testing.T) {
	for _, tc := range []struct {
		major, minor string
		want         bool
	}{
		{"1", "30", false},
		{"1", "31", true},
		{"1", "34", true},
		{"1", "34+", true}, // as some managed clusters say it
		{"2", "0", true},
		{"", "", false},
		{"1", "x", false},
		{"one", "34", false},
	} {
		assert.Equal(t, tc.want, servesListsFromCache(tc.major, tc.minor), "%q.%q", tc.major, tc.minor)
	}
}

// versionAPI answers /version with code and body, counting the requests.
func versionAPI(t *testing.T, code *atomic.Int32, body string) (*Client, *atomic.Int32) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.WriteHeader(int(code.Load()))
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	return c, &asked
}

func TestTheServersAnswerIsKeptNoAnswerIsAskedAgain(t *testing.T) {
	ctx := context.Background()
	var code atomic.Int32
	code.Store(http.StatusServiceUnavailable)
	c, asked := versionAPI(t, &code, `{"major":"1","minor":"34"}`)
	assert.False(t, c.ListsWhole(ctx), "no answer: pages")
	code.Store(http.StatusOK)
	assert.True(t, c.ListsWhole(ctx))
	assert.True(t, c.ListsWhole(ctx))
	assert.Equal(t, int32(2), asked.Load(), "asked until answered, then kept")

	code.Store(http.StatusForbidden)
	c, asked = versionAPI(t, &code, `{"kind":"Status","code":403}`)
	assert.False(t, c.ListsWhole(ctx))
	assert.False(t, c.ListsWhole(ctx))
	assert.Equal(t, int32(1), asked.Load(), "a refusal is an answer: pages, without asking again")

	code.Store(http.StatusOK)
	c, asked = versionAPI(t, &code, `<html>not the API</html>`)
	assert.False(t, c.ListsWhole(ctx))
	assert.False(t, c.ListsWhole(ctx))
	assert.Equal(t, int32(1), asked.Load(), "an answer that does not parse is one too")
}
