// main_test.go proves the drop-in interface: configuration from flags and their
// environment twins, and log lines in the Python script's format.

package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env returns a getenv reading from m.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreThePythonScripts(t *testing.T) {
	c, err := parseConfig(nil, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "default", c.Namespace)
	assert.Equal(t, "http://127.0.0.1:8001", c.Connection.APIURL)
	assert.Equal(t, "magalix.com/podDeleteMatch", c.Annotation)
	assert.Equal(t, "annotation", c.State)
	assert.False(t, c.DeleteUnownedPods)
}

func TestResNamespaceEnvAndFlagPrecedence(t *testing.T) {
	c, err := parseConfig(nil, env(map[string]string{"res_namespace": "shop", "CUSCON_DELETE_UNOWNED_PODS": "true"}), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "shop", c.Namespace)
	assert.True(t, c.DeleteUnownedPods)

	c, err = parseConfig([]string{"--namespace", "flag-wins", "--state=memory"}, env(map[string]string{"res_namespace": "shop"}), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "flag-wins", c.Namespace)
	assert.Equal(t, "memory", c.State)
}

func TestBadConfigurationIsRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"state":      {args: []string{"--state=disk"}},
		"env bool":   {env: map[string]string{"CUSCON_DELETE_UNOWNED_PODS": "maybe"}},
		"positional": {args: []string{"extra"}},
	} {
		_, err := parseConfig(tc.args, env(tc.env), &bytes.Buffer{})
		assert.Error(t, err, name)
	}
	err := runController(context.Background(), config{Connection: kube.Connection{APIURL: "not a url"}, Telemetry: telemetry.Options{LogFormat: "text", LogLevel: "info"}}, &bytes.Buffer{})
	assert.ErrorContains(t, err, "api url")
}

func TestHelpNamesEveryEnvironmentTwin(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"--help"}, env(nil), &out)
	require.Error(t, err)
	for _, twin := range []string{"res_namespace", "CUSCON_API_URL", "CUSCON_ANNOTATION", "CUSCON_STATE", "CUSCON_LOG_FORMAT", "CUSCON_DELETE_UNOWNED_PODS"} {
		assert.Contains(t, out.String(), twin)
	}
}
func TestShutdownGraceLetsRequestsFinishThenEndsThem(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	act, stop := afterShutdown(ctx, 30*time.Millisecond)
	defer stop()
	cancel()
	assert.NoError(t, act.Err(), "requests under way go on when shutdown begins")
	select {
	case <-act.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the grace never ended")
	}

	act2, stop2 := afterShutdown(context.Background(), time.Hour)
	stop2()
	assert.Error(t, act2.Err(), "cancel ends it at once")
}
