// log.go sets up logging: the Python script's line format by default
// ("2019-09-21 14:19:22,939 Modification detected"), or JSON, both through log/slog.
// Values come from objects anyone with edit rights on a ConfigMap controls (a selector,
// an API message), so control characters are escaped everywhere: no value can forge a
// line or steer a terminal.

package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"cuscon/internal/envflag"
)

// LoggerFor returns a logger writing to w in format at the named level (info, debug...;
// stakater/Reloader's names too: trace is debug, warning warn, fatal and panic error).
func LoggerFor(w io.Writer, format, level string) (*slog.Logger, error) {
	switch strings.ToLower(level) {
	case "trace":
		level = "debug"
	case "warning":
		level = "warn"
	case "fatal", "panic":
		level = "error"
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return NewLogger(w, format, l)
}

// NewLogger returns a logger writing to w in format "text" (the article's; "", as
// Reloader's default) or "json".
func NewLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	switch format {
	case "text", "":
		return slog.New(&articleHandler{w: w, mu: &sync.Mutex{}, level: level}), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// articleHandler writes "<local time with comma milliseconds> <message>", as Python's
// logging did in the script, then the record's fields as key=value, and the level when
// it is not INFO. Lines a user greps for keep their exact words at the start.
type articleHandler struct {
	w     io.Writer
	mu    *sync.Mutex
	level slog.Level
	attrs string // preformatted " k=v" pairs from With
}

func (h *articleHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *articleHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("2006-01-02 15:04:05,000"))
	b.WriteByte(' ')
	b.WriteString(escapeControl(r.Message))
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, a)
		return true
	})
	if r.Level != slog.LevelInfo {
		writeAttr(&b, slog.String("level", r.Level.String()))
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *articleHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		writeAttr(&b, a)
	}
	h2 := *h
	h2.attrs = b.String()
	return &h2
}

// WithGroup is not used by cuscon; groups are flattened.
func (h *articleHandler) WithGroup(string) slog.Handler { return h }

// writeAttr appends " key=value", quoting a value that has spaces, quotes or control
// characters.
func writeAttr(b *strings.Builder, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	v := a.Value.Resolve().String()
	if v == "" || strings.ContainsAny(v, " \"=") || hasControl(v) {
		v = strconv.Quote(v)
	}
	fmt.Fprintf(b, " %s=%s", escapeControl(a.Key), v)
}

// hasControl reports whether s has a control character (or is not valid UTF-8).
func hasControl(s string) bool {
	return !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0
}

// escapeControl writes each control character of s as Go would quote it (\n, \x1b),
// and leaves the rest as it is.
func escapeControl(s string) string {
	if !hasControl(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Options says where cuscon serves /healthz, /readyz and /metrics, and how it logs.
type Options struct {
	ListenAddress string
	LogFormat     string
	LogLevel      string
}

// DefineFlags defines the flags of o in s, under the group it is in.
func (o *Options) DefineFlags(s *envflag.Set) {
	s.String(&o.ListenAddress, "listen-address", "CUSCON_LISTEN_ADDRESS", ":8080", "where /healthz, /readyz and /metrics are served (empty: nowhere)")
	s.String(&o.LogFormat, "log-format", "CUSCON_LOG_FORMAT", "text", "text (the Python script's lines) or json")
	s.String(&o.LogLevel, "log-level", "CUSCON_LOG_LEVEL", "info", "info or debug; debug explains every decision")
}

// Logger returns the logger o asks for, writing to w.
func (o Options) Logger(w io.Writer) (*slog.Logger, error) {
	return LoggerFor(w, o.LogFormat, o.LogLevel)
}
