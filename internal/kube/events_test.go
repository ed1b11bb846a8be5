// events_test.go tests what cuscon reports as Events: the Event's shape, a dry run
// marked, long messages cut, a full queue never blocking a restart, and a share of the
// queue per namespace.

package kube

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
	"time"

	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventSink is an API that records the Events posted to it.
type eventSink struct {
	mu     sync.Mutex
	events []map[string]any
	posted chan struct{}
}

func newEventSink(t *testing.T) (*eventSink, *Client) {
	s := &eventSink{posted: make(chan struct{}, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		_ = json.NewDecoder(r.Body).Decode(&ev)
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		s.posted <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	api, err := NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	return s, api
}

func TestAnEventNamesTheObjectTheReasonAndWhatHappened(t *testing.T) {
	sink, api := newEventSink(t)
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	r := NewEventRecorder(api, log, telemetry.NewMetrics("test"), true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.PostEvents(ctx)
	obj := ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web", UID: "u1"}
	r.Warn(obj, "RestartIncomplete", strings.Repeat("x", 2000))
	<-sink.posted
	sink.mu.Lock()
	ev := sink.events[0]
	sink.mu.Unlock()
	assert.Equal(t, "Warning", ev["type"])
	assert.Equal(t, "RestartIncomplete", ev["reason"])
	assert.Equal(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "web", "uid": "u1"}, ev["involvedObject"])
	msg := ev["message"].(string)
	assert.True(t, strings.HasPrefix(msg, "Dry run: "), "a dry run says so")
	assert.LessOrEqual(t, len(msg), 1024, "cut to what an Event holds")
	assert.Equal(t, "cuscon", ev["reportingComponent"])
}

func TestAFullEventQueueNeverBlocksARestart(t *testing.T) {
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	r := NewEventRecorder(nil, log, telemetry.NewMetrics("test"), false) // never run: the queues only fill
	done := make(chan struct{})
	go func() {
		for range 1000 {
			r.Normal(ObjectRef{Namespace: "a", Name: "x"}, "Restarted", "m")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(kubetest.WaitTimeout):
		t.Fatal("reporting blocked")
	}
	assert.Len(t, r.queues["a"], eventsPerNamespace, "a namespace's share kept, the rest dropped")
	assert.Equal(t, float64(1000-eventsPerNamespace), r.metrics.EventsDropped.Value(), "and counted")
	var none *EventRecorder
	none.Warn(ObjectRef{}, "X", "with --events=false nothing is recorded")
}

func TestOneNamespacesFloodOfEventsCrowdsOutNoOther(t *testing.T) {
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	r := NewEventRecorder(nil, log, telemetry.NewMetrics("test"), false)
	for i := range maxQueuedEvents / eventsPerNamespace { // every share full
		for range eventsPerNamespace + 10 {
			r.Warn(ObjectRef{Namespace: fmt.Sprint("flood-", i), Name: "x"}, "InvalidSelector", "m")
		}
	}
	r.Normal(ObjectRef{Namespace: "quiet", Name: "web"}, "Restarted", "the one that matters")
	var served []string
	for e, ok := r.next(); ok; e, ok = r.next() {
		served = append(served, e.obj.Namespace)
	}
	assert.Contains(t, served, "quiet", "room is made for a namespace with nothing queued")
	assert.LessOrEqual(t, len(served), maxQueuedEvents)
	assert.Equal(t, "flood-0", served[0])
	assert.Equal(t, "flood-1", served[1], "namespaces are served in turn, not one queue first")
}
