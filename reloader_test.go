// reloader_test.go tests the Reloader mode's decisions as tables: which objects a
// workload opted in to (each annotation, on the workload or its pod template, ignore,
// exclude, search and match), and key-level changes against the recorded view.

package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookup is a namespace's objects for the tables: kind/name → info.
type lookup map[string]sourceInfo

func (l lookup) get(res resource, name string) (sourceInfo, bool) {
	info, ok := l[keysFor(res).kind+"/"+name]
	return info, ok
}

func (l lookup) names(res resource) []string {
	var out []string
	for ref := range l {
		if kind, name, _ := cutRef(ref); kind == keysFor(res).kind {
			out = append(out, name)
		}
	}
	return out
}

// cutRef splits "configmap/NAME".
func cutRef(ref string) (kind, name string, ok bool) {
	for i := range ref {
		if ref[i] == '/' {
			return ref[:i], ref[i+1:], true
		}
	}
	return "", "", false
}

// deployment decodes a Deployment's annotations, template annotations and pod spec.
func deployment(t *testing.T, annotations, template map[string]string, spec string) *workloadObj {
	t.Helper()
	w := &workloadObj{Kind: "Deployment"}
	w.Metadata.Name, w.Metadata.Namespace, w.Metadata.Annotations = "web", "default", annotations
	w.Spec.Template.Metadata.Annotations = template
	require.NoError(t, json.Unmarshal([]byte(spec), &w.Spec.Template.Spec))
	return w
}

// usesAppConfig mounts ConfigMap app-config and reads key password of Secret db.
const usesAppConfig = `{"volumes":[{"name":"cfg","configMap":{"name":"app-config"}}],"containers":[{"name":"app","volumeMounts":[{"name":"cfg"}],
 "env":[{"name":"PW","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}]}]}`

func TestOptedInFollowsReloaderAnnotations(t *testing.T) {
	objs := lookup{"configmap/app-config": {}, "configmap/other": {}, "configmap/flags-a": {}, "configmap/flags-b": {},
		"configmap/matched": {match: true}, "configmap/ignored": {ignore: true}, "secret/db": {}}
	for _, row := range []struct {
		name        string
		annotations map[string]string
		template    map[string]string
		spec        string
		res         resource
		want        []string
	}{
		{"no annotation: nothing", nil, nil, usesAppConfig, configMaps, nil},
		{"auto: the ConfigMaps it uses", map[string]string{reloaderAuto: "true"}, nil, usesAppConfig, configMaps, []string{"configmap/app-config"}},
		{"auto: the Secrets it uses", map[string]string{reloaderAuto: "true"}, nil, usesAppConfig, secrets, []string{"secret/db"}},
		{"auto false: nothing", map[string]string{reloaderAuto: "false"}, nil, usesAppConfig, configMaps, nil},
		{"configmap auto: ConfigMaps only", map[string]string{"configmap.reloader.stakater.com/auto": "true"}, nil, usesAppConfig, secrets, nil},
		{"secret auto: Secrets", map[string]string{"secret.reloader.stakater.com/auto": "true"}, nil, usesAppConfig, secrets, []string{"secret/db"}},
		{"reload list: named objects, used or not", map[string]string{"configmap.reloader.stakater.com/reload": "other, app-config"}, nil, usesAppConfig, configMaps,
			[]string{"configmap/app-config", "configmap/other"}},
		{"reload list: a regular expression matches whole names", map[string]string{"configmap.reloader.stakater.com/reload": "flags-.*"}, nil, `{}`, configMaps,
			[]string{"configmap/flags-a", "configmap/flags-b"}},
		{"secret reload list", map[string]string{"secret.reloader.stakater.com/reload": "db"}, nil, `{}`, secrets, []string{"secret/db"}},
		{"on the pod template when the workload has none", nil, map[string]string{reloaderAuto: "true"}, usesAppConfig, configMaps, []string{"configmap/app-config"}},
		{"the workload's annotations win over the template's", map[string]string{"configmap.reloader.stakater.com/reload": "other"}, map[string]string{reloaderAuto: "true"},
			usesAppConfig, configMaps, []string{"configmap/other"}},
		{"search: only used objects annotated match", map[string]string{reloaderSearch: "true"}, nil,
			`{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"matched"}},{"configMapRef":{"name":"app-config"}}]}]}`, configMaps, []string{"configmap/matched"}},
		{"ignore on the object wins over auto", map[string]string{reloaderAuto: "true"}, nil,
			`{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"ignored"}}]}]}`, configMaps, nil},
		{"ignore wins over reload", map[string]string{"configmap.reloader.stakater.com/reload": "ignored"}, nil, `{}`, configMaps, nil},
		{"exclude list on the workload", map[string]string{reloaderAuto: "true", "configmaps.exclude.reloader.stakater.com/reload": "app-config"}, nil,
			usesAppConfig, configMaps, nil},
		{"exclude list of Secrets leaves ConfigMaps", map[string]string{reloaderAuto: "true", "secrets.exclude.reloader.stakater.com/reload": "db"}, nil,
			usesAppConfig, configMaps, []string{"configmap/app-config"}},
		{"exclude list on the template", nil, map[string]string{reloaderAuto: "true", "secrets.exclude.reloader.stakater.com/reload": "db"},
			usesAppConfig, secrets, nil},
	} {
		t.Run(row.name, func(t *testing.T) {
			var got []string
			for ref := range optedIn(deployment(t, row.annotations, row.template, row.spec), row.res, objs) {
				got = append(got, ref)
			}
			assert.ElementsMatch(t, row.want, got)
		})
	}
}

func TestOptedInSaysWhy(t *testing.T) {
	w := deployment(t, map[string]string{reloaderAuto: "true"}, nil, usesAppConfig)
	c := optedIn(w, secrets, lookup{"secret/db": {}})["secret/db"]
	assert.Equal(t, `reloader.stakater.com/auto; env PW in "app" (keys password)`, c.why)
}
