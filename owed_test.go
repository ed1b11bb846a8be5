// owed_test.go tests how what is owed is counted for the metrics an operator alerts on:
// objects refused or incomplete, and the pods still to restart.

package main

import (
	"context"
	"strings"
	"testing"

	"cuscon/internal/kubetest"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// owedGauges reads cuscon_restarts_owed and cuscon_pods_owed from c's metrics.
func owedGauges(t *testing.T, c *controller) (float64, float64) {
	var b strings.Builder
	require.NoError(t, c.metrics.Write(&b))
	samples := kubetest.ParseMetrics(t, b.String())
	return kubetest.Value(samples, "cuscon_restarts_owed"), kubetest.Value(samples, "cuscon_pods_owed")
}

func TestOwedIsCountedPerObjectAndPerPod(t *testing.T) {
	for _, row := range []struct {
		name          string
		state         map[string]objState
		objects, pods float64
	}{
		{"nothing owed", map[string]objState{"a": {applied: "h1"}, "b": {applied: "h1", pending: "h2"}}, 0, 0},
		{"a refused selector", map[string]objState{"a": {applied: "h1", refused: "h2 !x "}}, 1, 0},
		{"two pods left", map[string]objState{"a": {owed: &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"u1", "u2"}}}}}, 1, 2},
		{"pods that could not be listed: the object counts, the pods are unknown",
			map[string]objState{"a": {owed: &owedWork{Hash: "h2", Owed: restart.Owed{All: true}}}}, 1, 0},
		{"several objects", map[string]objState{
			"a": {owed: &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"u1"}}}},
			"b": {refused: "h3 tier!=db "},
			"c": {applied: "h1"},
			"d": {owed: &owedWork{Hash: "h5", Owed: restart.Owed{Pods: []string{"u4", "u5", "u6"}}}},
		}, 3, 4},
	} {
		t.Run(row.name, func(t *testing.T) {
			c := newTestController()
			c.state = row.state
			c.countOwed()
			objects, pods := owedGauges(t, c)
			assert.Equal(t, row.objects, objects)
			assert.Equal(t, row.pods, pods)
		})
	}
}

func TestADeletedObjectOwesNothing(t *testing.T) {
	c := newTestController()
	c.state["configmaps/default/web"] = objState{owed: &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"u1"}}}}
	c.countOwed()
	objects, _ := owedGauges(t, c)
	assert.Equal(t, 1.0, objects)
	c.changed(context.Background(), "DELETED", cm("web", "h2", sel("app=web")))
	objects, pods := owedGauges(t, c)
	assert.Equal(t, 0.0, objects)
	assert.Equal(t, 0.0, pods)
}

func TestOnlyVerdictsThatCanChangeWhatIsOwedRecountIt(t *testing.T) {
	for k, want := range map[verdictKind]bool{ignore: false, baseline: false, alreadyPending: false, stillOwed: false,
		unchanged: true, forget: true, refuseSelector: true, refuseStrategy: true, refuseWindow: true, deferToWindow: true,
		restartAll: true, resumeOwed: true} {
		assert.Equal(t, want, changesOwed(k), "verdict %d", k)
	}
}
