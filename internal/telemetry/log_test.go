// log_test.go tests the log lines: the Python script's format, JSON with the same
// fields, and values that cannot forge a line.

package telemetry

import (
	"bytes"
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

func TestTextLogLinesMatchThePythonScript(t *testing.T) {
	var out bytes.Buffer
	log, err := NewLogger(&out, "text", 0)
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
	log, err := NewLogger(&out, "json", 0)
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
	tl, err := NewLogger(&text, "text", 0)
	require.NoError(t, err)
	jl, err := NewLogger(&js, "json", 0)
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
	log, err := NewLogger(&out, "text", 0)
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
	log, err := NewLogger(&out, "text", 0)
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

func TestAValueWithOnlyANewlineCannotForgeALine(t *testing.T) {
	var out strings.Builder
	log, err := NewLogger(&out, "text", 0)
	require.NoError(t, err)
	log.Error("Could not restart pods", "selector", "x\nFORGED\x1b[2J")
	assert.Equal(t, 1, strings.Count(out.String(), "\n"), "one record, one line: %q", out.String())
	assert.NotContains(t, out.String(), "\x1b")
}
