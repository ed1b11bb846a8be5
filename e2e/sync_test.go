// sync_test.go: `cuscon sync` on the real control plane, with a real HTTP reload
// endpoint (sidecar mode) and a real child process that records its SIGHUPs
// (subprocess mode), reading one ConfigMap under a Role limited to that name.
package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cuscon/internal/plane"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncSetup creates app-config (app.conf=v1) and the Role of manifests/sync/rbac.yaml
// renamed for it, and returns the environment a `cuscon sync` process needs to reach
// the proxy (which authenticates as the ServiceAccount bound to that Role).
func (c *cluster) syncSetup() []string {
	c.t.Helper()
	c.kubectl("create", "configmap", "app-config", "-n", c.ns, "--from-literal=app.conf=v1")
	rbac, err := os.ReadFile(filepath.Join(suite.root, "manifests/sync/rbac.yaml"))
	require.NoError(c.t, err)
	rbac = []byte(strings.ReplaceAll(strings.ReplaceAll(string(rbac), "prometheus-config", "app-config"), "name: prometheus", "name: app-sync"))
	c.kubectlIn(string(rbac), "apply", "-n", c.ns, "-f", "-")
	c.stopCuscon()
	c.stopProxy()
	token := strings.TrimSpace(c.kubectl("create", "token", "app-sync", "-n", c.ns, "--duration", "1h"))
	kubeconfig := filepath.Join(c.dir, "sync.kubeconfig")
	require.NoError(c.t, writeKubeconfig(kubeconfig, token))
	c.startProxy(kubeconfig)
	env := []string{"res_namespace=" + c.ns}
	if suite.proxyURL != "http://127.0.0.1:8001" {
		env = append(env, "CUSCON_API_URL="+suite.proxyURL)
	}
	return env
}

// startSync starts `cuscon sync` with args and env, logging to sync.log.
func (c *cluster) startSync(env []string, args ...string) *plane.Process {
	c.t.Helper()
	proc, err := plane.StartProcess(c.dir, "sync", env, suite.cuscon, append([]string{"sync"}, args...)...)
	require.NoError(c.t, err)
	c.t.Cleanup(func() { proc.Stop(5 * time.Second) })
	return proc
}

func TestSyncSidecarReloadsOncePerChangeAndGoesRedWhenReloadsFail(t *testing.T) {
	c := newCluster(t)
	env := c.syncSetup()
	dir := filepath.Join(c.dir, "config")
	var mu sync.Mutex
	var reloads []string
	status := http.StatusOK
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := os.ReadFile(filepath.Join(dir, "app.conf"))
		reloads = append(reloads, string(b))
		w.WriteHeader(status)
	}))
	defer app.Close()
	seen := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), reloads...) }
	ports, err := plane.FreePorts(1)
	require.NoError(t, err)
	health := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	c.startSync(append(env, "CUSCON_RELOAD_RETRIES=2"), "--configmap", "app-config", "--dir", dir,
		"--reload-url", app.URL+"/-/reload", fmt.Sprintf("--listen-address=127.0.0.1:%d", ports[0]))

	c.eventually("the first sync", func() bool { code, _ := probe(health, "/readyz"); return code == 200 })
	b, err := os.ReadFile(filepath.Join(dir, "app.conf"))
	require.NoError(t, err)
	assert.Equal(t, "v1", string(b))
	assert.Empty(t, seen(), "no reload for the first sync")

	c.setData("app-config", "app.conf", "v2")
	c.eventually("one reload", func() bool { return len(seen()) == 1 })
	c.kubectl("label", "configmap", "app-config", "-n", c.ns, "edited=yes")
	c.setData("app-config", "app.conf", "v3")
	c.eventually("a second reload", func() bool { return len(seen()) == 2 })
	assert.Equal(t, []string{"v2", "v3"}, seen(), "one reload per content change, none for the label")

	// A key that would replace a file the app wrote itself: refused, nothing reloaded.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.db"), []byte("the app's"), 0o644))
	c.setData("app-config", "state.db", "overwrite")
	c.eventually("the refusal", func() bool { return strings.Contains(c.logOf("sync"), "Could not write the new configuration") })
	b, _ = os.ReadFile(filepath.Join(dir, "state.db"))
	assert.Equal(t, "the app's", string(b))
	assert.Len(t, seen(), 2)

	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	c.kubectl("patch", "configmap", "app-config", "-n", c.ns, "--type", "json", "-p",
		`[{"op":"remove","path":"/data/state.db"},{"op":"replace","path":"/data/app.conf","value":"v4"}]`)
	c.eventually("/healthz to go red", func() bool { code, _ := probe(health, "/healthz"); return code == 503 })
	_, why := probe(health, "/healthz")
	assert.Contains(t, why, "500 Internal Server Error")
}

func TestSyncSubprocessStartsAfterTheFilesSignalsReloadsAndExitsWithTheChildsCode(t *testing.T) {
	c := newCluster(t)
	env := c.syncSetup()
	child := filepath.Join(c.dir, "child")
	build := exec.Command("go", "build", "-o", child, "./e2e/testdata/child")
	build.Dir = suite.root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	dir := filepath.Join(c.dir, "config")
	childLog := filepath.Join(c.dir, "child-events.log")
	ports, err := plane.FreePorts(1)
	require.NoError(t, err)
	env = append(env, "CHILD_DIR="+dir, "CHILD_LOG="+childLog, "CHILD_EXIT_CODE=7")
	proc := c.startSync(env, "--configmap", c.ns+"/app-config", "--dir", dir,
		fmt.Sprintf("--listen-address=127.0.0.1:%d", ports[0]), "--", child)
	events := func() []string {
		b, _ := os.ReadFile(childLog)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	c.eventually("the child to start", func() bool { return len(events()) >= 1 && events()[0] != "" })
	assert.Equal(t, "start: v1", events()[0], "the files were written before the child started")

	c.setData("app-config", "app.conf", "v2")
	c.eventually("a SIGHUP", func() bool { return len(events()) == 2 })
	c.kubectl("annotate", "configmap", "app-config", "-n", c.ns, "note=metadata only")
	c.setData("app-config", "app.conf", "v3")
	c.eventually("a second SIGHUP", func() bool { return len(events()) == 3 })
	assert.Equal(t, []string{"start: v1", "reload: v2", "reload: v3"}, events())

	require.NoError(t, proc.Signal(syscall.SIGTERM))
	select {
	case <-proc.Done():
	case <-time.After(waitTimeout):
		t.Fatal("cuscon sync did not exit after SIGTERM")
	}
	assert.Equal(t, "term: v3", events()[len(events())-1], "SIGTERM was passed on")
	assert.Equal(t, 7, proc.ExitCode(), "the child's exit code is cuscon's")
}
