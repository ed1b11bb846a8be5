// fixture_test.go is the article's setup on the fake API that most tests start from:
// frontend-config selecting three frontend pods, two unrelated backend pods, and a
// sentinel ConfigMap whose restart proves that everything before it was handled.

package main

import (
	"fmt"
	"strings"
	"testing"

	"cuscon/internal/kubetest"
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
	f        *kubetest.API
	log      *kubetest.LogSink
	stop     func()
	sentinel int
}

// newFixture builds the setup, starts cuscon (cfg changed by edit) and waits for its
// first sync.
func newFixture(t *testing.T, edit func(*config)) *fixture {
	f := kubetest.New(t, "default")
	f.PutConfigMap("frontend-config", sel("app=frontend"), msg("Welcome to Kubernetes"))
	f.PutConfigMap("sentinel", sel("app=sentinel"), msg("0"))
	f.AddPods("frontend", 3, map[string]string{"app": "frontend"})
	f.AddPods("backend", 2, map[string]string{"app": "backend"})
	fx := &fixture{t: t, f: f}
	fx.log, fx.stop = startCuscon(t, f, edit)
	var probe config
	if edit != nil {
		edit(&probe)
	}
	if probe.AllNamespaces {
		fx.log.WaitFor(t, "Synced configmaps in all namespaces", 1)
	} else {
		fx.log.WaitFor(t, `Synced configmaps in "default"`, 1)
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
	fx.f.AddPod(name, map[string]string{"app": "sentinel"}, true)
	fx.f.PutConfigMap("sentinel", sel("app=sentinel"), msg(fmt.Sprint(fx.sentinel)))
	fx.f.WaitDeleted(name)
}

// replaceWatch ends the open watch and has script serve the next watch request.
func (fx *fixture) replaceWatch(script kubetest.WatchScript) {
	fx.t.Helper()
	fx.f.WaitWatches(1)
	fx.f.Script(script)
	fx.f.EndWatches()
}

// deletedBesidesSentinels lists the deleted pods that were not sentinels.
func (fx *fixture) deletedBesidesSentinels() []string {
	var out []string
	for _, p := range fx.f.DeletedPods() {
		if !strings.HasPrefix(p, "sentinel-") {
			out = append(out, p)
		}
	}
	return out
}

var frontendPods = []string{"frontend-0", "frontend-1", "frontend-2"}
