// api.go is the one place that talks HTTP to the Kubernetes API: it builds every path,
// sends requests through the kubectl proxy, and turns every non-2xx answer into an
// *apiError.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// collectionPath is the URL of res in ns, or in every namespace when ns is "".
func collectionPath(res resource, ns string) string {
	if ns == "" {
		return "/api/v1/" + res.Plural
	}
	return "/api/v1/namespaces/" + url.PathEscape(ns) + "/" + res.Plural
}

// objectPath is the URL of one ConfigMap, Secret, Pod or Event.
func objectPath(res resource, ns, name string) string {
	return collectionPath(res, ns) + "/" + url.PathEscape(name)
}

// evictionPath is the URL of p's eviction subresource.
func evictionPath(p *pod) string {
	return objectPath(podResource, p.Metadata.Namespace, p.Metadata.Name) + "/eviction"
}

// workloadPath is the URL of an apps/v1 object: a Deployment, StatefulSet, DaemonSet or
// ReplicaSet.
func workloadPath(kind, ns, name string) string {
	return "/apis/apps/v1/namespaces/" + url.PathEscape(ns) + "/" + strings.ToLower(kind) + "s/" + url.PathEscape(name)
}

// leasePath is the URL of a coordination.k8s.io/v1 Lease; with name "" the collection's.
func leasePath(ns, name string) string {
	p := "/apis/coordination.k8s.io/v1/namespaces/" + url.PathEscape(ns) + "/leases"
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// dryRunQuery is the query of a write: dryRun=All in a dry run, else nothing.
func dryRunQuery(dryRun bool) url.Values {
	if dryRun {
		return url.Values{"dryRun": {"All"}}
	}
	return nil
}

// requestTimeout bounds every request except a watch, whose body is read for minutes.
const requestTimeout = 30 * time.Second

// apiClient sends requests to the Kubernetes API at base (the proxy's address).
type apiClient struct {
	base    *url.URL
	http    *http.Client
	metrics *metrics
}

// newAPIClient returns a client for the API served at base, e.g. http://127.0.0.1:8001,
// sending through rt (nil: a plain transport, as for the proxy).
func newAPIClient(base string, rt http.RoundTripper) (*apiClient, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want scheme://host[:port]", base)
	}
	if rt == nil {
		rt = newTransport()
	}
	// No http.Client.Timeout: it would cut watch bodies; contexts bound each request.
	// Requests are counted in a registry of their own until connect shares the app's.
	return &apiClient{base: u, http: &http.Client{Transport: rt}, metrics: newMetrics()}, nil
}

// newTransport is the HTTP transport for the API: short dials, enough idle connections,
// a bound on waiting for response headers, and no HTTP proxy from the environment.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: requestTimeout,
	}
}

// apiError is a non-2xx answer: the HTTP code and, when the body was a Status, its reason
// and message; otherwise the start of the plain-text body the proxy sent.
type apiError struct {
	Code    int
	Reason  string
	Message string
	// RetryAfter is the server's Retry-After, if it sent one (a 429 may).
	RetryAfter time.Duration
}

func (e *apiError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// status is the API's Status object, the body of errors and of watch ERROR events.
type status struct {
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// errorCode is the HTTP code of err if it is an *apiError, else 0.
func errorCode(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// isTransient reports whether retrying may help. Only an answer of the API is final: a
// 4xx other than 408 and 429 (refused, invalid, forbidden, not found). Everything else
// may pass: no answer, a timeout, a 5xx, a body cut off or garbled on its way. A request
// cancelled by cuscon itself is not retried either.
func isTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code == http.StatusRequestTimeout || ae.Code == http.StatusTooManyRequests || ae.Code >= 500
	}
	return true
}

// refusedLoopback reports whether err is a refused connection to an API address on this
// host: the proxy sidecar is down or restarting, not a remote server in trouble.
func (c *apiClient) refusedLoopback(err error) bool {
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	ip := net.ParseIP(c.base.Hostname())
	return c.base.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
}

// url builds the address of path with query on the API.
func (c *apiClient) url(path string, query url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	return u.String()
}

// send performs one request and returns the response when its code is 2xx; otherwise it
// closes the body and returns an *apiError.
func (c *apiClient) send(ctx context.Context, method, path string, query url.Values, contentType string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s body: %w", method, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, query), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	verb := method
	if query.Get("watch") == "true" {
		verb = "WATCH"
	}
	began := time.Now()
	resp, err := c.http.Do(req)
	c.metrics.apiDuration.observe(time.Since(began).Seconds(), "verb", verb)
	if err != nil {
		c.metrics.apiRequests.inc("verb", verb, "code", "error")
		return nil, err
	}
	c.metrics.apiRequests.inc("verb", verb, "code", strconv.Itoa(resp.StatusCode))
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp, nil
}

// readAPIError decodes a failed response: a JSON Status from the API, or the plain text
// that kubectl proxy sends for its own errors.
func readAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var retry time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retry = time.Duration(secs) * time.Second
	}
	var st status
	if json.Unmarshal(b, &st) == nil && st.Kind == "Status" {
		return &apiError{Code: resp.StatusCode, Reason: st.Reason, Message: st.Message, RetryAfter: retry}
	}
	return &apiError{Code: resp.StatusCode, Message: truncate(strings.TrimSpace(string(b)), 200), RetryAfter: retry}
}

// truncate shortens s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}

// call sends a request bounded by requestTimeout and decodes a 2xx JSON answer into out
// (if out is not nil).
func (c *apiClient) call(ctx context.Context, method, path string, query url.Values, contentType string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.send(ctx, method, path, query, contentType, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// getStream GETs path and hands the 2xx body to read, bounded by requestTimeout.
func (c *apiClient) getStream(ctx context.Context, path string, query url.Values, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.send(ctx, http.MethodGet, path, query, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return read(resp.Body)
}

// get decodes the JSON at path into out.
func (c *apiClient) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.call(ctx, http.MethodGet, path, query, "", nil, out)
}

// stream opens a long-lived GET (a watch) and returns its body for the caller to close.
func (c *apiClient) stream(ctx context.Context, path string, query url.Values) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, path, query, "", nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
