// sender.go does the I/O: a bounded queue that Reloaded and Changed fill without ever
// waiting, and Run, which drains it one POST at a time, each under a timeout.

package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"cuscon/internal/backoff"
)

const (
	// queueSize bounds what waits to be sent. Past it, messages are dropped and counted:
	// alerts are a courtesy, and memory must not grow while an endpoint is down.
	queueSize = 256
	// timeout bounds each attempt, body included. Reloader has none, so one hanging
	// endpoint stops its reloads for good (spec §10 row 9).
	timeout = 10 * time.Second
	// maxBody is how much of a response is read before it is closed; nothing needs more.
	maxBody = 4 << 10
)

// Results, as counted.
const (
	resultSent    = "sent"
	resultFailed  = "failed"
	resultDropped = "dropped"
)

// errRedirect refuses redirects of alerts, as Reloader does: a webhook that redirects
// usually means a revoked or mistyped token.
var errRedirect = errors.New("redirect refused: alerts do not follow redirects (incorrect token?)")

// Sender queues alerts and webhook POSTs and sends them from Run, so that no reload ever
// waits on an endpoint. Reloaded and Changed may be called from any goroutine.
type Sender struct {
	cfg     Config
	alerts  *http.Client // refuses redirects; Config.Proxy or no proxy
	webhook *http.Client // follows redirects; no proxy
	log     *slog.Logger
	count   func(what, result string)
	queue   chan post
	timeout time.Duration  // per attempt; tests shorten it
	retry   backoff.Policy // between webhook attempts: 1 s doubling to 30 s; tests shorten it
}

// New returns a Sender for c; nothing is sent until Run. c should have passed Validate.
//
// client nil means cuscon's own: a 10 s timeout per attempt, Config.Proxy (or no proxy,
// whatever HTTP_PROXY says) for alerts, no proxy for the webhook, redirects refused for
// alerts and followed for the webhook. A client given is used for both, its proxy and
// transport untouched, but alerts still refuse redirects and every attempt still times
// out. log nil discards; count, called with what "alert" or "webhook" and result "sent",
// "failed" or "dropped", may be nil.
func New(c Config, client *http.Client, log *slog.Logger, count func(what, result string)) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if count == nil {
		count = func(string, string) {}
	}
	webhook := client
	if webhook == nil {
		webhook = &http.Client{Transport: newTransport(nil)}
	}
	alerts := &http.Client{Transport: newTransport(proxyFunc(c.Proxy))}
	if client != nil {
		copied := *client
		alerts = &copied
	}
	alerts.CheckRedirect = func(*http.Request, []*http.Request) error { return errRedirect }
	return &Sender{
		cfg: c, alerts: alerts, webhook: webhook, log: log, count: count,
		queue:   make(chan post, queueSize),
		timeout: timeout,
		retry:   backoff.Policy{Initial: time.Second, Max: 30 * time.Second},
	}
}

// newTransport is Reloader's transport: a zero one with proxy (nil: none, never the
// environment) and keep-alives off, so each POST carries "Connection: close"; alerts are
// too rare for a pooled connection to help. Its dials and handshakes have no bounds of
// their own; the request's timeout bounds them.
func newTransport(proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	return &http.Transport{Proxy: proxy, DisableKeepAlives: true}
}

// proxyFunc is ALERT_WEBHOOK_PROXY for a transport. A proxy that does not parse fails
// every alert rather than letting it leave without the proxy the user asked for.
func proxyFunc(raw string) func(*http.Request) (*url.URL, error) {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		err = fmt.Errorf("ALERT_WEBHOOK_PROXY: %w", redact(err))
		return func(*http.Request) (*url.URL, error) { return nil, err }
	}
	return http.ProxyURL(u)
}

// Reloaded queues the alert for r when alerts are on. It never blocks: when the queue is
// full the alert is dropped and counted.
func (s *Sender) Reloaded(r Reload) {
	if s.cfg.OnReload {
		s.enqueue(alertPost(s.cfg, r))
	}
}

// Changed queues --webhook-url's POST for a changed ConfigMap or Secret (objectType
// CONFIGMAP or SECRET); nothing when there is no webhook URL. It never blocks.
func (s *Sender) Changed(objectType, name, namespace string) {
	if s.cfg.WebhookURL == "" {
		return
	}
	s.log.Info(fmt.Sprintf("Changes detected in '%s' of type '%s' in namespace '%s', sending webhook", name, objectType, namespace),
		"host", hostOf(s.cfg.WebhookURL))
	s.enqueue(webhookPost(s.cfg.WebhookURL))
}

func (s *Sender) enqueue(p post) {
	select {
	case s.queue <- p:
	default:
		s.log.Warn("Queue full; dropped", "what", p.what, "host", hostOf(p.url), "queued", queueSize)
		s.count(p.what, resultDropped)
	}
}

// Run sends what is queued, one POST at a time, until ctx ends; what is still queued then
// is not sent.
func (s *Sender) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-s.queue:
			s.deliver(ctx, p)
		}
	}
}

// deliver makes p's attempts, then logs and counts the outcome. Only the webhook has more
// than one, and its status is never a failure, so only a transport error is retried, as
// Reloader re-queues such an event.
func (s *Sender) deliver(ctx context.Context, p post) {
	host := hostOf(p.url)
	bo := s.retry.Start()
	for attempt := 1; ; attempt++ {
		code, err := s.send(ctx, p)
		if err == nil && !p.accept.ok(code) {
			err = fmt.Errorf("status %d %s", code, http.StatusText(code))
		}
		if err == nil {
			s.log.Debug("Sent", "what", p.what, "host", host, "status", code)
			s.count(p.what, resultSent)
			return
		}
		if attempt >= p.attempts || !bo.Wait(ctx) {
			s.log.Error("Error sending "+p.what, "host", host, "attempts", attempt, "err", err)
			s.count(p.what, resultFailed)
			return
		}
		s.log.Warn("Error sending "+p.what+"; retrying", "host", host, "attempt", attempt, "err", err)
	}
}

// send makes one attempt and returns the status, 0 when the transport failed. The body
// is read up to maxBody, so that a slow one falls under the timeout too, and closed.
func (s *Sender) send(ctx context.Context, p post) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return 0, fmt.Errorf("building the request: %w", redact(err))
	}
	req.Header.Set("Content-Type", p.contentType)
	client := s.webhook
	if p.what == whatAlert {
		client = s.alerts
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, redact(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)); err != nil {
		return 0, fmt.Errorf("reading the response: %w", err)
	}
	return resp.StatusCode, nil
}
