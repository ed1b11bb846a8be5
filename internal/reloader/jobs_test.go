// jobs_test.go tests, as tables, what a Job created again is made of, and the JSON
// pointer writes that mark a Job object.

package reloader

import (
	"encoding/json"
	"testing"

	"cuscon/internal/kube"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decoded decodes JSON into a generic object.
func decoded(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(js), &m))
	return m
}

func TestAJobCreatedAgainDropsWhatTheAPIServerDerivedAndCarriesTheMarker(t *testing.T) {
	const job = `{"metadata":{"name":"migrate","namespace":"shop","uid":"u1","resourceVersion":"9","creationTimestamp":"x",
		"labels":{"team":"a","controller-uid":"u1","batch.kubernetes.io/controller-uid":"u1","job-name":"migrate","batch.kubernetes.io/job-name":"migrate"},
		"annotations":{"reloader.stakater.com/auto":"true","kubectl.kubernetes.io/last-applied-configuration":"{}"},
		"managedFields":[{"manager":"kubectl"}]},
		"spec":{"selector":{"matchLabels":{"batch.kubernetes.io/controller-uid":"u1"}},"backoffLimit":2,
		"template":{"metadata":{"labels":{"team":"a","controller-uid":"u1","batch.kubernetes.io/controller-uid":"u1","job-name":"migrate","batch.kubernetes.io/job-name":"migrate"}},
		"spec":{"restartPolicy":"Never","containers":[{"name":"job","image":"j:1","envFrom":[{"configMapRef":{"name":"cfg"}}]}]}}},
		"status":{"succeeded":1}}`
	p := restartPlan{w: kube.Workload{Kind: "Job", Namespace: "shop", Name: "migrate"}, uid: "u1", strategy: StrategyEnvVars, record: `{"configmap/cfg":{"*":"x"}}`,
		sources: []markSource{{res: kube.ConfigMaps, name: "cfg", hash: "h", containers: []string{"job"}}}}
	obj, uid, err := (&Mode{}).jobAnew(decoded(t, job), p)
	require.NoError(t, err)
	assert.Equal(t, "u1", uid)
	b, _ := json.Marshal(obj)
	assert.JSONEq(t, `{"apiVersion":"batch/v1","kind":"Job",
		"metadata":{"name":"migrate","namespace":"shop","labels":{"team":"a"},
			"annotations":{"reloader.stakater.com/auto":"true","cuscon.dev/applied-configs":"{\"configmap/cfg\":{\"*\":\"x\"}}"}},
		"spec":{"backoffLimit":2,"template":{"metadata":{"labels":{"team":"a"}},
			"spec":{"restartPolicy":"Never","containers":[{"name":"job","image":"j:1","envFrom":[{"configMapRef":{"name":"cfg"}}],
				"env":[{"name":"STAKATER_CFG_CONFIGMAP","value":"h"}]}]}}}}`, string(b),
		"no uid, version, status or managed fields; the uid-derived labels and selector dropped; the marker and the record written")

	manual := decoded(t, job)
	manual["spec"].(map[string]any)["manualSelector"] = true
	obj, _, err = (&Mode{}).jobAnew(manual, p)
	require.NoError(t, err)
	spec := obj["spec"].(map[string]any)
	assert.Contains(t, spec, "selector", "a selector the user wrote is kept, with its labels")
	assert.Contains(t, spec["template"].(map[string]any)["metadata"].(map[string]any)["labels"], "controller-uid")
}

func TestAddAtWritesWhereAJSONPatchAddWould(t *testing.T) {
	obj := decoded(t, `{"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"a"}]}}}}`)
	require.NoError(t, addAt(obj, "/spec/template/metadata/annotations", map[string]string{"k": "v"}))
	require.NoError(t, addAt(obj, "/spec/template/spec/containers/0/env", []int{1}))
	require.NoError(t, addAt(obj, "/spec/template/metadata/x~1y~0z", "escaped"))
	b, _ := json.Marshal(obj)
	assert.JSONEq(t, `{"spec":{"template":{"metadata":{"annotations":{"k":"v"},"x/y~z":"escaped"},"spec":{"containers":[{"name":"a","env":[1]}]}}}}`, string(b))
	for _, bad := range []string{"/spec/missing/x", "/spec/template/spec/containers/3/env", "/spec/template/spec/containers/-1/env", "/spec/template/spec/containers/0/name/x"} {
		assert.Error(t, addAt(obj, bad, 1), bad)
	}
}
