// events_test.go tests what cuscon reports as Events and how it finds what to roll: the
// Event's shape, a dry run marked, long messages cut, a full queue never blocking a
// restart; the workload behind a pod; and a pod's readiness as pacing reads it.

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
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventSink is an API that records the Events posted to it.
type eventSink struct {
	mu     sync.Mutex
	events []map[string]any
	posted chan struct{}
}

func newEventSink(t *testing.T) (*eventSink, *apiClient) {
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
	api, err := newAPIClient(srv.URL, nil)
	require.NoError(t, err)
	return s, api
}

func TestAnEventNamesTheObjectTheReasonAndWhatHappened(t *testing.T) {
	sink, api := newEventSink(t)
	log, _ := newLogger(io.Discard, "text", 0)
	r := newEventRecorder(api, log, newMetrics(), true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.run(ctx)
	obj := objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web", UID: "u1"}
	r.warn(obj, "RestartIncomplete", strings.Repeat("x", 2000))
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
	log, _ := newLogger(io.Discard, "text", 0)
	r := newEventRecorder(nil, log, newMetrics(), false) // never run: the queues only fill
	done := make(chan struct{})
	go func() {
		for range 1000 {
			r.normal(objectRef{Namespace: "a", Name: "x"}, "Restarted", "m")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("reporting blocked")
	}
	assert.Len(t, r.queues["a"], eventsPerNamespace, "a namespace's share kept, the rest dropped")
	assert.Equal(t, float64(1000-eventsPerNamespace), r.metrics.eventsDropped.series[""].value, "and counted")
	var none *eventRecorder
	none.warn(objectRef{}, "X", "with --events=false nothing is recorded")
}

func TestOneNamespacesFloodOfEventsCrowdsOutNoOther(t *testing.T) {
	log, _ := newLogger(io.Discard, "text", 0)
	r := newEventRecorder(nil, log, newMetrics(), false)
	for i := range maxQueuedEvents / eventsPerNamespace { // every share full
		for range eventsPerNamespace + 10 {
			r.warn(objectRef{Namespace: fmt.Sprint("flood-", i), Name: "x"}, "InvalidSelector", "m")
		}
	}
	r.normal(objectRef{Namespace: "quiet", Name: "web"}, "Restarted", "the one that matters")
	var served []string
	for e, ok := r.next(); ok; e, ok = r.next() {
		served = append(served, e.obj.Namespace)
	}
	assert.Contains(t, served, "quiet", "room is made for a namespace with nothing queued")
	assert.LessOrEqual(t, len(served), maxQueuedEvents)
	assert.Equal(t, "flood-0", served[0])
	assert.Equal(t, "flood-1", served[1], "namespaces are served in turn, not one queue first")
}

// appsAPI serves ReplicaSets owned by Deployments, as workloadOf reads them.
func appsAPI(t *testing.T) *apiClient {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apis/apps/v1/namespaces/default/replicasets/web-5d":
			_, _ = io.WriteString(w, `{"metadata":{"name":"web-5d","ownerReferences":[{"kind":"Deployment","name":"web","controller":true}]}}`)
		case "/apis/apps/v1/namespaces/default/replicasets/bare-rs":
			_, _ = io.WriteString(w, `{"metadata":{"name":"bare-rs"}}`)
		default:
			writeStatus(w, http.StatusNotFound, "NotFound", "no "+r.URL.Path)
		}
	}))
	t.Cleanup(srv.Close)
	api, err := newAPIClient(srv.URL, nil)
	require.NoError(t, err)
	return api
}

func TestTheWorkloadBehindAPod(t *testing.T) {
	api := appsAPI(t)
	yes := true
	owned := func(kind, name string) *pod {
		return podNamed("p", func(p *pod) {
			p.Metadata.OwnerReferences = []ownerReference{{Kind: kind, Name: name, Controller: &yes}}
		})
	}
	for _, row := range []struct {
		name string
		p    *pod
		want workload
		ok   bool
		err  bool
	}{
		{"a Deployment's pod, through its ReplicaSet", owned("ReplicaSet", "web-5d"), workload{"Deployment", "default", "web"}, true, false},
		{"a StatefulSet's pod", owned("StatefulSet", "db"), workload{"StatefulSet", "default", "db"}, true, false},
		{"a DaemonSet's pod", owned("DaemonSet", "agent"), workload{"DaemonSet", "default", "agent"}, true, false},
		{"a bare ReplicaSet's pod: nothing to roll", owned("ReplicaSet", "bare-rs"), workload{}, false, false},
		{"a Job's pod: nothing to roll", owned("Job", "migrate"), workload{}, false, false},
		{"a bare pod", podNamed("p", func(p *pod) { p.Metadata.OwnerReferences = nil }), workload{}, false, false},
		{"a ReplicaSet that cannot be read", owned("ReplicaSet", "gone"), workload{}, false, true},
	} {
		t.Run(row.name, func(t *testing.T) {
			w, ok, err := workloadOf(context.Background(), api, row.p)
			assert.Equal(t, row.want, w)
			assert.Equal(t, row.ok, ok)
			assert.Equal(t, row.err, err != nil, "%v", err)
		})
	}
}

func TestAPodIsReadyOnlyWhenItSaysSoAndIsNotLeaving(t *testing.T) {
	gone := "2026-11-23T00:00:00Z"
	cond := func(status string) func(*pod) {
		return func(p *pod) {
			p.Status.Conditions = append(p.Status.Conditions, struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			}{"Ready", status})
		}
	}
	assert.True(t, podNamed("a", cond("True")).ready())
	assert.False(t, podNamed("b", cond("False")).ready())
	assert.False(t, podNamed("c", nil).ready(), "no condition yet")
	leaving := podNamed("d", cond("True"))
	leaving.Metadata.DeletionTimestamp = &gone
	assert.False(t, leaving.ready(), "terminating")
}

func TestAFailedReloadIsRetriedAndTurnsHealthRedAfterTheLimit(t *testing.T) {
	var mu sync.Mutex
	code := http.StatusInternalServerError
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "config invalid")
	}))
	defer srv.Close()
	send := httpReload(http.MethodPost, srv.URL)
	err := send(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "500 Internal Server Error: config invalid")

	log, _ := newLogger(io.Discard, "text", 0)
	r := &reloader{log: log, metrics: newMetrics(), limit: 2}
	r.note(err)
	ok, _ := r.healthy()
	assert.True(t, ok, "one failure is not yet a reason to restart the pod")
	r.note(err)
	ok, why := r.healthy()
	assert.False(t, ok)
	assert.Contains(t, why, "2 reloads in a row failed")
	mu.Lock()
	code = http.StatusOK
	mu.Unlock()
	r.note(send(context.Background()))
	ok, _ = r.healthy()
	assert.True(t, ok, "a reload that works turns it green")
}
