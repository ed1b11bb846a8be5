// fixture_test.go is the article's setup on the fake API that most tests start from:
// frontend-config selecting three frontend pods, two unrelated backend pods, and a
// sentinel ConfigMap whose restart proves that everything before it was handled.

package main

import (
	"fmt"
	"strings"
	"testing"
)

const selectorKey = "magalix.com/podDeleteMatch"

// sel returns the annotations of a ConfigMap whose pods are selected by s.
func sel(s string) map[string]string { return map[string]string{selectorKey: s} }

// msg returns ConfigMap data with one config file.
func msg(s string) map[string]string { return map[string]string{"config.cfg": `MSG="` + s + `"`} }

// fixture is the article's setup on the fake API: frontend-config selecting three
// frontend pods, two unrelated backend pods, and a sentinel ConfigMap used by settle.
type fixture struct {
	t        *testing.T
	f        *fakeAPI
	log      *logSink
	stop     func()
	sentinel int
}

// newFixture builds the setup, starts cuscon (cfg changed by edit) and waits for its
// first sync.
func newFixture(t *testing.T, edit func(*config), tune ...func(*app)) *fixture {
	f := newFakeAPI(t, "default")
	f.putConfigMap("frontend-config", sel("app=frontend"), msg("Welcome to Kubernetes"))
	f.putConfigMap("sentinel", sel("app=sentinel"), msg("0"))
	f.addPods("frontend", 3, map[string]string{"app": "frontend"})
	f.addPods("backend", 2, map[string]string{"app": "backend"})
	fx := &fixture{t: t, f: f}
	fx.log, fx.stop = startCuscon(t, f, edit, tune...)
	var probe config
	if edit != nil {
		edit(&probe)
	}
	if probe.AllNamespaces {
		fx.log.waitFor(t, "Synced configmaps in all namespaces", 1)
	} else {
		fx.log.waitFor(t, `Synced configmaps in "default"`, 1)
	}
	return fx
}

// settle proves cuscon has handled every event sent before it: it changes the sentinel
// ConfigMap and waits until the sentinel's pod is deleted, which cuscon, handling
// events in order, does only after all earlier ones.
func (fx *fixture) settle() {
	fx.t.Helper()
	fx.sentinel++
	name := fmt.Sprintf("sentinel-%d", fx.sentinel)
	fx.f.addPod(name, map[string]string{"app": "sentinel"}, true)
	fx.f.putConfigMap("sentinel", sel("app=sentinel"), msg(fmt.Sprint(fx.sentinel)))
	fx.f.waitDeleted(name)
}

// replaceWatch ends the open watch and has script serve the next watch request.
func (fx *fixture) replaceWatch(script watchScript) {
	fx.t.Helper()
	fx.f.waitWatches(1)
	fx.f.script(script)
	fx.f.endWatches()
}

// deletedBesidesSentinels lists the deleted pods that were not sentinels.
func (fx *fixture) deletedBesidesSentinels() []string {
	var out []string
	for _, p := range fx.f.deletedPods() {
		if !strings.HasPrefix(p, "sentinel-") {
			out = append(out, p)
		}
	}
	return out
}

var frontendPods = []string{"frontend-0", "frontend-1", "frontend-2"}
