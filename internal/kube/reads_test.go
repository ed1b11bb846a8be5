package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readsAPI is Kubernetes 1.34 with the ConfigMaps named in items, each with data
// {"k": name}. A list by name answers as read says (nil: the object); the list of all
// sends its metadata and first item, then holds the rest until a list by name arrives
// or a second passes. reads records each list by name's query.
type readsAPI struct {
	items []string
	minor string // the Kubernetes minor version it says it is ("": 34)
	read  func(name string, q url.Values) (code int, body string)
	// holdForGood: the list is held after its first item until the client goes (cut
	// is then closed) or five seconds pass.
	holdForGood bool
	cut         chan struct{}
	mu          sync.Mutex
	reads       []url.Values
	readBegan   chan struct{}
	once        sync.Once
	// readWhileListing: a list by name arrived while the list was held after its first item.
	readWhileListing bool
}

func (a *readsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/version":
		minor := a.minor
		if minor == "" {
			minor = "34"
		}
		fmt.Fprintf(w, `{"major":"1","minor":%q}`, minor)
	case q.Has("fieldSelector"):
		name := strings.TrimPrefix(q.Get("fieldSelector"), "metadata.name=")
		a.mu.Lock()
		a.reads = append(a.reads, q)
		a.mu.Unlock()
		a.once.Do(func() { close(a.readBegan) })
		code, body := http.StatusOK, fmt.Sprintf(`{"items":[{"metadata":{"name":%q,"namespace":"default"},"data":{"k":%q}}]}`, name, name)
		if a.read != nil {
			if c, b := a.read(name, q); c != 0 {
				code, body = c, b
			}
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	default:
		fmt.Fprint(w, `{"metadata":{"resourceVersion":"77"},"items":[`)
		for i, name := range a.items {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"metadata":{"name":%q,"namespace":"default","annotations":{"read":"yes"}}}`, name)
			if i == 0 && a.holdForGood {
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					close(a.cut)
					return
				case <-time.After(5 * time.Second):
				}
			}
			if i == 0 {
				w.(http.Flusher).Flush()
				select {
				case <-a.readBegan:
					a.readWhileListing = true
				case <-time.After(time.Second): // the list must end for the reads to begin
				}
			}
		}
		fmt.Fprint(w, `]}`)
	}
}

// listReading lists a's ConfigMaps, each read whole, and returns each one's data.
func listReading(t *testing.T, a *readsAPI) ([]string, error) {
	a.readBegan = make(chan struct{})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	data := func(o *Object) (string, bool) { return o.Data["k"], true }
	opts := WatchOptions{ContentOf: func(o *Object) bool { return o.Metadata.Annotations["read"] == "yes" }}
	w := NewWatcher(c, Scope{Resource: ConfigMaps, Namespace: "default"}, opts, data, noHandler[string]{}, log, nil, nil)
	got, _, err := w.List(context.Background())
	return got, err
}

func TestObjectsAreReadWholeWhileTheListGoesOn(t *testing.T) {
	a := &readsAPI{items: []string{"a", "b", "c"}}
	got, err := listReading(t, a)
	require.NoError(t, err)
	assert.True(t, a.readWhileListing, "the first object was read before the list ended")
	assert.Equal(t, []string{"a", "b", "c"}, got, "every object read, in the list's order")
	for _, q := range a.reads {
		assert.Equal(t, "77", q.Get("resourceVersion"), "read at the list's revision or later")
		assert.Equal(t, "NotOlderThan", q.Get("resourceVersionMatch"))
	}
}

func TestAReadThatFailsFailsTheListAndADeletedObjectIsLeftOut(t *testing.T) {
	a := &readsAPI{items: []string{"a", "gone", "b"}, read: func(name string, _ url.Values) (int, string) {
		if name == "gone" {
			return http.StatusOK, `{"items":[]}` // deleted since the list: its DELETED follows
		}
		return 0, ""
	}}
	got, err := listReading(t, a)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, got)

	a = &readsAPI{items: []string{"a", "secret", "b"}, read: func(name string, _ url.Values) (int, string) {
		if name == "secret" {
			return http.StatusForbidden, `{"kind":"Status","code":403,"message":"no"}`
		}
		return 0, ""
	}}
	_, err = listReading(t, a)
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, Code(err))
	assert.Contains(t, err.Error(), "read ConfigMap default/secret")
}

func TestAFailedReadEndsTheListUnderWay(t *testing.T) {
	a := &readsAPI{items: []string{"secret", "b"}, holdForGood: true, cut: make(chan struct{}), read: func(string, url.Values) (int, string) {
		return http.StatusForbidden, `{"kind":"Status","code":403,"message":"no"}`
	}}
	_, err := listReading(t, a)
	assert.Equal(t, http.StatusForbidden, Code(err), "the read's error, not the cut list's")
	select {
	case <-a.cut:
	case <-time.After(5 * time.Second):
		t.Fatal("the list was read to its end, not ended")
	}
}

func TestAReadTheCacheCannotServeAtTheRevisionIsReadFromEtcd(t *testing.T) {
	a := &readsAPI{items: []string{"a", "b"}, read: func(_ string, q url.Values) (int, string) {
		if q.Has("resourceVersion") { // another API server's cache, behind the list's revision
			return http.StatusGatewayTimeout, `{"kind":"Status","code":504,"reason":"Timeout","message":"Too large resource version"}`
		}
		return 0, ""
	}}
	got, err := listReading(t, a)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, got)
	require.Len(t, a.reads, 4, "each read at the revision, then again without it")
}

func TestAPagedListsObjectsAreReadWithoutItsRevision(t *testing.T) {
	// Before 1.31 a list is read from etcd: its revision may be ahead of the watch cache
	// that would answer a read at it.
	a := &readsAPI{items: []string{"a", "b"}, minor: "30"}
	_, err := listReading(t, a)
	require.NoError(t, err)
	require.Len(t, a.reads, 2)
	for _, q := range a.reads {
		assert.False(t, q.Has("resourceVersion"))
	}
}
