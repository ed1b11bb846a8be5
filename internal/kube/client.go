// Package kube is how cuscon talks to the Kubernetes API, by raw HTTP and without
// client-go: a client that sends through the kubectl proxy sidecar (or, in-cluster,
// straight to the API server with the ServiceAccount's token) and turns every non-2xx
// answer into an *APIError that says whether retrying may help; the few API types
// cuscon reads; a streaming decoder that holds one object at a time; the list-then-watch
// loop that survives ended, broken and expired watches; and Events. It knows what the
// API says, not what cuscon decides about it.
package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"cuscon/internal/telemetry"
)

// requestTimeout bounds every request except a watch, whose body is read for minutes.
const requestTimeout = 30 * time.Second

// Client sends requests to the Kubernetes API at base (the proxy's address), counting
// them in metrics.
type Client struct {
	base    *url.URL
	http    *http.Client
	metrics *telemetry.Metrics

	versionMu  sync.Mutex
	listsWhole *bool // ListsWhole's answer, once the server gave one
}

// NewClient returns a client for the API served at base, e.g. http://127.0.0.1:8001,
// sending through rt (nil: a plain transport, as for the proxy) and counting requests
// in m.
func NewClient(base string, rt http.RoundTripper, m *telemetry.Metrics) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want scheme://host[:port]", base)
	}
	if rt == nil {
		rt = newTransport()
	}
	// No http.Client.Timeout: it would cut watch bodies; contexts bound each request.
	return &Client{base: u, http: &http.Client{Transport: rt}, metrics: m}, nil
}

// Base is the address the client sends to.
func (c *Client) Base() string { return c.base.String() }

// newTransport is the HTTP transport for the API: short dials, enough idle connections,
// a bound on waiting for response headers, and no HTTP proxy from the environment.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   64, // a change's DELETEs go at once (restart.Options.Parallel)
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: requestTimeout,
	}
}

// url builds the address of path with query on the API.
func (c *Client) url(path string, query url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	return u.String()
}

// send performs one request and returns the response when its code is 2xx; otherwise it
// closes the body and returns an *APIError.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, contentType string, body any) (*http.Response, error) {
	return c.sendAs(ctx, method, path, query, contentType, "", body)
}

// Accept values that ask the API for objects' metadata only (PartialObjectMetadata),
// which spares it and cuscon the rest of each object.
const (
	AcceptMetadata     = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
	AcceptMetadataList = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
)

// sendAs is send with an Accept header ("": JSON).
func (c *Client) sendAs(ctx context.Context, method, path string, query url.Values, contentType, accept string, body any) (*http.Response, error) {
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
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	verb := method
	if query.Get("watch") == "true" {
		verb = "WATCH"
	}
	began := time.Now()
	resp, err := c.http.Do(req)
	c.metrics.APIDuration.Observe(time.Since(began).Seconds(), "verb", verb)
	if err != nil {
		c.metrics.APIRequests.Inc("verb", verb, "code", "error")
		return nil, err
	}
	c.metrics.APIRequests.Inc("verb", verb, "code", strconv.Itoa(resp.StatusCode))
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp, nil
}

// Call sends a request bounded by requestTimeout and decodes a 2xx JSON answer into out
// (if out is not nil). body, if not nil, is sent as JSON with contentType.
func (c *Client) Call(ctx context.Context, method, path string, query url.Values, contentType string, body, out any) error {
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

// Get decodes the JSON at path into out.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	return c.Call(ctx, http.MethodGet, path, query, "", nil, out)
}

// Patch sends a patch of patchType (application/merge-patch+json, ...) to path, as a dry
// run if dryRun.
func (c *Client) Patch(ctx context.Context, path, patchType string, patch any, dryRun bool) error {
	return c.Call(ctx, http.MethodPatch, path, DryRunQuery(dryRun), patchType, patch, nil)
}

// GetStream GETs path and hands the 2xx body to read; accept, if not "", is the Accept
// header (AcceptMetadataList). The answer must begin within requestTimeout (the
// transport's bound on response headers) and its body must not pause for as long, but a
// body that keeps coming is not cut: a list in one request of a large collection may
// take longer than any fixed bound, where each page of a paged one took far less.
func (c *Client) GetStream(ctx context.Context, path string, query url.Values, accept string, read func(io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := c.sendAs(ctx, http.MethodGet, path, query, "", accept, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return read(newIdleReader(resp.Body, requestTimeout, cancel))
}

// Stream opens a long-lived GET (a watch) and returns its body for the caller to close;
// accept, if not "", is the Accept header (AcceptMetadata).
func (c *Client) Stream(ctx context.Context, path string, query url.Values, accept string) (io.ReadCloser, error) {
	resp, err := c.sendAs(ctx, http.MethodGet, path, query, "", accept, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
