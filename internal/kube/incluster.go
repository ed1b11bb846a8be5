// incluster.go lets cuscon talk to the API server directly, without the kubectl proxy
// sidecar: the address from the pod's environment, the cluster CA and the
// ServiceAccount token from the mounted files. Projected tokens rotate, so the token
// is read again every minute, as client-go does.

package kube

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"cuscon/internal/envflag"
	"cuscon/internal/telemetry"
)

// Connection says how the API is reached: through the kubectl proxy at APIURL, or,
// InCluster, straight to the API server with the ServiceAccount mounted in
// ServiceAccountDir.
type Connection struct {
	APIURL            string
	InCluster         bool
	ServiceAccountDir string
}

// DefineFlags defines the flags of c in s, under the group it is in.
func (c *Connection) DefineFlags(s *envflag.Set) {
	s.String(&c.APIURL, "api-url", "CUSCON_API_URL", "http://127.0.0.1:8001", "Kubernetes API address: the kubectl proxy sidecar")
	s.Bool(&c.InCluster, "in-cluster", "CUSCON_IN_CLUSTER", false, "talk to the API server directly with the pod's ServiceAccount, no proxy sidecar")
	s.String(&c.ServiceAccountDir, "service-account-dir", "CUSCON_SERVICE_ACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount", "with --in-cluster: where the token and ca.crt are")
}

// Connect returns a client for the API as c says, counting requests in m.
func Connect(c Connection, m *telemetry.Metrics) (*Client, error) {
	base, rt := c.APIURL, http.RoundTripper(nil)
	if c.InCluster {
		var err error
		if base, rt, err = inClusterConfig(c.ServiceAccountDir); err != nil {
			return nil, err
		}
	}
	return NewClient(base, rt, m)
}

// ServiceAccountNamespace is the namespace the kubelet mounts beside the ServiceAccount
// token in dir (every container of a pod that mounts the token has it), or "".
func ServiceAccountNamespace(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// inClusterConfig returns the API's address and a transport that trusts the cluster CA
// and authenticates with the ServiceAccount token found in dir.
func inClusterConfig(dir string) (string, http.RoundTripper, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return "", nil, fmt.Errorf("in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return "", nil, fmt.Errorf("in-cluster: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return "", nil, fmt.Errorf("in-cluster: no certificate in %s", filepath.Join(dir, "ca.crt"))
	}
	tokens := &tokenFile{path: filepath.Join(dir, "token"), every: time.Minute}
	if _, err := tokens.get(); err != nil {
		return "", nil, err
	}
	t := newTransport()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return "https://" + net.JoinHostPort(host, port), &bearerTransport{next: t, tokens: tokens}, nil
}

// tokenFile reads a token file, again once every so often.
type tokenFile struct {
	path  string
	every time.Duration

	mu     sync.Mutex
	token  string
	readAt time.Time
}

// get returns the token, reading the file again if the last read is older than every.
// If a re-read fails, the token read before is kept.
func (f *tokenFile) get() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != "" && time.Since(f.readAt) < f.every {
		return f.token, nil
	}
	b, err := os.ReadFile(f.path)
	if t := strings.TrimSpace(string(b)); err == nil && t != "" {
		f.token, f.readAt = t, time.Now()
	} else if f.token == "" {
		return "", fmt.Errorf("in-cluster: read token %s: %v", f.path, err)
	}
	return f.token, nil
}

// bearerTransport adds the current token to every request.
type bearerTransport struct {
	next   http.RoundTripper
	tokens *tokenFile
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	token, err := t.tokens.get()
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+token)
	return t.next.RoundTrip(req)
}
