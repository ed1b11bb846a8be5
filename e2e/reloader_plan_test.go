// reloader_plan_test.go: `cuscon plan`, the real binary on the real plane, as cuscon's
// ServiceAccount: what it lists is then exactly what changing every object restarts.
package e2e

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// planYAML adds a selector cuscon refuses, and Deployment worker, restarted by delete
// for any key of app-config it reads through envFrom.
const planYAML = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: broad
  annotations: {magalix.com/podDeleteMatch: "!app"}
data: {k: v1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, annotations: {cuscon.dev/strategy: delete}}
spec:
  replicas: 2
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}, annotations: {reloader.stakater.com/auto: "true"}}
    spec: {containers: [{name: w, image: worker:1, envFrom: [{configMapRef: {name: app-config}}]}]}
`

// planRow is a row of `cuscon plan -o json`, as a user's script reads it.
type planRow struct {
	Object, Strategy, Why, Refused, Note string
	Wave, Window, Owed                   string
	Restarts                             []string
}

// plan runs `cuscon plan -o json` with cuscon's own environment.
func (c *reloaderCluster) plan() []planRow {
	c.t.Helper()
	cmd := exec.Command(suite.cuscon, "plan", "-o", "json")
	cmd.Env = c.cusconEnv
	out, err := cmd.Output()
	require.NoError(c.t, err, "cuscon plan: %s", out)
	var rows []planRow
	require.NoError(c.t, json.Unmarshal(out, &rows))
	return rows
}

func TestPlanListsExactlyWhatChangingEveryObjectThenRestarts(t *testing.T) {
	c := newReloaderCluster(t, planYAML)
	c.waitPods("worker", 2)
	c.eventually("the baselines recorded", func() bool {
		return c.applied("deployment", "app") != "" && c.applied("deployment", "worker") != ""
	})
	rows := c.plan()
	byObject := map[string][]string{}
	var planned []string
	for _, r := range rows {
		require.Empty(t, r.Note, r.Object)
		if r.Refused != "" {
			byObject[r.Object] = append(byObject[r.Object], "refused")
			continue
		}
		byObject[r.Object] = append(byObject[r.Object], r.Strategy)
		planned = append(planned, r.Restarts...)
	}
	assert.Equal(t, map[string][]string{
		"configmap/app-config": {"rollout", "delete"}, "configmap/broad": {"refused"}, "configmap/frontend-config": {"delete"},
		"configmap/rsentinel": {"rollout"}, "configmap/sentinel-config": {"delete"},
	}, byObject, "unused is used by no one; broad would select every pod")
	var podsNow []string
	for _, app := range []string{"frontend", "sentinel", "worker"} {
		for _, p := range c.pods(app) {
			podsNow = append(podsNow, "pod/"+p.Name)
		}
	}
	slices.Sort(planned)
	want := append(podsNow, "Deployment/app", "Deployment/rsentinel")
	slices.Sort(want)
	require.Equal(t, want, planned, "the pods and workloads a change would restart")

	before := len(c.log())
	frontend, worker := c.uids("frontend"), c.uids("worker")
	c.changeFrontendConfig("planned")
	c.setData("app-config", "log.level", "debug")
	c.setData("unused", "k", "v2")
	c.setData("broad", "k", "v2")
	c.waitReplaced("frontend", frontend, 3)
	c.waitReplaced("worker", worker, 2)
	c.waitLog("Deployment/app was restarted (rollout)", 1)
	c.settle()
	c.rsettle()

	var restarted []string
	log := c.log()[before:]
	for _, m := range regexp.MustCompile(`(?m) (\S+) was deleted successfully `).FindAllStringSubmatch(log, -1) {
		restarted = append(restarted, "pod/"+m[1])
	}
	for _, m := range regexp.MustCompile(`(?m) (Deployment/\S+) was restarted \(rollout\) `).FindAllStringSubmatch(log, -1) {
		restarted = append(restarted, m[1])
	}
	slices.Sort(restarted)
	assert.Equal(t, planned, restarted, "what the plan listed, each once, and nothing else")
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "level=ERROR") {
			assert.Contains(t, line, "configmap=broad", "no error but broad's refusal")
		}
	}
}
