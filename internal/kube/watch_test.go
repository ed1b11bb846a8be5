// watch_test.go tests the list-then-watch loop against the fake API: what is kept of
// each object is what the summary keeps (never the data it was not asked to keep), and
// a continue token that expires starts the list over. The loop's recoveries from ended,
// broken and expired watches are proved through the whole controller, in the main
// package's watch_test.go.

package kube

import (
	"context"
	"io"
	"strings"
	"testing"

	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noHandler is a handler for lists only.
type noHandler[T any] struct{}

func (noHandler[T]) Synced(context.Context, Scope, []T) {}
func (noHandler[T]) Changed(context.Context, string, T) {}

func TestAWatcherKeepsWhatTheSummaryKeepsNotTheData(t *testing.T) {
	f := kubetest.New(t, "default")
	big := map[string]string{"blob": strings.Repeat("z", 900<<10)}
	for _, name := range []string{"a", "b", "c"} {
		f.PutConfigMap(name, nil, big)
	}
	f.PutConfigMap("small", nil, map[string]string{"k": "v"})
	c, err := NewClient(f.URL(), nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	scope := Scope{Resource: ConfigMaps, Namespace: "default"}
	hashOfBig := func(o *Object) (string, bool) { return ContentHash(o), len(o.Data["blob"]) > 0 }
	w := NewWatcher(c, scope, WatchOptions{}, hashOfBig, noHandler[string]{}, log, nil, nil)
	hashes, rv, err := w.List(context.Background())
	require.NoError(t, err)
	assert.NotEmpty(t, rv)
	assert.Equal(t, []string{ContentHash(&Object{Data: big}), ContentHash(&Object{Data: big}), ContentHash(&Object{Data: big})}, hashes,
		"the summaries of the objects kept, in order; the small one dropped")

	whole := func(o *Object) (*Object, bool) { return o, true } // cuscon sync keeps its one object whole
	objects, _, err := NewWatcher(c, scope, WatchOptions{}, whole, noHandler[*Object]{}, log, nil, nil).List(context.Background())
	require.NoError(t, err)
	require.Len(t, objects, 4)
	assert.Equal(t, big, objects[0].Data)
	assert.Equal(t, ConfigMaps, objects[0].Resource, "stamped with the scope's resource")
}
