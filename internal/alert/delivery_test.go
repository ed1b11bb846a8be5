// delivery_test.go tests what arrives at a local server, byte for byte, per sink and for
// the webhook; which outcomes are counted as failed; redirects; and the proxy.

package alert

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cuscon/internal/backoff"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// received is what a test server saw of one request.
type received struct {
	method, target, contentType, body string
	closeConn                         bool // the client asked for Connection: close
}

// recorder is a test server answering status (or what answer says) and reporting each
// request on got.
func recorder(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, <-chan received) {
	got := make(chan received, 512)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.RequestURI, r.Header.Get("Content-Type"), string(body), r.Close}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// started returns a Sender for c whose Run goes until the test ends, and the outcomes it
// counts, as "what/result".
func started(t *testing.T, c Config, client *http.Client, log *bytes.Buffer) (*Sender, <-chan string) {
	s, counted := unstarted(t, c, client, log)
	run(t, s)
	return s, counted
}

// run runs s until the test ends, and waits for Run to return.
func run(t *testing.T, s *Sender) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func unstarted(t *testing.T, c Config, client *http.Client, log *bytes.Buffer) (*Sender, <-chan string) {
	counted := make(chan string, 2*queueSize)
	s := New(c, client, testLogger(log), func(what, result string) { counted <- what + "/" + result })
	s.retry = backoff.Policy{Initial: time.Millisecond, Max: time.Millisecond}
	return s, counted
}

// testLogger writes text to buf, or discards when buf is nil.
func testLogger(buf *bytes.Buffer) *slog.Logger {
	if buf == nil {
		return nil
	}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// next waits for the next value on ch; a test whose feature is gone fails here rather
// than hanging.
func next[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived within 5s")
		panic("unreachable")
	}
}

func TestEachSinkArrivesAsReloaderSendsIt(t *testing.T) {
	const text = "Reloader detected changes in *app-config* of type *CONFIGMAP* in namespace *shop*. Hence reloaded *web* of type *Deployment* in namespace *shop*"
	for _, row := range []struct{ sink, contentType, body string }{
		{"slack", "application/json", `{"attachments":[{"author_name":"Reloader","color":"good","text":"` + text + `"}]}`},
		{"teams", "application/json", `{"text":"` + text + `"}`},
		{"gchat", "application/json", `{"text":"` + text + `"}`},
		{"raw", "text/plain", "Reloader detected changes in app-config of type CONFIGMAP in namespace shop. Hence reloaded web of type Deployment in namespace shop"},
	} {
		t.Run(row.sink, func(t *testing.T) {
			srv, got := recorder(t, status(http.StatusOK))
			s, counted := started(t, Config{OnReload: true, Sink: row.sink, URL: srv.URL + "/hook"}, nil, nil)
			s.Reloaded(reload)
			assert.Equal(t, received{"POST", "/hook", row.contentType, row.body, true}, next(t, got))
			assert.Equal(t, "alert/sent", next(t, counted))
		})
	}
}

func TestFailingStatusesAreCountedPerSink(t *testing.T) {
	for _, row := range []struct {
		sink   string
		code   int
		result string
	}{
		{"slack", 204, "sent"}, {"slack", 399, "sent"}, {"slack", 400, "failed"}, {"slack", 500, "failed"},
		{"teams", 204, "failed"}, {"teams", 201, "failed"}, {"teams", 500, "failed"},
		{"gchat", 202, "failed"}, {"gchat", 404, "failed"},
		{"raw", 204, "sent"}, {"raw", 403, "failed"}, {"raw", 503, "failed"},
	} {
		t.Run(row.sink+" "+http.StatusText(row.code), func(t *testing.T) {
			srv, got := recorder(t, status(row.code))
			s, counted := started(t, Config{OnReload: true, Sink: row.sink, URL: srv.URL}, nil, nil)
			s.Reloaded(reload)
			assert.Equal(t, "alert/"+row.result, next(t, counted))
			next(t, got)
			assert.Empty(t, got, "a failing status is never retried")
		})
	}
}

func TestTheWebhookPostIsReloadersAndItsStatusIsNotChecked(t *testing.T) {
	srv, got := recorder(t, status(http.StatusInternalServerError))
	s, counted := started(t, Config{WebhookURL: srv.URL + "/reloaded"}, nil, nil)
	s.Changed("SECRET", "db", "shop")
	assert.Equal(t, received{"POST", "/reloaded", "application/json", `{"webhook":"update successful"}`, true}, next(t, got))
	assert.Equal(t, "webhook/sent", next(t, counted))
	assert.Empty(t, got, "a status is never retried")
}

func TestRedirectsAreRefusedForAlertsAndFollowedForTheWebhook(t *testing.T) {
	redirect := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hook" {
			http.Redirect(w, r, "/landed", http.StatusFound)
		}
	}
	for _, row := range []struct {
		name   string
		client func(*httptest.Server) *http.Client
	}{
		{"cuscon's client", func(*httptest.Server) *http.Client { return nil }},
		{"a client given", func(srv *httptest.Server) *http.Client { return srv.Client() }},
	} {
		t.Run(row.name, func(t *testing.T) {
			srv, got := recorder(t, redirect)
			s, counted := started(t, Config{OnReload: true, Sink: "slack", URL: srv.URL + "/hook", WebhookURL: srv.URL + "/hook"}, row.client(srv), nil)

			s.Reloaded(reload)
			assert.Equal(t, "alert/failed", next(t, counted))
			assert.Equal(t, "/hook", next(t, got).target)
			assert.Empty(t, got, "the alert's redirect is not followed")

			s.Changed("CONFIGMAP", "app-config", "shop")
			assert.Equal(t, "webhook/sent", next(t, counted))
			assert.Equal(t, "/hook", next(t, got).target)
			assert.Equal(t, "GET /landed", func(r received) string { return r.method + " " + r.target }(next(t, got)),
				"the webhook's redirect is followed, as Go follows a 302")
		})
	}
}

func TestAlertsGoThroughAlertWebhookProxy(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is reachable only through the proxy.
	proxy, got := recorder(t, status(http.StatusOK))
	s, counted := unstarted(t, Config{OnReload: true, URL: "http://192.0.2.1/services/T/B/x", Proxy: proxy.URL}, nil, nil)
	s.timeout = time.Second
	run(t, s)
	s.Reloaded(reload)
	r := next(t, got)
	assert.Equal(t, "http://192.0.2.1/services/T/B/x", r.target, "the proxy is asked for the absolute URL")
	assert.Equal(t, "text/plain", r.contentType)
	assert.Equal(t, "alert/sent", next(t, counted))
}

func TestAlertsAndTheWebhookIgnoreTheEnvironmentsProxy(t *testing.T) {
	envProxy, got := recorder(t, status(http.StatusOK))
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(k, envProxy.URL)
	}
	s, counted := unstarted(t, Config{OnReload: true, URL: "http://192.0.2.1/a", WebhookURL: "http://192.0.2.1/w"}, nil, nil)
	// net/http reads the environment once per process, so the transports are checked too.
	require.Nil(t, s.alerts.Transport.(*http.Transport).Proxy)
	require.Nil(t, s.webhook.Transport.(*http.Transport).Proxy)
	s.timeout = 100 * time.Millisecond
	run(t, s)
	s.Reloaded(reload)
	s.Changed("CONFIGMAP", "app-config", "shop")
	assert.Equal(t, "alert/failed", next(t, counted))
	assert.Equal(t, "webhook/failed", next(t, counted))
	assert.Empty(t, got, "HTTP_PROXY is not used")
}
