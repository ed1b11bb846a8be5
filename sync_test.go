// sync_test.go proves `cuscon sync`: atomic writes that never leave half a
// configuration, refusal of unsafe keys with the old files kept, one reload per content
// change and none for metadata, and a failing reload turning /healthz red.

package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

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

func TestAtomicWriterSwapsVersionsAndRemovesGoneKeys(t *testing.T) {
	dir := t.TempDir()
	w := &atomicWriter{dir: dir, fileMode: 0o644, dirMode: 0o755}
	require.NoError(t, w.write(map[string][]byte{"a.conf": []byte("a1"), "b.conf": []byte("b1")}, "h1"))
	first, err := os.Readlink(filepath.Join(dir, dataLink))
	require.NoError(t, err)
	require.NoError(t, w.write(map[string][]byte{"a.conf": []byte("a2"), "c.conf": []byte("c2")}, "h2"))

	assert.Equal(t, "a2", read(dir, "a.conf"))
	assert.Equal(t, "c2", read(dir, "c.conf"))
	_, err = os.Lstat(filepath.Join(dir, "b.conf"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a key that is gone is removed")
	_, err = os.Stat(filepath.Join(dir, first))
	assert.ErrorIs(t, err, os.ErrNotExist, "the old version is removed")
	target, _ := os.Readlink(filepath.Join(dir, "a.conf"))
	assert.Equal(t, filepath.Join(dataLink, "a.conf"), target, "each key reads through ..data, swapped in one rename")
	assert.Equal(t, "h2", w.lastHash())
}

func TestUnsafeOrCollidingKeysAreRefusedAndTheOldFilesStay(t *testing.T) {
	dir := t.TempDir()
	w := &atomicWriter{dir: dir, fileMode: 0o644, dirMode: 0o755}
	require.NoError(t, w.write(map[string][]byte{"app.conf": []byte("good")}, "h1"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mine.txt"), []byte("the app's own"), 0o644))
	for name, files := range map[string]map[string][]byte{
		"parent":        {"../escape": nil},
		"absolute":      {"/etc/passwd": nil},
		"dotdot inside": {"a/../../b": nil},
		"hidden data":   {"..data": nil},
		"empty":         {"": nil},
		"file and dir":  {"a": nil, "a/b": nil},
		"not ours":      {"mine.txt": []byte("overwritten?")},
	} {
		files["app.conf"] = []byte("bad")
		assert.Error(t, w.write(files, "h2"), name)
		assert.Equal(t, "good", read(dir, "app.conf"), "%s: the previous configuration stays", name)
	}
	assert.Equal(t, "the app's own", read(dir, "mine.txt"))
	assert.Equal(t, "h1", w.lastHash())
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 5, "..data, its version, app.conf, the hash, mine.txt: no half-written version left")
}

func TestSecretFilesAreWrittenPrivately(t *testing.T) {
	dir := t.TempDir()
	obj := &source{Resource: secrets, Data: map[string]string{"password": "czNjcjN0"}}
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
func startSync(t *testing.T, f *fakeAPI, dir, reloadURL string, retries int) (*logSink, string) {
	t.Helper()
	cfg := syncConfig{Namespace: "default", Name: "app-config", Dir: dir, ReloadURL: reloadURL, ReloadMethod: http.MethodPost,
		ReloadRetries: retries, commonConfig: commonConfig{APIURL: f.url(), ListenAddress: "127.0.0.1:0", LogFormat: "text", LogLevel: "debug"}}
	log := newLogSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- runSync(ctx, cfg, log) }()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, 0, <-done, "sidecar mode exits 0")
		if t.Failed() {
			t.Logf("cuscon sync log:\n%s", log.String())
		}
	})
	return log, serverURL(t, log)
}

// conf returns ConfigMap data with app.conf set to s.
func conf(s string) map[string]string { return map[string]string{"app.conf": s} }

func TestSyncReloadsOncePerContentChangeAndNeverForMetadata(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.putConfigMap("app-config", nil, conf("v1"))
	f.putConfigMap("unrelated", nil, conf("other"))
	dir := filepath.Join(t.TempDir(), "config")
	rs := newReloadServer(t, dir)
	log, base := startSync(t, f, dir, rs.URL, 5)

	waitStatus(t, base+"/readyz", http.StatusOK)
	assert.Equal(t, "v1", read(dir, "app.conf"), "the first sync writes the files")
	assert.Empty(t, rs.reloads(), "an app that has read nothing is not told to reload")

	f.putConfigMap("app-config", nil, conf("v2"))
	log.waitFor(t, "Reloaded the app", 1)
	f.updateConfigMap("app-config", func(cm *fakeConfigMap) { cm.Metadata.Labels = map[string]string{"edited": "yes"} })
	f.putConfigMap("unrelated", nil, conf("changed"))
	f.putConfigMap("app-config", map[string]string{"note": "x"}, conf("v2"))
	f.putConfigMap("app-config", nil, conf("v3"))
	log.waitFor(t, "Reloaded the app", 2)
	assert.Equal(t, []string{"v2", "v3"}, rs.reloads(), "one reload per content change, each seeing its files; another ConfigMap's change is not even seen")
	assert.NotContains(t, log.String(), "sha256:", "no digest of the content is logged: for a Secret's short value it gives the value away")
}

func TestSyncRefusesUnsafeKeysWithoutReloading(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.putConfigMap("app-config", nil, conf("v1"))
	dir := filepath.Join(t.TempDir(), "config")
	rs := newReloadServer(t, dir)
	log, base := startSync(t, f, dir, rs.URL, 5)
	waitStatus(t, base+"/readyz", http.StatusOK)

	f.putConfigMap("app-config", nil, map[string]string{"app.conf": "evil", "../../etc/cron.d/x": "boom"})
	log.waitFor(t, "Could not write the new configuration", 1)
	f.putConfigMap("app-config", nil, conf("v2"))
	log.waitFor(t, "Reloaded the app", 1)
	assert.Equal(t, []string{"v2"}, rs.reloads(), "no reload for the refused configuration")
	assert.Contains(t, log.String(), "unsafe keys, nothing written")
	assert.Contains(t, log.String(), "cron.d/x")
}

func TestFailingReloadTurnsHealthzRedUntilItWorks(t *testing.T) {
	f := newFakeAPI(t, "default")
	f.putConfigMap("app-config", nil, conf("v1"))
	dir := filepath.Join(t.TempDir(), "config")
	rs := newReloadServer(t, dir)
	rs.status = http.StatusInternalServerError
	log, base := startSync(t, f, dir, rs.URL, 2)
	waitStatus(t, base+"/readyz", http.StatusOK)
	waitStatus(t, base+"/healthz", http.StatusOK)

	f.putConfigMap("app-config", nil, conf("v2"))
	waitStatus(t, base+"/healthz", http.StatusServiceUnavailable)
	_, why := get(t, base+"/healthz")
	assert.Contains(t, why, "reloads in a row failed")
	assert.Contains(t, why, "500 Internal Server Error")
	rs.mu.Lock()
	rs.status = http.StatusOK
	rs.mu.Unlock()
	log.waitFor(t, "Reloaded the app", 1)
	waitStatus(t, base+"/healthz", http.StatusOK)
}

func TestSyncConfig(t *testing.T) {
	var out bytes.Buffer
	c, err := parseSyncConfig([]string{"--configmap", "prod/prometheus", "--dir", "/cfg", "--reload-url", "http://localhost:9090/-/reload"}, env(nil), &out)
	require.NoError(t, err)
	assert.Equal(t, "prod", c.Namespace)
	assert.Equal(t, "prometheus", c.Name)
	assert.Equal(t, http.MethodPost, c.ReloadMethod)

	c, err = parseSyncConfig([]string{"--secret", "db", "--dir", "/cfg", "--", "postgres", "-c", "config_file=/cfg/pg.conf"}, env(map[string]string{"res_namespace": "shop"}), &out)
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
		_, err := parseSyncConfig(args, env(nil), &out)
		assert.Error(t, err, name)
	}
}

func TestFilesAreTheDecodedKeysOfTheObject(t *testing.T) {
	for _, row := range []struct {
		name string
		obj  source
		want map[string][]byte
		err  string
	}{
		{"ConfigMap data as text", source{Resource: configMaps, Data: map[string]string{"a.conf": "x=1"}},
			map[string][]byte{"a.conf": []byte("x=1")}, ""},
		{"binaryData decoded", source{Resource: configMaps, BinaryData: map[string]string{"logo.png": "iVBORw=="}},
			map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G'}}, ""},
		{"Secret data decoded", source{Resource: secrets, Data: map[string]string{"pw": "czNjcjN0"}},
			map[string][]byte{"pw": []byte("s3cr3t")}, ""},
		{"a key in both data and binaryData", source{Resource: configMaps, Data: map[string]string{"k": "a"}, BinaryData: map[string]string{"k": "YQ=="}},
			nil, `key "k" is in both`},
		{"Secret data that is not base64", source{Resource: secrets, Data: map[string]string{"pw": "%%%"}}, nil, `key "pw"`},
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
