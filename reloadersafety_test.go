// reloadersafety_test.go runs the Reloader mode against the fake API for what keeps it
// safe: cuscon's own workload is never rolled, Secret digests are keyed with a key of its
// own (and Secrets wait while it cannot be read), a workload chooses only the strategies
// the operator allowed, and one namespace's hung check holds up no other.

package main

import (
	"strings"
	"testing"

	"cuscon/internal/kubetest"
	"cuscon/internal/reloader"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReloaderNeverRollsTheWorkloadThatRunsCuscon(t *testing.T) {
	f := reloaderFake(t, autoOn)
	cusconReplicas(f)
	f.PutWorkload("Deployment", "cuscon", autoOn, nil,
		`{"containers":[{"name":"cuscon","envFrom":[{"configMapRef":{"name":"app-config"}}]}]}`)
	startReloader(t, f, asReplica)
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	ev := f.WaitEvent("Deployment/cuscon", "RefusedSelf")
	assert.Contains(t, ev.Message, "Deployment/cuscon runs cuscon itself; not restarted")
	f.WaitUntil("app rolled", func() bool { return kubetest.Contains(f.Rollouts, "deployments/app") })
	rsettle(t, f)
	assert.Zero(t, f.RolloutsOf("deployments/cuscon"), "a tenant's annotation on cuscon's own Deployment rolls nothing")
	assert.Empty(t, f.DeletedPods())
}

func TestReloaderKeysSecretDigestsWithOneKeyKeptInASecretOfItsOwn(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.UpdateObject("secrets", "default", "db", func(s *kubetest.ConfigMap) { s.Data = map[string]string{"password": "aHVudGVyMg=="} })
	f.PutWorkload("Deployment", "db", map[string]string{"secret.reloader.stakater.com/auto": "true"}, nil,
		`{"containers":[{"name":"db","env":[{"name":"PW","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}]}]}`)
	secretsOn := func(c *config) { c.Secrets = true }
	_, stop := startReloader(t, f, secretsOn)
	f.WaitUntil("db's baseline recorded", func() bool {
		return f.Workloads["deployments/default/db"].Metadata.Annotations[reloader.AppliedConfigsAnnotation] != ""
	})
	var key string
	f.Snapshot(func() {
		s := f.Objects["secrets/default/cuscon-digest-key"]
		require.NotNil(t, s, "made on first start, in cuscon's own namespace")
		key = s.Data["key"]
		assert.Len(t, key, 44, "32 random bytes, base64")
	})
	rec := recordOf(f.WorkloadAnnotation("Deployment", "db", reloader.AppliedConfigsAnnotation))
	recorded := rec["secret/db"]["password"]
	assert.True(t, strings.HasPrefix(recorded, "k"), "keyed: recorded with the prefix of keyed digests")
	stop()
	startReloader(t, f, secretsOn)
	rsettle(t, f)
	f.Snapshot(func() {
		assert.Equal(t, key, f.Objects["secrets/default/cuscon-digest-key"].Data["key"], "kept, not made again")
	})
	assert.Zero(t, f.RolloutsOf("deployments/db"), "the same key after a restart: the same digests, nothing restarted")
}

func TestAWorkloadMayChooseOnlyTheStrategiesTheOperatorAllowed(t *testing.T) {
	f := reloaderFake(t, map[string]string{reloaderAuto: "true", restart.StrategyAnnotation: "delete"})
	startReloader(t, f, func(c *config) { c.OverrideStrategies = "" })
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	ev := f.WaitEvent("Deployment/app", "InvalidStrategy")
	assert.Contains(t, ev.Message, "not a strategy objects may choose here")
	rsettle(t, f)
	assert.Empty(t, f.DeletedPods())
	assert.Zero(t, f.RolloutsOf("deployments/app"))
}

func TestAHungCheckOfOneNamespaceHoldsUpNoOther(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.UpdateObject("configmaps", "slow", "cfg", func(cm *kubetest.ConfigMap) { cm.Data = msg("1") })
	startReloader(t, f, func(c *config) { c.Namespaces = "default,slow" })
	gate := make(chan struct{})
	f.Snapshot(func() { f.WorkloadGate["slow"] = gate })
	t.Cleanup(func() { close(gate) })
	f.UpdateObject("configmaps", "slow", "cfg", func(cm *kubetest.ConfigMap) { cm.Data = msg("2") }) // slow's check hangs
	f.WaitUntil("slow's workload list hanging", func() bool { return f.WorkloadGated > 0 })
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitUntil("app rolled while slow's check hangs", func() bool { return kubetest.Contains(f.Rollouts, "deployments/app") })
}

func TestAnUnreadableDigestKeyHoldsOnlySecretsUntilItCanBeRead(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.UpdateObject("secrets", "default", "db", func(s *kubetest.ConfigMap) { s.Data = map[string]string{"password": "YQ=="} })
	f.PutWorkload("Deployment", "db", map[string]string{"secret.reloader.stakater.com/auto": "true"}, nil,
		`{"containers":[{"name":"db","env":[{"name":"PW","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}]}]}`)
	secretsOn := func(c *config) { c.Secrets = true }
	_, stop := startReloader(t, f, secretsOn)
	f.WaitUntil("db's baseline recorded, keyed", func() bool {
		return strings.Contains(f.Workloads["deployments/default/db"].Metadata.Annotations[reloader.AppliedConfigsAnnotation], "secret/db")
	})
	stop()
	f.Snapshot(func() { f.ForbidGet["secrets/default/cuscon-digest-key"] = true }) // an upgrade without the Role re-applied
	log, _ := startReloader(t, f, secretsOn)
	log.WaitFor(t, "Could not read the digest key; Secrets are not compared for workloads until it can be read", 1)
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "debug", "other": "1"})
	f.WaitUntil("app rolled: ConfigMaps go on", func() bool { return kubetest.Contains(f.Rollouts, "deployments/app") })
	f.UpdateObject("secrets", "default", "db", func(s *kubetest.ConfigMap) { s.Data = map[string]string{"password": "Yg=="} })
	rsettle(t, f)
	assert.Zero(t, f.RolloutsOf("deployments/db"), "not compared without the key: held, not guessed")
	assert.Contains(t, f.WorkloadAnnotation("Deployment", "db", reloader.AppliedConfigsAnnotation), "secret/db", "its record kept")
	f.Snapshot(func() { delete(f.ForbidGet, "secrets/default/cuscon-digest-key") })
	f.WaitUntil("db rolled once the key could be read: the change made meanwhile is not lost", func() bool {
		return kubetest.Contains(f.Rollouts, "deployments/db")
	})
}

func TestADigestKeyThatCannotBeCreatedIsReplacedByOneOfThisProcess(t *testing.T) {
	f := reloaderFake(t, autoOn)
	f.UpdateObject("secrets", "default", "db", func(s *kubetest.ConfigMap) { s.Data = map[string]string{"password": "YQ=="} })
	f.PutWorkload("Deployment", "db", map[string]string{"secret.reloader.stakater.com/auto": "true"}, nil,
		`{"containers":[{"name":"db","env":[{"name":"PW","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}]}]}`)
	f.Snapshot(func() { f.ForbidCreate["secrets/default"] = true }) // Reloader's chart: get and list on Secrets, no create
	log, _ := startReloader(t, f, func(c *config) { c.Secrets = true })
	log.WaitFor(t, "Secrets are digested with a key of this process until the digest key Secret exists", 1)
	f.WaitUntil("db's baseline recorded", func() bool {
		return strings.Contains(f.Workloads["deployments/default/db"].Metadata.Annotations[reloader.AppliedConfigsAnnotation], "secret/db")
	})
	f.UpdateObject("secrets", "default", "db", func(s *kubetest.ConfigMap) { s.Data = map[string]string{"password": "Yg=="} })
	f.WaitUntil("db rolled for its Secret", func() bool { return kubetest.Contains(f.Rollouts, "deployments/db") })
	assert.Equal(t, 1, log.Count("Secrets are digested with a key of this process"), "said once, not at every retry")
}
