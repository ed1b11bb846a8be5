// reloaderrun_test.go runs the Reloader mode (--reloader-annotations) against the fake
// API: a workload is rolled once when a key it uses changes, and never for anything
// else; starts, restarts and a new leader restart nothing; a change made while cuscon
// was stopped restarts once; delete restarts the pods and leaves the spec alone.

package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reloaderFake is Deployment app (auto) reading key log.level of app-config into its env,
// two of its pods, ConfigMap unused, and the sentinel that rsettle rolls.
func reloaderFake(t *testing.T, appAnnotations map[string]string) *fakeAPI {
	f := newFakeAPI(t, "default")
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "info", "other": "1"})
	f.putConfigMap("unused", nil, msg("x"))
	f.putConfigMap("rsentinel", nil, msg("0"))
	f.addPods("app", 2, map[string]string{"app": "app"})
	f.putWorkload("Deployment", "app", appAnnotations, nil,
		`{"containers":[{"name":"app","env":[{"name":"LEVEL","valueFrom":{"configMapKeyRef":{"name":"app-config","key":"log.level"}}}]}]}`)
	f.putWorkload("Deployment", "rsentinel", map[string]string{"configmap.reloader.stakater.com/reload": "rsentinel"}, nil, `{}`)
	return f
}

// autoOn opts a workload in with reloader.stakater.com/auto.
var autoOn = map[string]string{reloaderAuto: "true"}

// startReloader runs cuscon in the Reloader mode against f (cfg changed by edit) and
// waits until it has swept the workloads and recorded the baselines of both.
func startReloader(t *testing.T, f *fakeAPI, edit func(*config)) (*logSink, func()) {
	t.Helper()
	log, stop := startCuscon(t, f, func(c *config) {
		c.ReloaderAnnotations = true
		if edit != nil {
			edit(c)
		}
	}, func(a *app) { a.ctl.reloader.retry = testBackoff })
	log.waitFor(t, "Checked workloads namespace=default sweep=true", 1)
	f.waitUntil("the baselines recorded", func() bool {
		return f.workloads["deployments/default/app"].Metadata.Annotations[appliedConfigsAnnotation] != "" &&
			f.workloads["deployments/default/rsentinel"].Metadata.Annotations[appliedConfigsAnnotation] != ""
	})
	return log, stop
}

// rsettle proves the mode has handled every change made before it: it changes the
// sentinel and waits for its Deployment's roll, which comes after theirs.
func rsettle(t *testing.T, f *fakeAPI) {
	t.Helper()
	before := f.rolloutsOf("deployments/rsentinel")
	f.putConfigMap("rsentinel", nil, msg(fmt.Sprint(before+1)))
	f.waitUntil("the sentinel rolled", func() bool {
		n := 0
		for _, r := range f.rollouts {
			if r == "deployments/rsentinel" {
				n++
			}
		}
		return n > before
	})
}

// appRecord is what is recorded on Deployment app.
func appRecord(f *fakeAPI) workloadView {
	v, _ := parseView(f.workloadAnnotation("Deployment", "app", appliedConfigsAnnotation))
	return v
}

func TestReloaderBaselineAtStartRecordsWhatEachWorkloadUsesAndRestartsNothing(t *testing.T) {
	f := reloaderFake(t, autoOn)
	startReloader(t, f, nil)
	rec := appRecord(f)
	require.Contains(t, rec, "configmap/app-config")
	assert.Equal(t, []string{"log.level"}, keysOf(rec["configmap/app-config"]), "the key it uses, not the object")
	assert.Len(t, rec, 1, "nothing it does not use")
	f.snapshot(func() {
		assert.Empty(t, f.rollouts, "a baseline rolls nothing")
		assert.Empty(t, f.deleted)
		assert.Empty(t, f.workloads["deployments/default/app"].Spec.Template.Metadata.Annotations, "the record is on the workload's metadata, not its template")
	})
}

func TestReloaderRollsAWorkloadOnceWhenAKeyItUsesChanges(t *testing.T) {
	f := reloaderFake(t, autoOn)
	log, _ := startReloader(t, f, nil)
	before := appRecord(f)
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.waitUntil("app rolled", func() bool { return contains(f.rollouts, "deployments/app") })
	rsettle(t, f)
	assert.Equal(t, 1, f.rolloutsOf("deployments/app"), "once")
	after := appRecord(f)
	assert.NotEqual(t, before["configmap/app-config"]["log.level"], after["configmap/app-config"]["log.level"], "the new digest recorded")
	f.snapshot(func() {
		assert.Empty(t, f.deleted, "rollout deletes no pod")
		assert.NotEmpty(t, f.workloads["deployments/default/app"].Spec.Template.Metadata.Annotations[restartedAtAnnotation])
	})
	assert.Contains(t, log.String(), `reason="configmap/app-config key log.level changed"`)
	f.waitEvent("Deployment/app", "Restarted")
}

func TestReloaderRestartsNothingForAKeyOrAnObjectTheWorkloadDoesNotUse(t *testing.T) {
	f := reloaderFake(t, autoOn)
	startReloader(t, f, nil)
	before := appRecord(f)
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "info", "other": "2"})
	f.putConfigMap("unused", nil, msg("y"))
	f.updateConfigMap("app-config", func(cm *fakeConfigMap) { cm.Metadata.Labels = map[string]string{"tier": "web"} })
	rsettle(t, f)
	assert.Zero(t, f.rolloutsOf("deployments/app"))
	assert.Equal(t, before, appRecord(f))
	assert.Empty(t, f.deletedPods())
}

func TestReloaderRestartedWithNoChangeRestartsNothing(t *testing.T) {
	f := reloaderFake(t, autoOn)
	_, stop := startReloader(t, f, nil)
	stop()
	log, _ := startReloader(t, f, nil)
	rsettle(t, f)
	assert.Zero(t, f.rolloutsOf("deployments/app"))
	assert.Equal(t, 1, log.count("Checked workloads namespace=default sweep=true"))
}

func TestReloaderChangeWhileStoppedRestartsOnceAtStart(t *testing.T) {
	f := reloaderFake(t, autoOn)
	_, stop := startReloader(t, f, nil)
	stop()
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "warn", "other": "1"})
	startReloader(t, f, nil)
	f.waitUntil("app rolled", func() bool { return contains(f.rollouts, "deployments/app") })
	rsettle(t, f)
	assert.Equal(t, 1, f.rolloutsOf("deployments/app"))
}

func TestReloaderDeleteStrategyRestartsThePodsAndLeavesTheSpecAlone(t *testing.T) {
	f := reloaderFake(t, map[string]string{reloaderAuto: "true", strategyAnnotation: "delete"})
	f.addPods("other", 1, map[string]string{"app": "other"})
	startReloader(t, f, nil)
	before := appRecord(f)
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.waitDeleted("app-0", "app-1")
	f.waitUntil("the new view recorded", func() bool {
		v, _ := parseView(f.workloads["deployments/default/app"].Metadata.Annotations[appliedConfigsAnnotation])
		return v["configmap/app-config"]["log.level"] != before["configmap/app-config"]["log.level"]
	})
	rsettle(t, f)
	assert.Zero(t, f.rolloutsOf("deployments/app"), "no rollout")
	assert.ElementsMatch(t, []string{"app-0", "app-1"}, f.deletedPods(), "its pods, by its selector, and no other")
	f.snapshot(func() {
		assert.Empty(t, f.workloads["deployments/default/app"].Spec.Template.Metadata.Annotations, "its template untouched")
		assert.Contains(t, f.podLists, "app=app")
	})
}

func TestReloaderDryRunSendsTheRolloutAsDryRunOnly(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.putWorkload("Deployment", "rsentinel", nil, nil, `{}`) // no sentinel: nothing would roll it
	startCuscon(t, f, func(c *config) { c.ReloaderAnnotations, c.DryRun = true, true })
	f.waitUntil("the baseline sent as a dry run", func() bool { return contains(f.dryRuns, "PATCH deployments/app") })
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.waitUntil("the rollout sent as a dry run", func() bool { return len(f.dryRuns) >= 2 })
	f.snapshot(func() {
		assert.Empty(t, f.rollouts)
		assert.Empty(t, f.workloadPatches, "nothing written")
		assert.Equal(t, []string{"PATCH deployments/app", "PATCH deployments/app"}, f.dryRuns)
	})
}

func TestReloaderNewLeaderRestartsNothingThenActsOnChanges(t *testing.T) {
	f := reloaderFake(t, autoOn)
	leader := func(id string) func(*config) { return func(c *config) { c.LeaderElect, c.Identity = true, id } }
	_, stopA := startReloader(t, f, leader("a"))
	logB, _ := startCuscon(t, f, func(c *config) { c.ReloaderAnnotations, c.LeaderElect, c.Identity = true, true, "b" },
		func(a *app) { a.ctl.reloader.retry = testBackoff })
	logB.waitFor(t, `Synced configmaps in "default"`, 1)
	stopA() // releases the Lease; b takes over and lists again
	logB.waitFor(t, "Checked workloads namespace=default sweep=true", 1)
	rsettle(t, f)
	assert.Zero(t, f.rolloutsOf("deployments/app"), "a new leader's sweep rolls nothing that was applied")
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.waitUntil("app rolled", func() bool { return contains(f.rollouts, "deployments/app") })
	rsettle(t, f)
	assert.Equal(t, 1, f.rolloutsOf("deployments/app"))
}

// keysOf lists the keys of a view of one object, sorted.
func keysOf(v objectView) []string {
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
			f.updateObject("secrets", "default", "db", func(s *fakeConfigMap) { s.Data = map[string]string{"password": "YQ=="} })
			f.putWorkload(row.kind, "db", map[string]string{"secret.reloader.stakater.com/auto": "true"}, nil,
				`{"volumes":[{"name":"pw","secret":{"secretName":"db"}}],"containers":[{"name":"db","volumeMounts":[{"name":"pw"}]}]}`)
			startReloader(t, f, func(c *config) { c.Secrets = row.secrets })
			f.updateObject("secrets", "default", "db", func(s *fakeConfigMap) { s.Data = map[string]string{"password": "Yg=="} })
			if row.rolls > 0 { // Secrets have a watch of their own: the sentinel does not order them
				f.waitUntil("db rolled", func() bool { return contains(f.rollouts, row.plural+"/db") })
			}
			rsettle(t, f)
			assert.Equal(t, row.rolls, f.rolloutsOf(row.plural+"/db"))
			assert.Zero(t, f.rolloutsOf("deployments/app"), "app uses no Secret")
		})
	}
}

func TestReloaderNeverRollsTheWorkloadThatRunsCuscon(t *testing.T) {
	f := reloaderFake(t, autoOn)
	cusconReplicas(f)
	f.putWorkload("Deployment", "cuscon", autoOn, nil,
		`{"containers":[{"name":"cuscon","envFrom":[{"configMapRef":{"name":"app-config"}}]}]}`)
	startReloader(t, f, asReplica)
	f.putConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	ev := f.waitEvent("Deployment/cuscon", "RefusedSelf")
	assert.Contains(t, ev.Message, "Deployment/cuscon runs cuscon itself; not restarted")
	f.waitUntil("app rolled", func() bool { return contains(f.rollouts, "deployments/app") })
	rsettle(t, f)
	assert.Zero(t, f.rolloutsOf("deployments/cuscon"), "a tenant's annotation on cuscon's own Deployment rolls nothing")
	assert.Empty(t, f.deletedPods())
}

func TestReloaderKeysSecretDigestsWithOneKeyKeptInASecretOfItsOwn(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.updateObject("secrets", "default", "db", func(s *fakeConfigMap) { s.Data = map[string]string{"password": "aHVudGVyMg=="} })
	f.putWorkload("Deployment", "db", map[string]string{"secret.reloader.stakater.com/auto": "true"}, nil,
		`{"containers":[{"name":"db","env":[{"name":"PW","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}]}]}`)
	secretsOn := func(c *config) { c.Secrets = true }
	_, stop := startReloader(t, f, secretsOn)
	f.waitUntil("db's baseline recorded", func() bool {
		return f.workloads["deployments/default/db"].Metadata.Annotations[appliedConfigsAnnotation] != ""
	})
	var key string
	f.snapshot(func() {
		s := f.objects["secrets/default/cuscon-digest-key"]
		require.NotNil(t, s, "made on first start, in cuscon's own namespace")
		key = s.Data[digestKeyField]
		assert.Len(t, key, 44, "32 random bytes, base64")
	})
	rec, _ := parseView(f.workloadAnnotation("Deployment", "db", appliedConfigsAnnotation))
	recorded := rec["secret/db"]["password"]
	assert.True(t, strings.HasPrefix(recorded, keyedPrefix), "keyed")
	var uid string
	f.snapshot(func() { uid = f.objects["secrets/default/db"].Metadata.UID })
	guess := digestsOf(&source{Resource: secrets, Metadata: objectMeta{UID: uid}, Data: map[string]string{"password": "aHVudGVyMg=="}}, []byte("a guessed key"))
	assert.NotEqual(t, recorded, guess.key("password"), "the uid and the value are not enough to recompute it")
	stop()
	startReloader(t, f, secretsOn)
	rsettle(t, f)
	f.snapshot(func() {
		assert.Equal(t, key, f.objects["secrets/default/cuscon-digest-key"].Data[digestKeyField], "kept, not made again")
	})
	assert.Zero(t, f.rolloutsOf("deployments/db"), "the same key after a restart: the same digests, nothing restarted")
}

func TestAReloaderRecordMadeBeforeSecretDigestsWereKeyedIsABaseline(t *testing.T) {
	old := objectView{"password": "04ccd761c4ad7d3d"}
	now := objectView{"password": keyedPrefix + "9f1e2d3c4b5a6978"}
	assert.Nil(t, changedKeys(old, now), "a record of the old form is replaced, not taken for a change")
	assert.Equal(t, []string{"password"}, changedKeys(objectView{"password": keyedPrefix + "0000000000000001"}, now))
	assert.Equal(t, []string{"password"}, changedKeys(objectView{"password": absent}, now), "a key that appears is a change")
}
