// Package plane runs a real Kubernetes control plane on loopback for cuscon's end-to-end
// tests and demo: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok
// as a fake kubelet, so that pods of a Deployment are scheduled, turn Ready, and are
// replaced when deleted, as in a cluster. The binaries come from hack/build-plane.sh.
package plane

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// AdminToken is the bearer token of the plane's cluster admin.
const AdminToken = "cuscon-e2e-admin-token"

// NodeName is the fake node kwok runs pods on.
const NodeName = "kwok-node-0"

// Options tune the plane.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
	// kwok and kwok-stages.yaml.
	BinDir string
	// Dir receives data, certificates, kubeconfigs and one log file per process.
	Dir string
	// MinRequestTimeout is the apiserver's --min-request-timeout in seconds: a watch
	// without timeoutSeconds ends after between one and two times this. 0: the default.
	MinRequestTimeout int
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

// Plane is a running control plane.
type Plane struct {
	opts Options
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	// Server is the apiserver's https URL.
	Server string
	procs  []*Process
}

// Start brings the plane up and returns once the node is Ready and schedulable. On
// error, whatever was started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Plane, err error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	p := &Plane{opts: opts, Kubeconfig: filepath.Join(opts.Dir, "admin.kubeconfig")}
	defer func() {
		if err != nil {
			p.Stop()
			err = fmt.Errorf("%w\n%s", err, p.Tails(30))
		}
	}()
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	if err := p.startEtcd(etcdURL, fmt.Sprintf("http://127.0.0.1:%d", ports[1])); err != nil {
		return nil, err
	}
	p.Server = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	if err := p.startAPIServer(ctx, etcdURL, ports[2]); err != nil {
		return nil, err
	}
	if err := WriteKubeconfig(p.Kubeconfig, p.Server, AdminToken); err != nil {
		return nil, err
	}
	if err := p.startControllers(); err != nil {
		return nil, err
	}
	if err := p.startNode(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintln(opts.Progress, "plane: ready")
	return p, nil
}

func (p *Plane) bin(name string) string { return filepath.Join(p.opts.BinDir, name) }

func (p *Plane) startEtcd(clientURL, peerURL string) error {
	fmt.Fprintln(p.opts.Progress, "plane: starting etcd")
	_, err := p.Run("etcd", nil, p.bin("etcd"),
		"--data-dir", filepath.Join(p.opts.Dir, "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL)
	return err
}

func (p *Plane) startAPIServer(ctx context.Context, etcdURL string, port int) error {
	fmt.Fprintln(p.opts.Progress, "plane: starting kube-apiserver")
	dir := p.opts.Dir
	keyFile := filepath.Join(dir, "sa.key")
	pubFile := filepath.Join(dir, "sa.pub")
	if err := writeServiceAccountKeys(keyFile, pubFile); err != nil {
		return err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(AdminToken+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return err
	}
	args := []string{
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", pubFile,
		"--service-account-signing-key-file", keyFile,
		"--service-cluster-ip-range", "10.96.0.0/24",
	}
	if p.opts.MinRequestTimeout > 0 {
		args = append(args, "--min-request-timeout", strconv.Itoa(p.opts.MinRequestTimeout))
	}
	if _, err := p.Run("kube-apiserver", nil, p.bin("kube-apiserver"), args...); err != nil {
		return err
	}
	return p.waitReady(ctx, fmt.Sprintf("https://127.0.0.1:%d/readyz", port))
}

// waitReady polls the apiserver's /readyz until it answers 200.
func (p *Plane) waitReady(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	return Eventually(ctx, 60*time.Second, "kube-apiserver /readyz", func() (bool, error) {
		if err := p.exited("kube-apiserver"); err != nil {
			return false, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

func (p *Plane) startControllers() error {
	fmt.Fprintln(p.opts.Progress, "plane: starting kube-controller-manager, kube-scheduler")
	_, err := p.Run("kube-controller-manager", nil, p.bin("kube-controller-manager"),
		"--kubeconfig", p.Kubeconfig, "--leader-elect=false",
		"--service-account-private-key-file", filepath.Join(p.opts.Dir, "sa.key"),
		"--root-ca-file", filepath.Join(p.opts.Dir, "certs", "apiserver.crt"),
		"--controllers", "*,-nodeipam,-nodelifecycle,-service,-route,-cloud-node-lifecycle",
		"--bind-address", "127.0.0.1", "--secure-port", "0")
	if err != nil {
		return err
	}
	_, err = p.Run("kube-scheduler", nil, p.bin("kube-scheduler"),
		"--kubeconfig", p.Kubeconfig, "--leader-elect=false", "--secure-port", "0")
	return err
}

// nodeJSON is the fake node: kwok manages it because of its annotation.
const nodeJSON = `{"apiVersion":"v1","kind":"Node","metadata":{"name":"` + NodeName + `",
 "annotations":{"kwok.x-k8s.io/node":"fake","node.alpha.kubernetes.io/ttl":"0"},
 "labels":{"kubernetes.io/hostname":"` + NodeName + `","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","type":"kwok"}},
 "status":{"capacity":{"cpu":"64","memory":"256Gi","pods":"500"},"allocatable":{"cpu":"64","memory":"256Gi","pods":"500"}}}`

func (p *Plane) startNode(ctx context.Context) error {
	fmt.Fprintln(p.opts.Progress, "plane: starting kwok and its node")
	_, err := p.Run("kwok", nil, p.bin("kwok"),
		"--kubeconfig", p.Kubeconfig, "--config", p.bin("kwok-stages.yaml"),
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--cidr", "10.0.0.1/24", "--node-ip", "10.0.0.1")
	if err != nil {
		return err
	}
	if _, err := p.KubectlIn(ctx, strings.NewReader(nodeJSON), "apply", "-f", "-"); err != nil {
		return err
	}
	err = Eventually(ctx, 60*time.Second, "node Ready", func() (bool, error) {
		out, err := p.Kubectl(ctx, "get", "node", NodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return err == nil && strings.TrimSpace(out) == "True", nil
	})
	if err != nil {
		return err
	}
	// Admission taints new nodes not-ready; the node-lifecycle controller that would
	// lift it is off, so lift it here once kwok has made the node Ready.
	_, err = p.Kubectl(ctx, "taint", "nodes", NodeName, "node.kubernetes.io/not-ready:NoSchedule-")
	if err != nil && !strings.Contains(err.Error(), "not found") {
		return err
	}
	return nil
}

// Kubectl runs the plane's kubectl as admin and returns its standard output.
func (p *Plane) Kubectl(ctx context.Context, args ...string) (string, error) {
	return p.KubectlIn(ctx, nil, args...)
}

// KubectlIn is Kubectl with standard input.
func (p *Plane) KubectlIn(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin("kubectl"), append([]string{"--kubeconfig", p.Kubeconfig}, args...)...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// KubectlPath is the kubectl binary the plane uses.
func (p *Plane) KubectlPath() string { return p.bin("kubectl") }

// Run starts a child process whose output goes to Dir/<name>.log and which Stop ends.
// env nil inherits this process's environment.
func (p *Plane) Run(name string, env []string, bin string, args ...string) (*Process, error) {
	proc, err := StartProcess(p.opts.Dir, name, env, bin, args...)
	if err != nil {
		return nil, err
	}
	p.procs = append(p.procs, proc)
	return proc, nil
}

// exited returns an error if the named process has ended.
func (p *Plane) exited(name string) error {
	for _, proc := range p.procs {
		if proc.Name == name && proc.Exited() {
			return fmt.Errorf("%s exited: %s", name, proc.cmd.ProcessState)
		}
	}
	return nil
}

// Stop ends every process the plane started, newest first.
func (p *Plane) Stop() {
	for i := len(p.procs) - 1; i >= 0; i-- {
		p.procs[i].Stop(10 * time.Second)
	}
	p.procs = nil
}

// Tails returns the last n lines of every process's log.
func (p *Plane) Tails(n int) string {
	var b strings.Builder
	entries, _ := filepath.Glob(filepath.Join(p.opts.Dir, "*.log"))
	for _, f := range entries {
		fmt.Fprintf(&b, "==> %s <==\n%s\n", f, Tail(f, n))
	}
	return b.String()
}

// writeServiceAccountKeys writes the RSA key pair that signs and verifies tokens.
func writeServiceAccountKeys(keyFile, pubFile string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	return errors.Join(
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600),
		os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644))
}
