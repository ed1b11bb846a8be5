// syncer_test.go proves `cuscon sync`: atomic writes that never leave half a
// configuration, refusal of unsafe keys with the old files kept, one reload per content
// change and none for metadata, and a failing reload turning /healthz red; and that it
// trusts nothing it finds in a directory the app can write: a planted ..data link never
// makes it remove anything outside its own versions, a planted ..cuscon-hash link is
// replaced, not followed, and the versions a killed cuscon left are cleaned at start.

package syncer

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// read returns the content of dir/name, or "" if it cannot be read.
func read(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return string(b)
}

func TestSecretFilesAreWrittenPrivately(t *testing.T) {
	dir := t.TempDir()
	obj := &kube.Object{Resource: kube.Secrets, Data: map[string]string{"password": "czNjcjN0"}}
	files, err := filesOf(obj)
	require.NoError(t, err)
	s := newSyncer(nil, nil, dir, true)
	require.NoError(t, s.writer.write(files, "h"))
	assert.Equal(t, "s3cr3t", read(dir, "password"), "a Secret's data is base64-decoded")
	fi, err := os.Stat(filepath.Join(dir, "password"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

// reloadServer is an app's reload endpoint that records what it found on disk.
type reloadServer struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []string // app.conf's content at each reload
	status int
}

func newReloadServer(t *testing.T, dir string) *reloadServer {
	rs := &reloadServer{status: http.StatusOK}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		rs.seen = append(rs.seen, read(dir, "app.conf"))
		w.WriteHeader(rs.status)
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *reloadServer) reloads() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.seen...)
}

// startSync runs `cuscon sync` in sidecar mode against f and returns its log and the
// base URL of its health server.
func startSync(t *testing.T, f *kubetest.API, dir, reloadURL string, retries int) (*kubetest.LogSink, string) {
	t.Helper()
	cfg := Config{Namespace: "default", Name: "app-config", Dir: dir, ReloadURL: reloadURL, ReloadMethod: http.MethodPost,
		ReloadRetries: retries, Connection: kube.Connection{APIURL: f.URL()},
		Telemetry: telemetry.Options{ListenAddress: "127.0.0.1:0", LogFormat: "text", LogLevel: "debug"}}
	log := kubetest.NewLogSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- Sync(ctx, cfg, "test", log) }()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, 0, <-done, "sidecar mode exits 0")
		if t.Failed() {
			t.Logf("cuscon sync log:\n%s", log.String())
		}
	})
	return log, log.ServerURL(t)
}

// conf returns ConfigMap data with app.conf set to s.
func conf(s string) map[string]string { return map[string]string{"app.conf": s} }

func TestSyncReloadsOncePerContentChangeAndNeverForMetadata(t *testing.T) {
	f := kubetest.New(t, "default")
	f.PutConfigMap("app-config", nil, conf("v1"))
	f.PutConfigMap("unrelated", nil, conf("other"))
	dir := filepath.Join(t.TempDir(), "config")
	rs := newReloadServer(t, dir)
	log, base := startSync(t, f, dir, rs.URL, 5)

	kubetest.WaitStatus(t, base+"/readyz", http.StatusOK)
	assert.Equal(t, "v1", read(dir, "app.conf"), "the first sync writes the files")
	assert.Empty(t, rs.reloads(), "an app that has read nothing is not told to reload")

	f.PutConfigMap("app-config", nil, conf("v2"))
	log.WaitFor(t, "Reloaded the app", 1)
	f.UpdateConfigMap("app-config", func(cm *kubetest.ConfigMap) { cm.Metadata.Labels = map[string]string{"edited": "yes"} })
	f.PutConfigMap("unrelated", nil, conf("changed"))
	f.PutConfigMap("app-config", map[string]string{"note": "x"}, conf("v2"))
	f.PutConfigMap("app-config", nil, conf("v3"))
	log.WaitFor(t, "Reloaded the app", 2)
	assert.Equal(t, []string{"v2", "v3"}, rs.reloads(), "one reload per content change, each seeing its files; another ConfigMap's change is not even seen")
	assert.NotContains(t, log.String(), "sha256:", "no digest of the content is logged: for a Secret's short value it gives the value away")
}

func TestSyncRefusesUnsafeKeysWithoutReloading(t *testing.T) {
	f := kubetest.New(t, "default")
	f.PutConfigMap("app-config", nil, conf("v1"))
	dir := filepath.Join(t.TempDir(), "config")
	rs := newReloadServer(t, dir)
	log, base := startSync(t, f, dir, rs.URL, 5)
	kubetest.WaitStatus(t, base+"/readyz", http.StatusOK)

	f.PutConfigMap("app-config", nil, map[string]string{"app.conf": "evil", "../../etc/cron.d/x": "boom"})
	log.WaitFor(t, "Could not write the new configuration", 1)
	f.PutConfigMap("app-config", nil, conf("v2"))
	log.WaitFor(t, "Reloaded the app", 1)
	assert.Equal(t, []string{"v2"}, rs.reloads(), "no reload for the refused configuration")
	assert.Contains(t, log.String(), "unsafe keys, nothing written")
	assert.Contains(t, log.String(), "cron.d/x")
}

func TestFailingReloadTurnsHealthzRedUntilItWorks(t *testing.T) {
	f := kubetest.New(t, "default")
	f.PutConfigMap("app-config", nil, conf("v1"))
	dir := filepath.Join(t.TempDir(), "config")
	rs := newReloadServer(t, dir)
	rs.status = http.StatusInternalServerError
	log, base := startSync(t, f, dir, rs.URL, 2)
	kubetest.WaitStatus(t, base+"/readyz", http.StatusOK)
	kubetest.WaitStatus(t, base+"/healthz", http.StatusOK)

	f.PutConfigMap("app-config", nil, conf("v2"))
	kubetest.WaitStatus(t, base+"/healthz", http.StatusServiceUnavailable)
	_, why := kubetest.Get(t, base+"/healthz")
	assert.Contains(t, why, "reloads in a row failed")
	assert.Contains(t, why, "500 Internal Server Error")
	rs.mu.Lock()
	rs.status = http.StatusOK
	rs.mu.Unlock()
	log.WaitFor(t, "Reloaded the app", 1)
	kubetest.WaitStatus(t, base+"/healthz", http.StatusOK)
}

func TestSyncConfig(t *testing.T) {
	var out bytes.Buffer
	c, err := ParseConfig([]string{"--configmap", "prod/prometheus", "--dir", "/cfg", "--reload-url", "http://localhost:9090/-/reload"}, func(string) string { return "" }, &out)
	require.NoError(t, err)
	assert.Equal(t, "prod", c.Namespace)
	assert.Equal(t, "prometheus", c.Name)
	assert.Equal(t, http.MethodPost, c.ReloadMethod)

	c, err = ParseConfig([]string{"--secret", "db", "--dir", "/cfg", "--", "postgres", "-c", "config_file=/cfg/pg.conf"}, func(k string) string { return map[string]string{"res_namespace": "shop"}[k] }, &out)
	require.NoError(t, err)
	assert.Equal(t, "shop", c.Namespace)
	assert.True(t, c.Secret)
	assert.Equal(t, []string{"postgres", "-c", "config_file=/cfg/pg.conf"}, c.Command)

	for name, args := range map[string][]string{
		"no mode":    {"--configmap", "a", "--dir", "/d"},
		"both modes": {"--configmap", "a", "--dir", "/d", "--reload-url", "http://x", "--", "app"},
		"no dir":     {"--configmap", "a", "--reload-url", "http://x"},
		"both kinds": {"--configmap", "a", "--secret", "b", "--dir", "/d", "--reload-url", "http://x"},
	} {
		_, err := ParseConfig(args, func(string) string { return "" }, &out)
		assert.Error(t, err, name)
	}
}

func TestFilesAreTheDecodedKeysOfTheObject(t *testing.T) {
	for _, row := range []struct {
		name string
		obj  kube.Object
		want map[string][]byte
		err  string
	}{
		{"ConfigMap data as text", kube.Object{Resource: kube.ConfigMaps, Data: map[string]string{"a.conf": "x=1"}},
			map[string][]byte{"a.conf": []byte("x=1")}, ""},
		{"binaryData decoded", kube.Object{Resource: kube.ConfigMaps, BinaryData: map[string]string{"logo.png": "iVBORw=="}},
			map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G'}}, ""},
		{"Secret data decoded", kube.Object{Resource: kube.Secrets, Data: map[string]string{"pw": "czNjcjN0"}},
			map[string][]byte{"pw": []byte("s3cr3t")}, ""},
		{"a key in both data and binaryData", kube.Object{Resource: kube.ConfigMaps, Data: map[string]string{"k": "a"}, BinaryData: map[string]string{"k": "YQ=="}},
			nil, `key "k" is in both`},
		{"Secret data that is not base64", kube.Object{Resource: kube.Secrets, Data: map[string]string{"pw": "%%%"}}, nil, `key "pw"`},
	} {
		t.Run(row.name, func(t *testing.T) {
			files, err := filesOf(&row.obj)
			if row.err != "" {
				assert.ErrorContains(t, err, row.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, row.want, files)
		})
	}
}

func TestAFailedReloadIsRetriedAndTurnsHealthRedAfterTheLimit(t *testing.T) {
	var mu sync.Mutex
	code := http.StatusInternalServerError
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "config invalid")
	}))
	defer srv.Close()
	send := httpReload(http.MethodPost, srv.URL)
	err := send(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "500 Internal Server Error: config invalid")

	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	n := &notifier{log: log, metrics: telemetry.NewMetrics("test"), limit: 2}
	n.note(err)
	ok, _ := n.healthy()
	assert.True(t, ok, "one failure is not yet a reason to restart the pod")
	n.note(err)
	ok, why := n.healthy()
	assert.False(t, ok)
	assert.Contains(t, why, "2 reloads in a row failed")
	mu.Lock()
	code = http.StatusOK
	mu.Unlock()
	n.note(send(context.Background()))
	ok, _ = n.healthy()
	assert.True(t, ok, "a reload that works turns it green")
}

func TestSyncFlagsShareTheControllersCommonOnes(t *testing.T) {
	c, err := ParseConfig([]string{"--configmap", "p", "--dir", "/d", "--reload-url", "http://x", "--log-format", "json"},
		func(k string) string {
			return map[string]string{"CUSCON_API_URL": "http://127.0.0.1:9001", "CUSCON_RELOAD_RETRIES": "9"}[k]
		}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "json", c.Telemetry.LogFormat)
	assert.Equal(t, "http://127.0.0.1:9001", c.Connection.APIURL)
	assert.Equal(t, 9, c.ReloadRetries)
	var help bytes.Buffer
	_, _ = ParseConfig([]string{"--help"}, func(string) string { return "" }, &help)
	assert.True(t, strings.HasPrefix(help.String(), "Usage:\n  cuscon sync"))
	assert.Contains(t, help.String(), "CUSCON_LISTEN_ADDRESS")
}
