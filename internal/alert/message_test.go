// message_test.go tests, as tables, what each POST carries before any I/O: the alert's
// text, each sink's body and Content-Type, the statuses that fail, and the webhook's body.

package alert

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

var reload = Reload{ObjectType: "CONFIGMAP", Object: "app-config", Namespace: "shop", WorkloadKind: "Deployment", Workload: "web"}

func TestTheMessageIsReloadersToTheLetter(t *testing.T) {
	const msg = "Reloader detected changes in *app-config* of type *CONFIGMAP* in namespace *shop*. Hence reloaded *web* of type *Deployment* in namespace *shop*"
	for _, row := range []struct {
		name, info, want string
	}{
		{"no additional info", "", msg},
		{"additional info prefixes it", "cluster eu-1", "cluster eu-1 : " + msg},
	} {
		t.Run(row.name, func(t *testing.T) {
			assert.Equal(t, row.want, message(reload, row.info))
		})
	}
	secret := Reload{ObjectType: "SECRET", Object: "db", Namespace: "n", WorkloadKind: "Rollout", Workload: "api"}
	assert.Equal(t, "Reloader detected changes in *db* of type *SECRET* in namespace *n*. Hence reloaded *api* of type *Rollout* in namespace *n*",
		message(secret, ""))
}

func TestEachSinkGetsReloadersBodyContentTypeAndStatusRule(t *testing.T) {
	// The info holds <, > and & to pin encoding/json's escaping, which Reloader's bodies have.
	const info = "<prod> & co"
	const text = `\u003cprod\u003e \u0026 co : Reloader detected changes in *app-config* of type *CONFIGMAP* in namespace *shop*. Hence reloaded *web* of type *Deployment* in namespace *shop*`
	const raw = "<prod> & co : Reloader detected changes in app-config of type CONFIGMAP in namespace shop. Hence reloaded web of type Deployment in namespace shop"
	for _, row := range []struct {
		sink, contentType, body string
		accept                  statusRule
	}{
		{"slack", "application/json", `{"attachments":[{"author_name":"Reloader","color":"good","text":"` + text + `"}]}`, below400},
		{"teams", "application/json", `{"text":"` + text + `"}`, only200},
		{"gchat", "application/json", `{"text":"` + text + `"}`, only200},
		{"raw", "text/plain", raw, below400},
		{"", "text/plain", raw, below400},
		{"discord", "text/plain", raw, below400},
	} {
		t.Run("sink "+row.sink, func(t *testing.T) {
			c := Config{OnReload: true, Sink: row.sink, URL: "https://hooks.example/x", AdditionalInfo: info}
			assert.Equal(t, post{what: "alert", url: c.URL, contentType: row.contentType, body: []byte(row.body), accept: row.accept, attempts: 1},
				alertPost(c, reload))
		})
	}
}

func TestWhichStatusesFailPerRule(t *testing.T) {
	for _, row := range []struct {
		code                       int
		any, belowFour, exactly200 bool
	}{
		{200, true, true, true},
		{201, true, true, false},
		{204, true, true, false},
		{302, true, true, false},
		{399, true, true, false},
		{400, true, false, false},
		{404, true, false, false},
		{500, true, false, false},
	} {
		assert.Equal(t, row.any, anyStatus.ok(row.code), "webhook, %d", row.code)
		assert.Equal(t, row.belowFour, below400.ok(row.code), "slack/raw, %d", row.code)
		assert.Equal(t, row.exactly200, only200.ok(row.code), "teams/gchat, %d", row.code)
	}
}

func TestTheWebhookBodyIsConstantAndRetriedFiveTimes(t *testing.T) {
	assert.Equal(t, post{what: "webhook", url: "http://h/x", contentType: "application/json",
		body: []byte(`{"webhook":"update successful"}`), accept: anyStatus, attempts: 6}, webhookPost("http://h/x"))
}
