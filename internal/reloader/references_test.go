// references_test.go tests reference detection as a table: every way a pod template
// can use a ConfigMap or Secret, in containers, init containers and native sidecars,
// with items, projected sources and optional.

package reloader

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specOf decodes a pod spec written as JSON.
func specOf(t *testing.T, js string) *podSpec {
	t.Helper()
	var s podSpec
	require.NoError(t, json.Unmarshal([]byte(js), &s))
	return &s
}

func TestUsesFindsEverySourceKind(t *testing.T) {
	const app = `"containers":[{"name":"app"`
	app0 := []string{"app"}
	for _, row := range []struct {
		name string
		spec string
		want map[string]use
	}{
		{"configMap volume mounted: all keys",
			`{"volumes":[{"name":"cfg","configMap":{"name":"app-config"}}],` + app + `,"volumeMounts":[{"name":"cfg"}]}]}`,
			map[string]use{"configmap/app-config": {all: true, via: []string{`volume "cfg"`}, containers: app0}}},
		{"volume declared but mounted by no container: not used",
			`{"volumes":[{"name":"cfg","configMap":{"name":"app-config"}}],` + app + `}]}`,
			map[string]use{}},
		{"configMap volume with items: those keys",
			`{"volumes":[{"name":"cfg","configMap":{"name":"app-config","items":[{"key":"b","path":"b"},{"key":"a","path":"a"}]}}],` + app + `,"volumeMounts":[{"name":"cfg"}]}]}`,
			map[string]use{"configmap/app-config": {keys: []string{"a", "b"}, via: []string{`volume "cfg"`}, containers: app0}}},
		{"secret volume, optional",
			`{"volumes":[{"name":"s","secret":{"secretName":"db","optional":true}}],` + app + `,"volumeMounts":[{"name":"s"}]}]}`,
			map[string]use{"secret/db": {all: true, optional: true, via: []string{`volume "s"`}, containers: app0}}},
		{"projected sources, with items",
			`{"volumes":[{"name":"p","projected":{"sources":[{"configMap":{"name":"a","items":[{"key":"k","path":"k"}]}},{"secret":{"name":"b"}}]}}],` + app + `,"volumeMounts":[{"name":"p"}]}]}`,
			map[string]use{"configmap/a": {keys: []string{"k"}, via: []string{`projected volume "p"`}, containers: app0}, "secret/b": {all: true, via: []string{`projected volume "p"`}, containers: app0}}},
		{"env valueFrom key refs: one key each",
			`{` + app + `,"env":[{"name":"LEVEL","valueFrom":{"configMapKeyRef":{"name":"app-config","key":"log.level"}}},{"name":"PW","valueFrom":{"secretKeyRef":{"name":"db","key":"password","optional":true}}},{"name":"PLAIN","value":"x"}]}]}`,
			map[string]use{"configmap/app-config": {keys: []string{"log.level"}, via: []string{`env LEVEL in "app"`}, containers: app0},
				"secret/db": {keys: []string{"password"}, optional: true, via: []string{`env PW in "app"`}, containers: app0}}},
		{"envFrom: all keys",
			`{` + app + `,"envFrom":[{"configMapRef":{"name":"app-config"}},{"secretRef":{"name":"db"}}]}]}`,
			map[string]use{"configmap/app-config": {all: true, via: []string{`envFrom in "app"`}, containers: app0}, "secret/db": {all: true, via: []string{`envFrom in "app"`}, containers: app0}}},
		{"init container and native sidecar (an init container that keeps running)",
			`{"volumes":[{"name":"cfg","configMap":{"name":"side"}}],` + app + `}],"initContainers":[{"name":"migrate","envFrom":[{"configMapRef":{"name":"init"}}]},{"name":"proxy","restartPolicy":"Always","volumeMounts":[{"name":"cfg"}]}]}`,
			map[string]use{"configmap/init": {all: true, via: []string{`envFrom in "migrate"`}}, "configmap/side": {all: true, via: []string{`volume "cfg"`}}}},
		{"a key ref and a whole-object use of one ConfigMap: all keys",
			`{` + app + `,"env":[{"name":"L","valueFrom":{"configMapKeyRef":{"name":"c","key":"k"}}}],"envFrom":[{"configMapRef":{"name":"c"}}]}]}`,
			map[string]use{"configmap/c": {all: true, via: []string{`env L in "app"`, `envFrom in "app"`}, containers: app0}}},
		{"optional only while every reference is",
			`{` + app + `,"env":[{"name":"A","valueFrom":{"configMapKeyRef":{"name":"c","key":"a","optional":true}}},{"name":"B","valueFrom":{"configMapKeyRef":{"name":"c","key":"b"}}}]}]}`,
			map[string]use{"configmap/c": {keys: []string{"a", "b"}, via: []string{`env A in "app"`, `env B in "app"`}, containers: app0}}},
		{"the containers that use it, in the pod spec's order; init containers are not among them",
			`{"volumes":[{"name":"cfg","configMap":{"name":"c"}}],"containers":[{"name":"a"},{"name":"b","envFrom":[{"configMapRef":{"name":"c"}}]},{"name":"c","volumeMounts":[{"name":"cfg"}]}],"initContainers":[{"name":"i","volumeMounts":[{"name":"cfg"}]}]}`,
			map[string]use{"configmap/c": {all: true, via: []string{`volume "cfg"`, `envFrom in "b"`}, containers: []string{"b", "c"}}}},
	} {
		t.Run(row.name, func(t *testing.T) {
			got := map[string]use{}
			for ref, u := range uses(specOf(t, row.spec)) {
				got[ref] = *u
			}
			assert.Equal(t, row.want, got)
		})
	}
}

func TestUseWhySaysHowAndWhichKeys(t *testing.T) {
	u := &use{keys: []string{"a", "b"}, optional: true, via: []string{`volume "cfg"`}}
	assert.Equal(t, `volume "cfg" (keys a, b) (optional)`, u.why())
	assert.Equal(t, `envFrom in "app"`, (&use{all: true, via: []string{`envFrom in "app"`}}).why())
}
