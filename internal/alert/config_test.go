// config_test.go tests, as tables, how the ALERT_* variables are read and which
// configurations Validate refuses, without ever quoting a URL.

package alert

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFromEnvReadsTheAlertVariablesAsReloaderDoes(t *testing.T) {
	for _, row := range []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"nothing set", nil, Config{}},
		{"on only when exactly true", map[string]string{"ALERT_ON_RELOAD": "true"}, Config{OnReload: true}},
		{"True is not true", map[string]string{"ALERT_ON_RELOAD": "True"}, Config{}},
		{"padded true is not true", map[string]string{"ALERT_ON_RELOAD": " true"}, Config{}},
		{"1 is not true", map[string]string{"ALERT_ON_RELOAD": "1"}, Config{}},
		{"sink lower-cased and trimmed", map[string]string{"ALERT_SINK": "  Slack\n"}, Config{Sink: "slack"}},
		{"URL and proxy trimmed", map[string]string{"ALERT_WEBHOOK_URL": " https://h/x \n", "ALERT_WEBHOOK_PROXY": "\thttp://p:3128 "},
			Config{URL: "https://h/x", Proxy: "http://p:3128"}},
		{"additional info trimmed", map[string]string{"ALERT_ADDITIONAL_INFO": "  cluster eu-1 "}, Config{AdditionalInfo: "cluster eu-1"}},
		{"blank additional info is none", map[string]string{"ALERT_ADDITIONAL_INFO": "   "}, Config{}},
		{"proxy variables of the environment are not read", map[string]string{"HTTP_PROXY": "http://p", "HTTPS_PROXY": "http://p"}, Config{}},
	} {
		t.Run(row.name, func(t *testing.T) {
			assert.Equal(t, row.want, FromEnv(func(k string) string { return row.env[k] }))
		})
	}
}

func TestValidateNamesTheVariableAndNeverTheURL(t *testing.T) {
	const token = "https://hooks.example/services/SECRET-TOKEN"
	for _, row := range []struct {
		name string
		c    Config
		want string // "" when valid
	}{
		{"off: alert variables unread", Config{URL: "::", Proxy: "::"}, ""},
		{"on, https", Config{OnReload: true, URL: token}, ""},
		{"on, http with a proxy", Config{OnReload: true, URL: "http://h/x", Proxy: "http://user:pw@proxy:3128"}, ""},
		{"socks5 proxy", Config{OnReload: true, URL: token, Proxy: "socks5://proxy:1080"}, ""},
		{"on without a URL", Config{OnReload: true}, "ALERT_ON_RELOAD is true but ALERT_WEBHOOK_URL is empty"},
		{"no scheme", Config{OnReload: true, URL: "hooks.example/services/SECRET-TOKEN"}, `ALERT_WEBHOOK_URL: scheme "": want http or https`},
		{"ftp", Config{OnReload: true, URL: "ftp://hooks.example/SECRET-TOKEN"}, `ALERT_WEBHOOK_URL: scheme "ftp": want http or https`},
		{"no host", Config{OnReload: true, URL: "https:///SECRET-TOKEN"}, "ALERT_WEBHOOK_URL: no host"},
		{"unparsable", Config{OnReload: true, URL: "https://hooks.example/SECRET-TOKEN\x7f"}, "ALERT_WEBHOOK_URL: not a URL: net/url: invalid control character in URL"},
		{"bad proxy", Config{OnReload: true, URL: token, Proxy: "proxy:3128/SECRET-TOKEN"}, "ALERT_WEBHOOK_PROXY: scheme"},
		{"bad proxy password", Config{OnReload: true, URL: token, Proxy: "http://u:SECRET-TOKEN@[::1"}, "ALERT_WEBHOOK_PROXY: not a URL"},
		{"webhook URL", Config{WebhookURL: token}, ""},
		{"bad webhook URL", Config{WebhookURL: "//hooks.example/SECRET-TOKEN"}, `--webhook-url: scheme ""`},
	} {
		t.Run(row.name, func(t *testing.T) {
			err := row.c.Validate()
			if row.want == "" {
				assert.NoError(t, err)
				return
			}
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), row.want)
				assert.NotContains(t, err.Error(), "SECRET-TOKEN")
			}
		})
	}
}
