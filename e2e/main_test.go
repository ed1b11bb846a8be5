// Package e2e proves cuscon against a real control plane: a real kube-apiserver (with
// etcd, controller-manager, scheduler, and kwok as the kubelet) behind a real kubectl
// proxy that authenticates as cuscon's own ServiceAccount with the Role from
// manifests/base/rbac.yaml. The real cuscon binary is started as the sidecar Deployment starts
// it: only res_namespace set, the proxy on 127.0.0.1:8001.
//
// main_test.go starts the plane once for all tests; each test gets its own namespace.
// The tests run when CUSCON_PLANE_BIN names the binaries hack/build-plane.sh built
// (hack/test.sh sets it); without it they are skipped, unless CUSCON_E2E=1 demands them.
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"cuscon/internal/plane"
)

// suite is what every test shares: set up by TestMain, read-only afterwards.
var suite struct {
	plane    *plane.Plane
	root     string // the repository root
	dir      string // logs and data of this run
	cuscon   string // the cuscon binary under test
	proxyURL string // where each test's kubectl proxy listens
	health   string // where cuscon serves /healthz, /readyz, /metrics: its default :8080 if free
}

// minRequestTimeout makes the apiserver end every watch after 5 to 10 seconds, so every
// test also runs across watch reconnects.
const minRequestTimeout = 5

func TestMain(m *testing.M) {
	bin := os.Getenv("CUSCON_PLANE_BIN")
	if bin == "" {
		if os.Getenv("CUSCON_E2E") == "1" {
			fmt.Fprintln(os.Stderr, "e2e: CUSCON_E2E=1 but CUSCON_PLANE_BIN is not set; run hack/test.sh")
			os.Exit(1)
		}
		fmt.Println("e2e: skipped: CUSCON_PLANE_BIN is not set (hack/test.sh builds the plane and sets it)")
		os.Exit(0)
	}
	os.Exit(runSuite(m, bin))
}

func runSuite(m *testing.M, bin string) int {
	var err error
	if suite.root, err = filepath.Abs(".."); err != nil {
		return fail(err)
	}
	if suite.dir, err = os.MkdirTemp("", "cuscon-e2e-"); err != nil {
		return fail(err)
	}
	suite.cuscon = filepath.Join(suite.dir, "cuscon")
	build := exec.Command("go", "build", "-trimpath", "-o", suite.cuscon, ".")
	build.Dir, build.Stdout, build.Stderr = suite.root, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		return fail(fmt.Errorf("build cuscon: %w", err))
	}
	suite.proxyURL = freeOr("127.0.0.1:8001", "the proxy")
	suite.health = freeOr("127.0.0.1:8080", "cuscon's health and metrics")
	ctx := context.Background()
	suite.plane, err = plane.Start(ctx, plane.Options{
		BinDir: bin, Dir: suite.dir, MinRequestTimeout: minRequestTimeout, Progress: os.Stderr,
	})
	if err != nil {
		return fail(err)
	}
	code := m.Run()
	suite.plane.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: failed; logs kept in %s\n%s", suite.dir, suite.plane.Tails(20))
	} else {
		os.RemoveAll(suite.dir)
	}
	return code
}

// freeOr returns http://addr if that loopback port is free on this machine, as in a
// pod; otherwise a free port, which the tests then pass on explicitly.
func freeOr(addr, what string) string {
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		return "http://" + addr
	}
	ports, err := plane.FreePorts(1)
	if err != nil {
		return "http://" + addr
	}
	fmt.Fprintf(os.Stderr, "e2e: %s is taken here; %s uses port %d instead\n", addr, what, ports[0])
	return fmt.Sprintf("http://127.0.0.1:%d", ports[0])
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "e2e:", err)
	if suite.dir != "" {
		fmt.Fprintln(os.Stderr, "e2e: logs in", suite.dir)
	}
	return 1
}
