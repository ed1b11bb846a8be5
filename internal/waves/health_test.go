package waves

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func observed(t *testing.T, js string) *Observed {
	t.Helper()
	var o Observed
	require.NoError(t, json.Unmarshal([]byte(js), &o))
	return &o
}

func TestHealthOf(t *testing.T) {
	for _, tc := range []struct {
		name, kind, obj string
		want            Health
		says            string
	}{
		{"deployment rolled out", "Deployment", `{"metadata":{"generation":4},"spec":{"replicas":3},
			"status":{"observedGeneration":4,"replicas":3,"updatedReplicas":3,"availableReplicas":3}}`, Healthy, ""},
		{"deployment template not observed yet", "Deployment", `{"metadata":{"generation":5},"spec":{"replicas":3},
			"status":{"observedGeneration":4,"replicas":3,"updatedReplicas":3,"availableReplicas":3}}`, Progressing, "not observed"},
		{"deployment half updated", "Deployment", `{"metadata":{"generation":5},"spec":{"replicas":3},
			"status":{"observedGeneration":5,"replicas":4,"updatedReplicas":1,"availableReplicas":3}}`, Progressing, "1 of 3 replicas updated"},
		{"deployment old replicas left", "Deployment", `{"metadata":{"generation":5},"spec":{"replicas":3},
			"status":{"observedGeneration":5,"replicas":4,"updatedReplicas":3,"availableReplicas":3}}`, Progressing, "1 old replicas"},
		{"deployment updated, not available", "Deployment", `{"metadata":{"generation":5},"spec":{"replicas":3},
			"status":{"observedGeneration":5,"replicas":3,"updatedReplicas":3,"availableReplicas":2}}`, Progressing, "2 of 3 updated replicas available"},
		{"deployment past its deadline", "Deployment", `{"metadata":{"generation":5},"spec":{"replicas":1},
			"status":{"observedGeneration":5,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]}}`, Failed, "deadline"},
		{"deployment without replicas set wants one", "Deployment", `{"metadata":{"generation":1},
			"status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"availableReplicas":1}}`, Healthy, ""},
		{"statefulset at its update revision", "StatefulSet", `{"metadata":{"generation":2},"spec":{"replicas":2},
			"status":{"observedGeneration":2,"readyReplicas":2,"updatedReplicas":2,"currentRevision":"r2","updateRevision":"r2"}}`, Healthy, ""},
		{"statefulset between revisions", "StatefulSet", `{"metadata":{"generation":2},"spec":{"replicas":2},
			"status":{"observedGeneration":2,"readyReplicas":2,"updatedReplicas":1,"currentRevision":"r1","updateRevision":"r2"}}`, Progressing, "update revision"},
		{"statefulset up to its partition", "StatefulSet", `{"metadata":{"generation":2},"spec":{"replicas":3,"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}},
			"status":{"observedGeneration":2,"readyReplicas":3,"updatedReplicas":1,"currentRevision":"r1","updateRevision":"r2"}}`, Healthy, ""},
		{"statefulset on delete: ready is enough", "StatefulSet", `{"metadata":{"generation":2},"spec":{"replicas":2,"updateStrategy":{"type":"OnDelete"}},
			"status":{"observedGeneration":2,"readyReplicas":2,"currentRevision":"r1","updateRevision":"r2"}}`, Healthy, ""},
		{"statefulset not ready", "StatefulSet", `{"metadata":{"generation":2},"spec":{"replicas":2},
			"status":{"observedGeneration":2,"readyReplicas":1,"updatedReplicas":2,"currentRevision":"r2","updateRevision":"r2"}}`, Progressing, "1 of 2 replicas ready"},
		{"daemonset everywhere", "DaemonSet", `{"metadata":{"generation":3},
			"status":{"observedGeneration":3,"desiredNumberScheduled":2,"updatedNumberScheduled":2,"numberAvailable":2}}`, Healthy, ""},
		{"daemonset one node behind", "DaemonSet", `{"metadata":{"generation":3},
			"status":{"observedGeneration":3,"desiredNumberScheduled":2,"updatedNumberScheduled":1,"numberAvailable":2}}`, Progressing, "1 of 2 nodes updated"},
		{"daemonset unavailable", "DaemonSet", `{"metadata":{"generation":3},
			"status":{"observedGeneration":3,"desiredNumberScheduled":2,"updatedNumberScheduled":2,"numberAvailable":1}}`, Progressing, "1 of 2 nodes available"},
		{"deployment: a deadline passed before the new template does not count", "Deployment", `{"metadata":{"generation":6},"spec":{"replicas":1},
			"status":{"observedGeneration":5,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]}}`, Progressing, "not observed"},
		{"daemonset on delete: available is enough", "DaemonSet", `{"metadata":{"generation":3},"spec":{"updateStrategy":{"type":"OnDelete"}},
			"status":{"observedGeneration":3,"desiredNumberScheduled":2,"updatedNumberScheduled":0,"numberAvailable":2}}`, Healthy, ""},
		{"rollout: a Healthy phase of the old spec", "Rollout", `{"metadata":{"generation":4},"status":{"observedGeneration":"3","phase":"Healthy"}}`, Progressing, "not observed"},
		{"rollout: a hash for a generation is not compared", "Rollout", `{"metadata":{"generation":4},"status":{"observedGeneration":"7d9f8c","phase":"Healthy"}}`, Healthy, ""},
		{"rollout healthy, its generation a string", "Rollout", `{"metadata":{"generation":3},"status":{"observedGeneration":"3","phase":"Healthy"}}`, Healthy, ""},
		{"rollout progressing", "Rollout", `{"metadata":{"generation":3},"status":{"phase":"Progressing","message":"more replicas need to be updated"}}`, Progressing, "more replicas"},
		{"rollout degraded", "Rollout", `{"metadata":{"generation":3},"status":{"phase":"Degraded","message":"ProgressDeadlineExceeded"}}`, Failed, "Degraded"},
		{"job complete", "Job", `{"status":{"conditions":[{"type":"Complete","status":"True"}]}}`, Healthy, ""},
		{"job running", "Job", `{"status":{"active":1}}`, Progressing, "not completed"},
		{"job failed", "Job", `{"status":{"conditions":[{"type":"Failed","status":"True"}]}}`, Failed, "failed"},
		{"cronjob: not waited for", "CronJob", `{}`, Healthy, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := HealthOf(tc.kind, observed(t, tc.obj))
			assert.Equal(t, tc.want, st.Health, st.Reason)
			assert.Contains(t, st.Reason, tc.says)
		})
	}
}

func TestPodsHealth(t *testing.T) {
	ready, terminating, unready := PodState{Ready: true}, PodState{Terminating: true, Ready: true}, PodState{}
	for _, tc := range []struct {
		name string
		pods []PodState
		want int32
		is   Health
	}{
		{"replacements ready", []PodState{ready, ready}, 2, Healthy},
		{"an old pod still terminating", []PodState{ready, ready, terminating}, 2, Progressing},
		{"a replacement not ready", []PodState{ready, unready}, 2, Progressing},
		{"a replacement missing", []PodState{ready}, 2, Progressing},
		{"no pods wanted", nil, 0, Healthy},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.is, PodsHealth(tc.pods, tc.want).Health) })
	}
}

func TestWant(t *testing.T) {
	assert.Equal(t, int32(3), Want("Deployment", observed(t, `{"spec":{"replicas":3}}`)))
	assert.Equal(t, int32(1), Want("StatefulSet", observed(t, `{}`)))
	assert.Equal(t, int32(4), Want("DaemonSet", observed(t, `{"status":{"desiredNumberScheduled":4}}`)))
}
