// message.go decides, without any I/O, what each POST carries: the alert's text, its body
// and Content-Type per sink, which statuses count as failure, and how often a POST is
// tried. Every byte here is Reloader's (spec §7.1, §7.2).

package alert

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Reload is one workload reloaded because an object it uses changed.
type Reload struct {
	ObjectType   string // CONFIGMAP or SECRET
	Object       string
	Namespace    string // of the object and the workload alike
	WorkloadKind string // Deployment, DaemonSet, StatefulSet, CronJob, Job or Rollout
	Workload     string
}

// message is the alert's text. Users' chat filters match it, so it is Reloader's to the
// letter, asterisks (Markdown bold) included.
func message(r Reload, additionalInfo string) string {
	msg := fmt.Sprintf("Reloader detected changes in *%s* of type *%s* in namespace *%s*. Hence reloaded *%s* of type *%s* in namespace *%s*",
		r.Object, r.ObjectType, r.Namespace, r.Workload, r.WorkloadKind, r.Namespace)
	if additionalInfo != "" {
		msg = additionalInfo + " : " + msg
	}
	return msg
}

// What a post is, as counted and logged.
const (
	whatAlert   = "alert"
	whatWebhook = "webhook"
)

// webhookAttempts is Reloader's: an event whose POST failed in transport is re-queued
// up to 5 times.
const webhookAttempts = 6

// post is one POST to make, decided in full before any I/O.
type post struct {
	what        string // whatAlert or whatWebhook
	url         string
	contentType string
	body        []byte
	accept      statusRule
	attempts    int // how often it is tried; more than once only for the webhook, whose status never fails
}

// statusRule says which response statuses are a success.
type statusRule int

const (
	anyStatus statusRule = iota // the webhook: Reloader never looks at the status
	below400                    // slack and raw
	only200                     // teams and gchat
)

func (r statusRule) ok(code int) bool {
	switch r {
	case below400:
		return code < 400
	case only200:
		return code == 200
	}
	return true
}

// alertPost is the alert for r as c's sink wants it. JSON is what encoding/json makes of
// Reloader's payload after its round trip through a map: keys sorted, and <, > and &
// escaped as \u003c, \u003e and \u0026.
func alertPost(c Config, r Reload) post {
	msg := message(r, c.AdditionalInfo)
	p := post{what: whatAlert, url: c.URL, contentType: "application/json", attempts: 1}
	switch c.Sink {
	case "slack":
		p.body = mustJSON(slackMessage{Attachments: []slackAttachment{{AuthorName: "Reloader", Color: "good", Text: msg}}})
		p.accept = below400
	case "teams", "gchat":
		p.body = mustJSON(textMessage{Text: msg})
		p.accept = only200
	default:
		p.contentType = "text/plain"
		p.body = []byte(strings.ReplaceAll(msg, "*", ""))
		p.accept = below400
	}
	return p
}

// webhookPost is --webhook-url's POST: the same constant body whatever changed.
func webhookPost(url string) post {
	return post{
		what:        whatWebhook,
		url:         url,
		contentType: "application/json",
		body:        []byte(`{"webhook":"update successful"}`),
		accept:      anyStatus,
		attempts:    webhookAttempts,
	}
}

// slackMessage is Slack's incoming-webhook payload, fields in sorted order.
type slackMessage struct {
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	AuthorName string `json:"author_name"`
	Color      string `json:"color"`
	Text       string `json:"text"`
}

// textMessage is the Teams and Google Chat payload.
type textMessage struct {
	Text string `json:"text"`
}

// mustJSON marshals v, which holds only strings, so it cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("alert: marshalling %T: %v", v, err))
	}
	return b
}
