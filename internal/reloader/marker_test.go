// marker_test.go tests, as tables, the markers a restart writes: Reloader's hash of a
// ConfigMap (its own test vectors), the keyed hash of a Secret, the variable names,
// which containers get them, and the JSON patch that writes them.

package reloader

import (
	"encoding/json"
	"testing"
	"time"

	"cuscon/internal/kube"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAConfigMapsHashIsReloaders(t *testing.T) {
	for _, c := range []struct {
		data, binary map[string]string
		want         string
	}{
		{nil, nil, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{map[string]string{"key": "initial"}, nil, "e08040e2ea3a1a0e15556d0ffba40e3d32b5c41f"},
		{map[string]string{"a": "1", "b": "2"}, nil, "f83e99e324ba68ccc373a58ef1eb42f8ab88646a"},
		{map[string]string{"k": "v"}, map[string]string{"bin": "AAE="}, "bf283deb9c93083903f3eb14a70bcaeb55717778"},
	} {
		obj := &kube.Object{Resource: kube.ConfigMaps, Data: c.data, BinaryData: c.binary}
		assert.Equal(t, c.want, hexHash(markHash(obj, nil)), "%v %v", c.data, c.binary)
	}
}

func TestASecretsHashTellsNothingWithoutTheKey(t *testing.T) {
	secret := func(ns, name, password string) *kube.Object {
		return &kube.Object{Resource: kube.Secrets, Metadata: kube.ObjectMeta{Namespace: ns, Name: name},
			Data: map[string]string{"password": password}}
	}
	key := []byte("installation key")
	h := hexHash(markHash(secret("shop", "db", "aHVudGVyMg=="), key)) // hunter2
	assert.Len(t, h, 40, "the shape of Reloader's hash")
	cm := &kube.Object{Resource: kube.ConfigMaps, Data: map[string]string{"password": "hunter2"}}
	assert.NotEqual(t, hexHash(markHash(cm, nil)), h, "not SHA-1 of the value: anyone could test a guess")
	assert.NotEqual(t, h, hexHash(markHash(secret("shop", "db", "aHVudGVyMg=="), []byte("another key"))))
	assert.NotEqual(t, h, hexHash(markHash(secret("other", "db", "aHVudGVyMg=="), key)), "equal Secrets elsewhere do not show equal")
	assert.Equal(t, h, hexHash(markHash(secret("shop", "db", "aHVudGVyMg=="), key)), "stable")
	assert.NotEqual(t, h, hexHash(markHash(secret("shop", "db", "c3Vuc2hpbmUx"), key)), "a change shows")
}

func TestEnvNameIsReloaders(t *testing.T) {
	for name, want := range map[string]string{
		"app-config":       "STAKATER_APP_CONFIG_CONFIGMAP",
		"app-config.v2":    "STAKATER_APP_CONFIG_V2_CONFIGMAP",
		"www.stakater.com": "STAKATER_WWW_STAKATER_COM_CONFIGMAP",
		"-a..b-":           "STAKATER_A_B__CONFIGMAP",
		"x":                "STAKATER_X_CONFIGMAP",
	} {
		assert.Equal(t, want, EnvName(kube.ConfigMaps, name), name)
	}
	assert.Equal(t, "STAKATER_DB_SECRET", EnvName(kube.Secrets, "db"))
}

func TestMarkForWritesEachStrategysMarker(t *testing.T) {
	now := time.Unix(1764640935, 0)
	cm := markSource{res: kube.ConfigMaps, name: "app-config", hash: "e08040e2ea3a1a0e15556d0ffba40e3d32b5c41f", containers: []string{"app"}}
	named := markSource{res: kube.Secrets, name: "db", hash: "0123", containers: nil} // named only: the first container

	e := markFor(StrategyEnvVars, "shop", []markSource{cm, named}, []string{"first", "app"}, []string{"STAKATER_OTHER_CONFIGMAP"}, now)
	assert.Equal(t, map[string]map[string]string{
		"app":   {"STAKATER_APP_CONFIG_CONFIGMAP": cm.hash},
		"first": {"STAKATER_DB_SECRET": "0123"},
	}, e.env)
	assert.Equal(t, map[string]bool{"STAKATER_APP_CONFIG_CONFIGMAP": true, "STAKATER_DB_SECRET": true, "STAKATER_OTHER_CONFIGMAP": true}, e.keepEnv)
	assert.Nil(t, e.annotations)

	e = markFor(StrategyAnnotations, "shop", []markSource{cm, named}, []string{"first", "app"}, nil, now)
	assert.Equal(t, map[string]string{LastReloadedFromAnnotation: `{"type":"CONFIGMAP","name":"app-config","namespace":"shop",` +
		`"hash":"e08040e2ea3a1a0e15556d0ffba40e3d32b5c41f","containerRefs":["app"],"observedAt":1764640935}`}, e.annotations)
	assert.Nil(t, e.env)

	e = markFor(StrategyRollout, "shop", []markSource{cm}, []string{"app"}, nil, now)
	assert.Equal(t, map[string]string{"kubectl.kubernetes.io/restartedAt": now.Format(time.RFC3339Nano)}, e.annotations)
}

// templateOf decodes a pod template written as JSON.
func templateOf(t *testing.T, js string) *template {
	t.Helper()
	var tp template
	require.NoError(t, json.Unmarshal([]byte(js), &tp))
	return &tp
}

func TestPatchForTestsTheVersionAndEditsOnlyWhatChanges(t *testing.T) {
	tp := templateOf(t, `{"metadata":{"annotations":{"keep":"1"}},"spec":{"containers":[
		{"name":"app","env":[{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"STAKATER_GONE_CONFIGMAP","value":"1"},{"name":"STAKATER_APP_CONFIG_CONFIGMAP","value":"old"}]},
		{"name":"side"}]}}`)
	e := markEdit{env: map[string]map[string]string{"app": {"STAKATER_APP_CONFIG_CONFIGMAP": "new"}, "side": {"STAKATER_APP_CONFIG_CONFIGMAP": "new"}},
		keepEnv: map[string]bool{"STAKATER_APP_CONFIG_CONFIGMAP": true}, meta: map[string]string{"cuscon.dev/applied-configs": "{}"}}
	ops := patchFor(e, "42", nil, "/spec/template", tp)
	b, err := json.Marshal(ops)
	require.NoError(t, err)
	assert.JSONEq(t, `[
		{"op":"test","path":"/metadata/resourceVersion","value":"42"},
		{"op":"add","path":"/metadata/annotations","value":{"cuscon.dev/applied-configs":"{}"}},
		{"op":"add","path":"/spec/template/spec/containers/0/env","value":[
			{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
			{"name":"STAKATER_APP_CONFIG_CONFIGMAP","value":"new"}]},
		{"op":"add","path":"/spec/template/spec/containers/1/env","value":[{"name":"STAKATER_APP_CONFIG_CONFIGMAP","value":"new"}]}
	]`, string(b), "a user's variable kept whole, a stale Reloader variable removed, the marker replaced in place and added where missing")

	e = markEdit{annotations: map[string]string{LastReloadedFromAnnotation: "v", "a/b~c": "x"}}
	ops = patchFor(e, "7", map[string]string{"x": "y"}, "/spec/jobTemplate/spec/template", tp)
	b, _ = json.Marshal(ops)
	assert.JSONEq(t, `[
		{"op":"test","path":"/metadata/resourceVersion","value":"7"},
		{"op":"add","path":"/spec/jobTemplate/spec/template/metadata/annotations/a~1b~0c","value":"x"},
		{"op":"add","path":"/spec/jobTemplate/spec/template/metadata/annotations/reloader.stakater.com~1last-reloaded-from","value":"v"}
	]`, string(b), "keys escaped as JSON pointers; the template's other annotations untouched")

	same := templateOf(t, `{"spec":{"containers":[{"name":"app","env":[{"name":"STAKATER_X_CONFIGMAP","value":"h"}]}]}}`)
	ops = patchFor(markEdit{env: map[string]map[string]string{"app": {"STAKATER_X_CONFIGMAP": "h"}}, keepEnv: map[string]bool{"STAKATER_X_CONFIGMAP": true}}, "1", nil, "/spec/template", same)
	assert.Len(t, ops, 1, "nothing but the test when the marker is already there")
}
