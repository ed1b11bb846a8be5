// reloaderrun_test.go runs the Reloader mode (--reloader-annotations) against the fake
// API: a workload is rolled once when a key it uses changes, and never for anything
// else; starts, restarts and a new leader restart nothing; a change made while cuscon
// was stopped restarts once; delete restarts the pods and leaves the spec alone (what
// keeps it safe: reloadersafety_test.go; its waves: reloaderwaves_test.go).

package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"cuscon/internal/kubetest"
	"cuscon/internal/reloader"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reloaderFake is Deployment app (auto) reading key log.level of app-config into its env,
// two of its pods, ConfigMap unused, and the sentinel that rsettle rolls.
func reloaderFake(t *testing.T, appAnnotations map[string]string) *kubetest.API {
	f := kubetest.New(t, "default")
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "info", "other": "1"})
	f.PutConfigMap("unused", nil, msg("x"))
	f.PutConfigMap("rsentinel", nil, msg("0"))
	f.AddPods("app", 2, map[string]string{"app": "app"})
	f.PutWorkload("Deployment", "app", appAnnotations, nil,
		`{"containers":[{"name":"app","env":[{"name":"LEVEL","valueFrom":{"configMapKeyRef":{"name":"app-config","key":"log.level"}}}]}]}`)
	f.PutWorkload("Deployment", "rsentinel", map[string]string{"configmap.reloader.stakater.com/reload": "rsentinel"}, nil, `{}`)
	return f
}

// reloaderAuto is Reloader's annotation that opts a workload in for what it uses.
const reloaderAuto = "reloader.stakater.com/auto"

// autoOn opts a workload in with reloader.stakater.com/auto.
var autoOn = map[string]string{reloaderAuto: "true"}

// startReloader runs cuscon in the Reloader mode against f (cfg changed by edit) and
// waits until it has swept the workloads and recorded the baselines of both.
func startReloader(t *testing.T, f *kubetest.API, edit func(*config)) (*kubetest.LogSink, func()) {
	t.Helper()
	log, stop := startCuscon(t, f, func(c *config) {
		c.ReloaderAnnotations = true
		c.Reloader.Strategy = reloader.StrategyRollout // the fake API rolls by kubectl's stamp
		if edit != nil {
			edit(c)
		}
	})
	log.WaitFor(t, "Checked workloads namespace=default sweep=true", 1)
	f.WaitUntil("the baselines recorded", func() bool {
		return f.Workloads["deployments/default/app"].Metadata.Annotations[reloader.AppliedConfigsAnnotation] != "" &&
			f.Workloads["deployments/default/rsentinel"].Metadata.Annotations[reloader.AppliedConfigsAnnotation] != ""
	})
	return log, stop
}

// rsettle proves the mode has handled every change made before it: it changes the
// sentinel and waits for its Deployment's roll, which comes after theirs.
func rsettle(t *testing.T, f *kubetest.API) {
	t.Helper()
	before := f.RolloutsOf("deployments/rsentinel")
	f.PutConfigMap("rsentinel", nil, msg(fmt.Sprint(before+1)))
	f.WaitUntil("the sentinel rolled", func() bool {
		n := 0
		for _, r := range f.Rollouts {
			if r == "deployments/rsentinel" {
				n++
			}
		}
		return n > before
	})
}

// appRecord is what is recorded on Deployment app.
func appRecord(f *kubetest.API) record {
	return recordOf(f.WorkloadAnnotation("Deployment", "app", reloader.AppliedConfigsAnnotation))
}

// record is what a workload's applied-configs annotation says: object → key → digest.
type record map[string]map[string]string

// recordOf reads an applied-configs annotation; nil if it cannot be read.
func recordOf(s string) record {
	var r record
	_ = json.Unmarshal([]byte(s), &r)
	return r
}

func TestReloaderBaselineAtStartRecordsWhatEachWorkloadUsesAndRestartsNothing(t *testing.T) {
	f := reloaderFake(t, autoOn)
	startReloader(t, f, nil)
	rec := appRecord(f)
	require.Contains(t, rec, "configmap/app-config")
	assert.Equal(t, []string{"log.level"}, keysOf(rec["configmap/app-config"]), "the key it uses, not the object")
	assert.Len(t, rec, 1, "nothing it does not use")
	f.Snapshot(func() {
		assert.Empty(t, f.Rollouts, "a baseline rolls nothing")
		assert.Empty(t, f.Deleted)
		assert.Empty(t, f.Workloads["deployments/default/app"].Spec.Template.Metadata.Annotations, "the record is on the workload's metadata, not its template")
	})
}

func TestReloaderRollsAWorkloadOnceWhenAKeyItUsesChanges(t *testing.T) {
	f := reloaderFake(t, autoOn)
	log, _ := startReloader(t, f, nil)
	before := appRecord(f)
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitUntil("app rolled", func() bool { return kubetest.Contains(f.Rollouts, "deployments/app") })
	rsettle(t, f)
	assert.Equal(t, 1, f.RolloutsOf("deployments/app"), "once")
	after := appRecord(f)
	assert.NotEqual(t, before["configmap/app-config"]["log.level"], after["configmap/app-config"]["log.level"], "the new digest recorded")
	f.Snapshot(func() {
		assert.Empty(t, f.Deleted, "rollout deletes no pod")
		assert.NotEmpty(t, f.Workloads["deployments/default/app"].Spec.Template.Metadata.Annotations[restart.RestartedAtAnnotation])
	})
	assert.Contains(t, log.String(), `reason="configmap/app-config key log.level (env LEVEL in \"app\") changed"`)
	f.WaitEvent("Deployment/app", "Restarted")
}

func TestReloaderRestartsNothingForAKeyOrAnObjectTheWorkloadDoesNotUse(t *testing.T) {
	f := reloaderFake(t, autoOn)
	startReloader(t, f, nil)
	before := appRecord(f)
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "info", "other": "2"})
	f.PutConfigMap("unused", nil, msg("y"))
	f.UpdateConfigMap("app-config", func(cm *kubetest.ConfigMap) { cm.Metadata.Labels = map[string]string{"tier": "web"} })
	rsettle(t, f)
	assert.Zero(t, f.RolloutsOf("deployments/app"))
	assert.Equal(t, before, appRecord(f))
	assert.Empty(t, f.DeletedPods())
}

func TestReloaderRestartedWithNoChangeRestartsNothing(t *testing.T) {
	f := reloaderFake(t, autoOn)
	_, stop := startReloader(t, f, nil)
	stop()
	log, _ := startReloader(t, f, nil)
	rsettle(t, f)
	assert.Zero(t, f.RolloutsOf("deployments/app"))
	assert.Equal(t, 1, log.Count("Checked workloads namespace=default sweep=true"))
}

func TestReloaderChangeWhileStoppedRestartsOnceAtStart(t *testing.T) {
	f := reloaderFake(t, autoOn)
	_, stop := startReloader(t, f, nil)
	stop()
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "warn", "other": "1"})
	startReloader(t, f, nil)
	f.WaitUntil("app rolled", func() bool { return kubetest.Contains(f.Rollouts, "deployments/app") })
	rsettle(t, f)
	assert.Equal(t, 1, f.RolloutsOf("deployments/app"))
}

func TestReloaderDeleteStrategyRestartsThePodsAndLeavesTheSpecAlone(t *testing.T) {
	f := reloaderFake(t, map[string]string{reloaderAuto: "true", restart.StrategyAnnotation: "delete"})
	f.AddPods("other", 1, map[string]string{"app": "other"})
	startReloader(t, f, nil)
	before := appRecord(f)
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitDeleted("app-0", "app-1")
	f.WaitUntil("the new view recorded", func() bool {
		v := recordOf(f.Workloads["deployments/default/app"].Metadata.Annotations[reloader.AppliedConfigsAnnotation])
		return v["configmap/app-config"]["log.level"] != before["configmap/app-config"]["log.level"]
	})
	rsettle(t, f)
	assert.Zero(t, f.RolloutsOf("deployments/app"), "no rollout")
	assert.ElementsMatch(t, []string{"app-0", "app-1"}, f.DeletedPods(), "its pods, by its selector, and no other")
	f.Snapshot(func() {
		assert.Empty(t, f.Workloads["deployments/default/app"].Spec.Template.Metadata.Annotations, "its template untouched")
		assert.Contains(t, f.PodLists, "app=app")
	})
}

func TestReloaderDryRunSendsTheRolloutAsDryRunOnly(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.PutWorkload("Deployment", "rsentinel", nil, nil, `{}`) // no sentinel: nothing would roll it
	startCuscon(t, f, func(c *config) {
		c.ReloaderAnnotations, c.DryRun, c.Reloader.Strategy = true, true, reloader.StrategyRollout
	})
	f.WaitUntil("the baseline sent as a dry run", func() bool { return kubetest.Contains(f.DryRuns, "PATCH deployments/app") })
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitUntil("the rollout sent as a dry run", func() bool { return len(f.DryRuns) >= 2 })
	f.Snapshot(func() {
		assert.Empty(t, f.Rollouts)
		assert.Empty(t, f.WorkloadPatches, "nothing written")
		assert.Equal(t, []string{"PATCH deployments/app", "PATCH deployments/app"}, f.DryRuns)
	})
}

func TestReloaderNewLeaderRestartsNothingThenActsOnChanges(t *testing.T) {
	f := reloaderFake(t, autoOn)
	leader := func(id string) func(*config) { return func(c *config) { c.LeaderElect, c.Identity = true, id } }
	_, stopA := startReloader(t, f, leader("a"))
	logB, _ := startCuscon(t, f, func(c *config) {
		c.ReloaderAnnotations, c.LeaderElect, c.Identity, c.Reloader.Strategy = true, true, "b", reloader.StrategyRollout
	})
	logB.WaitFor(t, `Synced configmaps in "default"`, 1)
	stopA() // releases the Lease; b takes over and lists again
	logB.WaitFor(t, "Checked workloads namespace=default sweep=true", 1)
	rsettle(t, f)
	assert.Zero(t, f.RolloutsOf("deployments/app"), "a new leader's sweep rolls nothing that was applied")
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitUntil("app rolled", func() bool { return kubetest.Contains(f.Rollouts, "deployments/app") })
	rsettle(t, f)
	assert.Equal(t, 1, f.RolloutsOf("deployments/app"))
}

// keysOf lists the keys of a record of one object, sorted.
func keysOf(v map[string]string) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	return out
}

func TestReloaderRollsEachKindOfWorkloadAndSecretsOnlyWhenWatched(t *testing.T) {
	for _, row := range []struct {
		kind, plural string
		secrets      bool
		rolls        int
	}{
		{"StatefulSet", "statefulsets", true, 1},
		{"DaemonSet", "daemonsets", true, 1},
		{"StatefulSet", "statefulsets", false, 0}, // Secrets are not watched without --secrets
	} {
		t.Run(row.kind+fmt.Sprint(row.secrets), func(t *testing.T) {
			f := reloaderFake(t, autoOn)
			f.UpdateObject("secrets", "default", "db", func(s *kubetest.ConfigMap) { s.Data = map[string]string{"password": "YQ=="} })
			f.PutWorkload(row.kind, "db", map[string]string{"secret.reloader.stakater.com/auto": "true"}, nil,
				`{"volumes":[{"name":"pw","secret":{"secretName":"db"}}],"containers":[{"name":"db","volumeMounts":[{"name":"pw"}]}]}`)
			startReloader(t, f, func(c *config) { c.Secrets = row.secrets })
			f.UpdateObject("secrets", "default", "db", func(s *kubetest.ConfigMap) { s.Data = map[string]string{"password": "Yg=="} })
			if row.rolls > 0 { // Secrets have a watch of their own: the sentinel does not order them
				f.WaitUntil("db rolled", func() bool { return kubetest.Contains(f.Rollouts, row.plural+"/db") })
			}
			rsettle(t, f)
			assert.Equal(t, row.rolls, f.RolloutsOf(row.plural+"/db"))
			assert.Zero(t, f.RolloutsOf("deployments/app"), "app uses no Secret")
		})
	}
}

func TestFirstSightRecordsAreSentAFewAtATime(t *testing.T) {
	f := reloaderFake(t, autoOn)
	gate := make(chan struct{})
	f.Snapshot(func() { f.WorkloadPatchGate = gate })
	startCuscon(t, f, func(c *config) { c.ReloaderAnnotations = true })
	f.WaitUntil("both baselines under way at once", func() bool { return f.WorkloadPatchesWaiting == 2 })
	close(gate)
	f.WaitUntil("the baselines recorded", func() bool {
		return f.Workloads["deployments/default/app"].Metadata.Annotations[reloader.AppliedConfigsAnnotation] != "" &&
			f.Workloads["deployments/default/rsentinel"].Metadata.Annotations[reloader.AppliedConfigsAnnotation] != ""
	})
}
