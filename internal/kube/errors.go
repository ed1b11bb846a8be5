// errors.go reads the API's answers that are not 2xx: a JSON Status from the API, or the
// plain text kubectl proxy sends for its own errors; and says which failures may pass.

package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// APIError is a non-2xx answer: the HTTP code and, when the body was a Status, its
// reason and message; otherwise the start of the plain-text body the proxy sent.
type APIError struct {
	Code    int
	Reason  string
	Message string
	// RetryAfter is the server's Retry-After, if it sent one (a 429 may).
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Status is the API's Status object, the body of errors and of watch ERROR events.
type Status struct {
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Code is the HTTP code of err if it is an *APIError, else 0.
func Code(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// IsTransient reports whether retrying may help. Only an answer of the API is final: a
// 4xx other than 408 and 429 (refused, invalid, forbidden, not found). Everything else
// may pass: no answer, a timeout, a 5xx, a body cut off or garbled on its way. A request
// cancelled by cuscon itself is not retried either.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code == http.StatusRequestTimeout || ae.Code == http.StatusTooManyRequests || ae.Code >= 500
	}
	return true
}

// RefusedLoopback reports whether err is a refused connection to an API address on this
// host: the proxy sidecar is down or restarting, not a remote server in trouble.
func (c *Client) RefusedLoopback(err error) bool {
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	ip := net.ParseIP(c.base.Hostname())
	return c.base.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
}

// readAPIError decodes a failed response: a JSON Status from the API, or the plain text
// that kubectl proxy sends for its own errors.
func readAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var retry time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retry = time.Duration(secs) * time.Second
	}
	var st Status
	if json.Unmarshal(b, &st) == nil && st.Kind == "Status" {
		return &APIError{Code: resp.StatusCode, Reason: st.Reason, Message: st.Message, RetryAfter: retry}
	}
	return &APIError{Code: resp.StatusCode, Message: Truncate(strings.TrimSpace(string(b)), 200), RetryAfter: retry}
}

// Truncate shortens s to at most n bytes, marking the cut; what cuscon reports (an
// Event's message, a body) stays within what the API accepts.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}
