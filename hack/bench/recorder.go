// recorder.go is a pass-through HTTP proxy put between a peer and the kubectl proxy in
// the footprint runs. It marks, the same way for every peer, the moment the peer's
// ConfigMap cache is complete, and counts the requests it sends and the bytes of bodies
// that pass each way.
package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// recorder forwards every request to the kubectl proxy and watches for the moment the
// peer's ConfigMaps are all in hand: for a client that lists and then watches (cuscon,
// client-go's reflector, which opens its watch only once the list is stored), the
// ConfigMap WATCH request arriving after a list; for a streaming list (a watch with
// sendInitialEvents), the bookmark that ends the initial events passing through; for a
// bare watch without a resourceVersion (the Python script), the watch being opened.
type recorder struct {
	URL      string
	srv      *http.Server
	mu       sync.Mutex
	synced   time.Time
	how      string
	requests map[string]int // "VERB resource" → count
	bytes    atomic.Int64   // request and response bodies, both ways
	done     chan struct{}
}

// newRecorder starts a recorder in front of target.
func newRecorder(target string) (*recorder, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &recorder{URL: "http://" + l.Addr().String(), requests: map[string]int{}, done: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // watch events pass at once
	rp.ModifyResponse = r.inspect
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.count(req)
		if req.Body != nil {
			req.Body = &countingBody{ReadCloser: req.Body, n: &r.bytes}
		}
		rp.ServeHTTP(w, req)
	})}
	go r.srv.Serve(l) //nolint:errcheck // ends with Close
	return r, nil
}

// count notes a request and, for a ConfigMap watch that follows a list or has no
// resourceVersion, marks the cache complete.
func (r *recorder) count(req *http.Request) {
	q := req.URL.Query()
	verb := req.Method
	watch := q.Get("watch") == "true" || q.Get("watch") == "1"
	if watch {
		verb = "WATCH"
	}
	res := resource(req.URL.Path)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[verb+" "+res]++
	if !watch || res != "configmaps" || q.Get("sendInitialEvents") == "true" {
		return
	}
	switch {
	case r.requests["GET configmaps"] > 0:
		r.mark("ConfigMap watch opened after the list")
	case q.Get("resourceVersion") == "":
		r.mark("ConfigMap watch opened (no list: every ConfigMap is replayed as ADDED)")
	}
}

// resource is the kind of object a request path addresses: the collection's name, for
// a collection or one of its objects.
func resource(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			return parts[i+2]
		}
	}
	return parts[len(parts)-1]
}

// inspect counts the bytes of each response and looks for the end of a streaming list's
// initial events.
func (r *recorder) inspect(resp *http.Response) error {
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &r.bytes}
	q := resp.Request.URL.Query()
	if q.Get("sendInitialEvents") == "true" && strings.HasSuffix(resp.Request.URL.Path, "/configmaps") {
		resp.Body = &bookmarkScanner{ReadCloser: resp.Body, found: func() { r.mu.Lock(); r.mark("streaming list's initial events ended"); r.mu.Unlock() }}
	}
	return nil
}

// mark records the first completion; r.mu is held.
func (r *recorder) mark(how string) {
	if r.synced.IsZero() {
		r.synced, r.how = time.Now(), how
		close(r.done)
	}
}

// wait returns when the cache was complete, or false after timeout.
func (r *recorder) wait(timeout time.Duration) (time.Time, string, bool) {
	select {
	case <-r.done:
	case <-time.After(timeout):
		return time.Time{}, "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.synced, r.how, true
}

// counts returns a copy of the request counts.
func (r *recorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.requests {
		out[k] = v
	}
	return out
}

// traffic is what passed so far: requests by "VERB resource", and bytes of bodies.
type traffic struct {
	Requests map[string]int
	Bytes    int64
}

// snapshot returns the traffic so far.
func (r *recorder) snapshot() traffic { return traffic{Requests: r.counts(), Bytes: r.bytes.Load()} }

// since returns what passed between an earlier snapshot and t.
func (t traffic) since(before traffic) traffic {
	out := traffic{Requests: map[string]int{}, Bytes: t.Bytes - before.Bytes}
	for k, v := range t.Requests {
		if d := v - before.Requests[k]; d > 0 {
			out.Requests[k] = d
		}
	}
	return out
}

// total is the number of requests.
func (t traffic) total() int {
	n := 0
	for _, v := range t.Requests {
		n += v
	}
	return n
}

// countingBody adds the bytes read through it to n.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}

// close stops the recorder and every connection through it.
func (r *recorder) close() { r.srv.Close() }

// bookmarkScanner calls found once the initial-events-end annotation has passed.
type bookmarkScanner struct {
	io.ReadCloser
	tail  []byte
	found func()
	done  bool
}

var initialEventsEnd = []byte(`"k8s.io/initial-events-end":"true"`)

func (s *bookmarkScanner) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if !s.done && n > 0 {
		buf := append(s.tail, p[:n]...)
		if bytes.Contains(buf, initialEventsEnd) {
			s.done = true
			s.found()
		}
		s.tail = append(s.tail[:0], buf[max(0, len(buf)-len(initialEventsEnd)):]...)
	}
	return n, err
}
