// Package alert sends what stakater/Reloader (v1.4.21) sends besides reloading: a chat
// alert after each reload (ALERT_ON_RELOAD) and, with --webhook-url, one POST per changed
// ConfigMap or Secret instead of any reload. The bytes on the wire are Reloader's, so
// chat filters and receivers built for it keep working; everything around them is safer
// (Reloader-spec §10 rows 9 and 11): every request has a timeout, sending goes through a
// bounded queue so a hanging endpoint never delays a reload, a full queue drops and counts
// rather than blocks, response bodies are read within a bound and always closed, and URLs
// are never logged, only their host, because webhook URLs usually carry a token.
//
// It does not decide when to alert or which objects changed (the Reloader mode does and
// calls Reloaded or Changed) and knows nothing of Kubernetes.
package alert

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Config is what the package is told: the ALERT_* environment (FromEnv) and the
// --webhook-url flag.
type Config struct {
	// OnReload sends an alert after each reloaded workload (ALERT_ON_RELOAD is "true").
	OnReload bool
	// Sink chooses the alert's format: slack, teams, gchat, or anything else for raw
	// text (ALERT_SINK, lower-cased and trimmed).
	Sink string
	// URL is where alerts go (ALERT_WEBHOOK_URL, trimmed).
	URL string
	// Proxy is the proxy for alerts only (ALERT_WEBHOOK_PROXY, trimmed); empty means
	// none. HTTP_PROXY and HTTPS_PROXY are ignored, as Reloader ignores them: quietly
	// changing where alerts leave the cluster would be worse than copying it.
	Proxy string
	// AdditionalInfo prefixes every alert as "<info> : <message>"
	// (ALERT_ADDITIONAL_INFO, trimmed; empty means none).
	AdditionalInfo string
	// WebhookURL is --webhook-url: when set, each changed ConfigMap or Secret is POSTed
	// there instead of reloading anything. It is not an alert and ignores Proxy.
	WebhookURL string
}

// FromEnv reads the ALERT_* variables through getenv (os.Getenv in main, a map in
// tests). WebhookURL is a flag, not the environment, and is left empty.
//
// Reloader prefixes alerts when ALERT_ADDITIONAL_INFO is set at all, so a variable set
// to "" (or to spaces) gives " : <message>". getenv cannot tell unset from empty, and a
// message starting with a bare colon helps no one, so here empty means unset.
func FromEnv(getenv func(string) string) Config {
	return Config{
		OnReload:       getenv("ALERT_ON_RELOAD") == "true",
		Sink:           strings.ToLower(strings.TrimSpace(getenv("ALERT_SINK"))),
		URL:            strings.TrimSpace(getenv("ALERT_WEBHOOK_URL")),
		Proxy:          strings.TrimSpace(getenv("ALERT_WEBHOOK_PROXY")),
		AdditionalInfo: strings.TrimSpace(getenv("ALERT_ADDITIONAL_INFO")),
	}
}

// Validate reports, before anything is sent, a configuration that could only fail on
// every alert: Reloader logs such failures once per reload instead. Alert variables are
// checked only when alerts are on, since Reloader never reads them otherwise. Errors
// name the variable but never repeat the URL, which may hold a token or a password.
func (c Config) Validate() error {
	var errs []error
	if c.OnReload {
		if c.URL == "" {
			errs = append(errs, errors.New("ALERT_ON_RELOAD is true but ALERT_WEBHOOK_URL is empty"))
		} else if err := checkURL(c.URL, "http", "https"); err != nil {
			errs = append(errs, fmt.Errorf("ALERT_WEBHOOK_URL: %w", err))
		}
		if c.Proxy != "" {
			if err := checkURL(c.Proxy, "http", "https", "socks5", "socks5h"); err != nil {
				errs = append(errs, fmt.Errorf("ALERT_WEBHOOK_PROXY: %w", err))
			}
		}
	}
	if c.WebhookURL != "" {
		if err := checkURL(c.WebhookURL, "http", "https"); err != nil {
			errs = append(errs, fmt.Errorf("--webhook-url: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkURL says why raw is not an absolute URL with one of schemes and a host, without
// quoting raw.
func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", redact(err))
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("scheme %q: want %s", u.Scheme, strings.Join(schemes, " or "))
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

// redact drops the URL that net/url and net/http put in their errors (a webhook URL
// usually carries its token), keeping the cause.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// hostOf is what logs say of a URL: its host, never its path, query or user.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	return u.Host
}
