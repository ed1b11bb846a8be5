// main_test.go proves the drop-in interface: configuration from flags and their
// environment twins, and log lines in the Python script's format.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env returns a getenv reading from m.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreThePythonScripts(t *testing.T) {
	c, err := parseConfig(nil, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "default", c.Namespace)
	assert.Equal(t, "http://127.0.0.1:8001", c.APIURL)
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
	err := run(context.Background(), config{commonConfig: commonConfig{APIURL: "not a url", LogFormat: "text", LogLevel: "info"}}, &bytes.Buffer{})
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

func TestTextLogLinesMatchThePythonScript(t *testing.T) {
	var out bytes.Buffer
	log, err := newLogger(&out, "text", 0)
	require.NoError(t, err)
	log.Info("Modification detected", "configmap", "frontend-config")
	log.Info("frontend-5989794999-zktqw was deleted successfully")
	log.Error("Could not delete frontend-1: 403 Forbidden: no", "pod", "frontend-1")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	stamp := `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} `
	assert.Regexp(t, regexp.MustCompile(stamp+`Modification detected configmap=frontend-config$`), lines[0])
	assert.Regexp(t, regexp.MustCompile(stamp+`frontend-5989794999-zktqw was deleted successfully$`), lines[1])
	assert.Regexp(t, regexp.MustCompile(stamp+`Could not delete frontend-1: .* pod=frontend-1 level=ERROR$`), lines[2])
	ts, err := time.ParseInLocation("2006-01-02 15:04:05,000", lines[0][:23], time.Local)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), ts, time.Minute)
}

func TestJSONLogsCarryFields(t *testing.T) {
	var out bytes.Buffer
	log, err := newLogger(&out, "json", 0)
	require.NoError(t, err)
	log.Info("Modification detected", "namespace", "default", "configmap", "frontend-config", "selector", "app=frontend", "reason", "content changed")
	assert.JSONEq(t, `{"level":"INFO","msg":"Modification detected","namespace":"default","configmap":"frontend-config","selector":"app=frontend","reason":"content changed"}`,
		regexp.MustCompile(`"time":"[^"]*",`).ReplaceAllString(out.String(), ""))
}

func TestTextAndJSONLogsCarryTheSameFields(t *testing.T) {
	record := func(log *slog.Logger) {
		log.With("namespace", "default", "configmap", "frontend-config").
			Warn("Could not delete frontend-1: 403 Forbidden", "pod", "frontend-1", "err", "forbidden here")
	}
	var text, js bytes.Buffer
	tl, err := newLogger(&text, "text", 0)
	require.NoError(t, err)
	jl, err := newLogger(&js, "json", 0)
	require.NoError(t, err)
	record(tl)
	record(jl)

	var fromJSON map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &fromJSON))
	fromText := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S+)`).FindAllStringSubmatch(text.String(), -1) {
		v := m[2]
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		fromText[m[1]] = v
	}
	for k, v := range fromJSON {
		switch k {
		case "time", "msg":
			continue
		}
		assert.Equal(t, fmt.Sprint(v), fromText[k], "field %s", k)
	}
	assert.Len(t, fromText, len(fromJSON)-2, "no field only in the text log")
}

func TestValuesCannotForgeLogLines(t *testing.T) {
	var out bytes.Buffer
	log, err := newLogger(&out, "text", 0)
	require.NoError(t, err)
	forged := "app=x\n2026-11-23 10:00:00,000 frontend-0 was deleted successfully\x1b[2J"
	log.Error("Could not restart pods matching "+forged, "selector", forged, "k\nv", "x")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 1, "one record, one line")
	assert.NotContains(t, out.String(), "\x1b", "no terminal escape gets through")
	assert.Contains(t, lines[0], `matching app=x\n2026`, "the message's newline is shown, not obeyed")
	assert.Contains(t, lines[0], `selector="app=x\n2026-11-23 10:00:00,000 frontend-0 was deleted successfully\x1b[2J"`)
}

func TestPlainValuesStayUnquoted(t *testing.T) {
	var out bytes.Buffer
	log, err := newLogger(&out, "text", 0)
	require.NoError(t, err)
	log.Info("Modification detected", "configmap", "frontend-config", "selector", "app in (a, b)", "pod", "ünïcode-0")
	assert.Contains(t, out.String(), `Modification detected configmap=frontend-config selector="app in (a, b)" pod=ünïcode-0`)
}

func TestControlCharactersAreShownNotObeyed(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":          "plain text",
		"two\nlines":          `two\nlines`,
		"carriage\rreturn":    `carriage\rreturn`,
		"bell\a and esc\x1b[": `bell\a and esc\x1b[`,
		"tab\there":           `tab\there`,
		"ünïcode ✓":           "ünïcode ✓",
		"bad \xff byte":       "bad \ufffd byte", // the replacement character: harmless
		"nul\x00":             `nul\x00`,
	} {
		assert.Equal(t, want, escapeControl(in), "%q", in)
	}
}
