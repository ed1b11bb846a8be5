// planapi_test.go runs `cuscon plan` against the fake API: what it lists for the
// annotation and for Reloader's annotations, how the flags that decide behaviour change
// it, and that it sends nothing but GETs.

package main

import (
	"testing"

	"cuscon/internal/kubetest"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
)

// planFake is a namespace with both kinds of opt-in: frontend-config selecting three
// frontend pods (and a bare one), a refused selector, and Deployments app (auto, one key
// of app-config and the password of Secret db) and worker (envFrom app-config, restarted
// by delete), and StatefulSet queue with an unknown strategy.
func planFake(t *testing.T) *kubetest.API {
	f := kubetest.New(t, "default")
	f.UpdateConfigMap("frontend-config", func(cm *kubetest.ConfigMap) {
		cm.Metadata.Annotations, cm.Data = sel("app=frontend"), msg("hello")
		cm.Metadata.Labels = map[string]string{"cuscon.dev/managed": "true"}
	})
	f.PutConfigMap("broad", sel("!app"), msg("x"))
	f.PutConfigMap("app-config", nil, map[string]string{"log.level": "info", "other": "1"})
	f.PutConfigMap("unused", nil, msg("x"))
	f.UpdateObject("secrets", "default", "db", func(s *kubetest.ConfigMap) { s.Data = map[string]string{"password": "cHc="} })
	f.AddPods("frontend", 3, map[string]string{"app": "frontend"})
	f.AddPod("frontend-bare", map[string]string{"app": "frontend"}, false)
	f.AddPods("worker", 2, map[string]string{"app": "worker"})
	f.PutWorkload("Deployment", "app", map[string]string{reloaderAuto: "true"}, nil, `{"containers":[{"name":"app","env":[
		{"name":"LEVEL","valueFrom":{"configMapKeyRef":{"name":"app-config","key":"log.level"}}},
		{"name":"PW","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}]}]}`)
	f.PutWorkload("Deployment", "worker", map[string]string{restart.StrategyAnnotation: "delete"}, map[string]string{reloaderAuto: "true"},
		`{"containers":[{"name":"w","envFrom":[{"configMapRef":{"name":"app-config"}}]}]}`)
	f.PutWorkload("StatefulSet", "queue", map[string]string{reloaderAuto: "true", restart.StrategyAnnotation: "recreate"}, nil,
		`{"containers":[{"name":"q","envFrom":[{"configMapRef":{"name":"app-config"}}]}]}`)
	f.PutWorkload("DaemonSet", "agent", nil, nil, `{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"app-config"}}]}]}`)
	return f
}

// brief is a row as the tests compare it: object, strategy, what it restarts or refuses.
func brief(rows []planRow) []string {
	var out []string
	for _, r := range rows {
		s := r.Object + " " + r.Strategy + " " + restartsCell(r)
		if len(r.Restarts) == 0 && r.Refused == "" && r.Note == "" {
			s += " [" + r.Why + "]"
		}
		out = append(out, s)
	}
	return out
}

const (
	bareSkipped  = "(skips pod/frontend-bare: no controller owns it, so nothing would recreate it (--delete-unowned-pods allows it))"
	queueRefusal = `refused: StatefulSet/queue: cuscon.dev/strategy "recreate": want delete, evict or rollout; nothing restarted`
	missingNote  = "does not exist, or --watch-selector leaves it out: nothing to compare; creating it restarts nothing (the pods wait for it)"
	broadRefusal = "refused: " + "it has no requirement a pod must meet (k=v, k==v, k in (...), or k), so it would select every pod of the namespace without the excluded labels; refused"
)

func TestPlanListsWhatEachModeWouldRestartAndWritesNothing(t *testing.T) {
	f := planFake(t)
	assert.Equal(t, []string{
		"configmap/broad  " + broadRefusal,
		"configmap/frontend-config delete pod/frontend-0, pod/frontend-1, pod/frontend-2 " + bareSkipped,
	}, brief(planOf(t, f)), "the annotation only: workloads are not even listed")
	f.Snapshot(func() { assert.Zero(t, f.WorkloadLists) })

	rows := planOf(t, f, "--reloader-annotations")
	assert.Equal(t, []string{
		"configmap/app-config env-vars Deployment/app",
		"configmap/app-config delete pod/worker-0, pod/worker-1",
		"configmap/app-config  " + queueRefusal,
		"configmap/broad  " + broadRefusal,
		"configmap/frontend-config delete pod/frontend-0, pod/frontend-1, pod/frontend-2 " + bareSkipped,
	}, brief(rows), "Secrets only with --secrets; DaemonSet agent did not opt in")
	assert.Equal(t, `Deployment/app: reloader.stakater.com/auto; env LEVEL in "app" (keys log.level)`, rows[0].Why)
	assert.Equal(t, `Deployment/worker: reloader.stakater.com/auto; envFrom in "w"`, rows[1].Why, "read from the template")

	assert.Equal(t, []string{
		"configmap/app-config env-vars Deployment/app",
		"configmap/app-config delete pod/worker-0, pod/worker-1",
		"configmap/app-config  " + queueRefusal,
		"configmap/broad  " + broadRefusal,
		"configmap/frontend-config rollout Deployment/web " + bareSkipped,
		"secret/db env-vars Deployment/app",
	}, brief(planOf(t, f, "--reloader-annotations", "--secrets", "--strategy=rollout")),
		"--strategy=rollout rolls frontend's Deployment (through ReplicaSet rs); a workload's own default stays --reload-strategy (env-vars)")

	f.Snapshot(func() {
		assert.Empty(t, f.Writes, "the plan sends GETs only")
		assert.Positive(t, f.WorkloadLists)
	})
}

func TestPlanFollowsTheWatchSelectorAndTheNamespaces(t *testing.T) {
	f := planFake(t)
	other := "shop"
	f.UpdateObject("configmaps", other, "shop-config", func(cm *kubetest.ConfigMap) { cm.Metadata.Annotations, cm.Data = sel("app=till"), msg("x") })
	f.AddPodIn(other, "till-0", map[string]string{"app": "till"}, "ReplicaSet/rs")

	rows := planOf(t, f, "--reloader-annotations", "--watch-selector", "cuscon.dev/managed=true")
	assert.Equal(t, []string{
		"configmap/app-config  nothing (" + missingNote + ")",
		"configmap/app-config  nothing (" + missingNote + ")",
		"configmap/app-config  " + queueRefusal,
		"configmap/frontend-config delete pod/frontend-0, pod/frontend-1, pod/frontend-2 " + bareSkipped,
	}, brief(rows), "what the watch selector leaves out is never compared, so never restarts")

	var where []string
	for _, r := range planOf(t, f, "-A") {
		where = append(where, r.Namespace+"/"+r.Object)
	}
	assert.Equal(t, []string{"default/configmap/broad", "default/configmap/frontend-config", "shop/configmap/shop-config"}, where)
	assert.Equal(t, []string{"configmap/shop-config delete pod/till-0"}, brief(planOf(t, f, "-n", other)))
	assert.Equal(t, []string{"configmap/frontend-config delete pod/frontend-0, pod/frontend-1, pod/frontend-2, pod/frontend-bare"},
		brief(planOf(t, f, "--delete-unowned-pods", "--watch-selector", "cuscon.dev/managed=true")))
	f.Snapshot(func() { assert.Empty(t, f.Writes) })
}
