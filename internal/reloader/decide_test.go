// decide_test.go tests the Reloader mode's decisions as tables: which objects a
// workload opted in to (each annotation, on the workload or its pod template, ignore,
// exclude, search and match), and key-level changes against the recorded view.

package reloader

import (
	"encoding/json"
	"testing"

	"cuscon/internal/kube"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reloader's annotations, as the tables write them.
const (
	reloaderAuto   = "reloader.stakater.com/auto"
	reloaderSearch = "reloader.stakater.com/search"
	reloaderMatch  = "reloader.stakater.com/match"
	reloaderIgnore = "reloader.stakater.com/ignore"
)

// lookup is a namespace's objects for the tables: kind/name → info.
type lookup map[string]sourceInfo

func (l lookup) get(res kube.Resource, name string) (sourceInfo, bool) {
	info, ok := l[refKind(res)+"/"+name]
	return info, ok
}

func (l lookup) names(res kube.Resource) []string {
	var out []string
	for ref := range l {
		if kind, name, _ := cutRef(ref); kind == refKind(res) {
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
		res         kube.Resource
		want        []string
	}{
		{"no annotation: nothing", nil, nil, usesAppConfig, kube.ConfigMaps, nil},
		{"auto: the ConfigMaps it uses", map[string]string{reloaderAuto: "true"}, nil, usesAppConfig, kube.ConfigMaps, []string{"configmap/app-config"}},
		{"auto: the Secrets it uses", map[string]string{reloaderAuto: "true"}, nil, usesAppConfig, kube.Secrets, []string{"secret/db"}},
		{"auto false: nothing", map[string]string{reloaderAuto: "false"}, nil, usesAppConfig, kube.ConfigMaps, nil},
		{"configmap auto: ConfigMaps only", map[string]string{"configmap.reloader.stakater.com/auto": "true"}, nil, usesAppConfig, kube.Secrets, nil},
		{"secret auto: Secrets", map[string]string{"secret.reloader.stakater.com/auto": "true"}, nil, usesAppConfig, kube.Secrets, []string{"secret/db"}},
		{"reload list: named objects, used or not", map[string]string{"configmap.reloader.stakater.com/reload": "other, app-config"}, nil, usesAppConfig, kube.ConfigMaps,
			[]string{"configmap/app-config", "configmap/other"}},
		{"reload list: a regular expression matches whole names", map[string]string{"configmap.reloader.stakater.com/reload": "flags-.*"}, nil, `{}`, kube.ConfigMaps,
			[]string{"configmap/flags-a", "configmap/flags-b"}},
		{"secret reload list", map[string]string{"secret.reloader.stakater.com/reload": "db"}, nil, `{}`, kube.Secrets, []string{"secret/db"}},
		{"on the pod template when the workload has none", nil, map[string]string{reloaderAuto: "true"}, usesAppConfig, kube.ConfigMaps, []string{"configmap/app-config"}},
		{"the workload's annotations win over the template's", map[string]string{"configmap.reloader.stakater.com/reload": "other"}, map[string]string{reloaderAuto: "true"},
			usesAppConfig, kube.ConfigMaps, []string{"configmap/other"}},
		{"search: only used objects annotated match", map[string]string{reloaderSearch: "true"}, nil,
			`{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"matched"}},{"configMapRef":{"name":"app-config"}}]}]}`, kube.ConfigMaps, []string{"configmap/matched"}},
		{"ignore on the object wins over auto", map[string]string{reloaderAuto: "true"}, nil,
			`{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"ignored"}}]}]}`, kube.ConfigMaps, nil},
		{"ignore wins over reload", map[string]string{"configmap.reloader.stakater.com/reload": "ignored"}, nil, `{}`, kube.ConfigMaps, nil},
		{"exclude list on the workload", map[string]string{reloaderAuto: "true", "configmaps.exclude.reloader.stakater.com/reload": "app-config"}, nil,
			usesAppConfig, kube.ConfigMaps, nil},
		{"exclude list of Secrets leaves ConfigMaps", map[string]string{reloaderAuto: "true", "secrets.exclude.reloader.stakater.com/reload": "db"}, nil,
			usesAppConfig, kube.ConfigMaps, []string{"configmap/app-config"}},
		{"exclude list on the template", nil, map[string]string{reloaderAuto: "true", "secrets.exclude.reloader.stakater.com/reload": "db"},
			usesAppConfig, kube.Secrets, nil},
	} {
		t.Run(row.name, func(t *testing.T) {
			var got []string
			concerns, err := optedIn(deployment(t, row.annotations, row.template, row.spec), row.res, objs, newListCache(), Options{}.rules(), nil)
			require.NoError(t, err)
			for ref := range concerns {
				got = append(got, ref)
			}
			assert.ElementsMatch(t, row.want, got)
		})
	}
}

func TestOptedInSaysWhy(t *testing.T) {
	w := deployment(t, map[string]string{reloaderAuto: "true"}, nil, usesAppConfig)
	concerns, err := optedIn(w, kube.Secrets, lookup{"secret/db": {}}, nil, Options{}.rules(), nil)
	require.NoError(t, err)
	c := concerns["secret/db"]
	assert.Equal(t, `reloader.stakater.com/auto; env PW in "app" (keys password)`, c.why)
}

func TestReloadersSwitchesDecideWhoOptedIn(t *testing.T) {
	objs := lookup{"configmap/app-config": {d: &digests{}}, "secret/db": {d: &digests{}}}
	job := func(annotations, template map[string]string) *workloadObj {
		w := deployment(t, annotations, template, usesAppConfig)
		w.Kind = "Job"
		return w
	}
	cron := func(annotations map[string]string) *workloadObj {
		w := deployment(t, annotations, nil, usesAppConfig)
		w.Kind = "CronJob"
		return w
	}
	renamed := Options{Keys: DefaultKeys()}
	renamed.Keys.Auto = "my.co/auto"
	for _, row := range []struct {
		name string
		o    Options
		w    *workloadObj
		res  kube.Resource
		want []string
	}{
		{"--auto-reload-all: a workload with no annotation", Options{AutoReloadAll: true}, deployment(t, nil, nil, usesAppConfig), kube.ConfigMaps, []string{"configmap/app-config"}},
		{"--auto-reload-all: auto false opts out of both kinds", Options{AutoReloadAll: true}, deployment(t, map[string]string{reloaderAuto: "false"}, nil, usesAppConfig), kube.Secrets, nil},
		{"--auto-reload-all: a typed auto false opts out of its kind", Options{AutoReloadAll: true},
			deployment(t, map[string]string{"configmap.reloader.stakater.com/auto": "false"}, nil, usesAppConfig), kube.ConfigMaps, nil},
		{"--auto-reload-all: ... and not of the other", Options{AutoReloadAll: true},
			deployment(t, map[string]string{"configmap.reloader.stakater.com/auto": "false"}, nil, usesAppConfig), kube.Secrets, []string{"secret/db"}},
		{"--auto-reload-all: never a Job", Options{AutoReloadAll: true}, job(nil, nil), kube.ConfigMaps, nil},
		{"--auto-reload-all: never a CronJob", Options{AutoReloadAll: true}, cron(nil), kube.ConfigMaps, nil},
		{"a CronJob's own auto", Options{}, cron(map[string]string{reloaderAuto: "true"}), kube.ConfigMaps, []string{"configmap/app-config"}},
		{"a Job opts in on its own metadata", Options{}, job(map[string]string{reloaderAuto: "true"}, nil), kube.ConfigMaps, []string{"configmap/app-config"}},
		{"... not on its pod template", Options{}, job(nil, map[string]string{reloaderAuto: "true"}), kube.ConfigMaps, nil},
		{"a renamed key is read", renamed, deployment(t, map[string]string{"my.co/auto": "true"}, nil, usesAppConfig), kube.ConfigMaps, []string{"configmap/app-config"}},
		{"... and Reloader's own is not", renamed, deployment(t, map[string]string{reloaderAuto: "true"}, nil, usesAppConfig), kube.ConfigMaps, nil},
	} {
		t.Run(row.name, func(t *testing.T) {
			concerns, err := optedIn(row.w, row.res, objs, nil, row.o.rules(), nil)
			require.NoError(t, err)
			var got []string
			for ref := range concerns {
				got = append(got, ref)
			}
			assert.ElementsMatch(t, row.want, got)
		})
	}
}

func TestAnObjectNamedCountsWhileItIsMissing(t *testing.T) {
	w := deployment(t, map[string]string{"configmap.reloader.stakater.com/reload": "app-config,later,pat-.*"}, nil, usesAppConfig)
	concerns, err := optedIn(w, kube.ConfigMaps, lookup{"configmap/app-config": {d: &digests{}}}, nil, Options{}.rules(),
		workloadView{"configmap/pat-1": {"*": "x"}})
	require.NoError(t, err)
	assert.False(t, concerns["configmap/app-config"].use.optional, "named and used (mounted): required, as the pods use it")
	assert.True(t, concerns["configmap/later"].named && concerns["configmap/later"].use.optional, "named, missing: compared as absent")
	assert.NotContains(t, concerns, "configmap/pat-1", "a recorded match counts only with --reload-on-delete")
	concerns, err = optedIn(w, kube.ConfigMaps, lookup{}, nil, Options{ReloadOnDelete: "true"}.rules(), workloadView{"configmap/pat-1": {"*": "x"}})
	require.NoError(t, err)
	assert.True(t, concerns["configmap/pat-1"].named, "the pattern matched it when it was recorded: its deletion is a change")
	assert.Equal(t, []string{"app"}, concerns["configmap/app-config"].use.containers)
}

func TestTheCreationAndDeletionOfAnObjectOnlyNamedRestartAsTheOperatorChose(t *testing.T) {
	here, gone := objectView{"*": "0123"}, objectView{"*": absent}
	named := map[string]bool{"configmap/cm": true}
	rec := func(v objectView) string { return workloadView{"configmap/cm": v}.String() }
	for _, row := range []struct {
		name     string
		recorded string
		now      objectView
		previous workloadView
		named    map[string]bool
		o        Options
		want     workloadVerdictKind
	}{
		{"created, without --reload-on-create: recorded", rec(gone), here, nil, named, Options{}, wRecord},
		{"created, with it: restarted", rec(gone), here, nil, named, Options{ReloadOnCreate: "true"}, wRestart},
		{"deleted, without --reload-on-delete: recorded", rec(here), gone, nil, named, Options{ReloadOnCreate: "true"}, wRecord},
		{"deleted, with it: restarted", rec(here), gone, nil, named, Options{ReloadOnDelete: "true"}, wRestart},
		{"changed: restarted whatever the switches", rec(here), objectView{"*": "4567"}, nil, named, Options{}, wRestart},
		{"an optional reference's creation restarts, as ever", rec(gone), here, nil, nil, Options{}, wRestart},
		{"created live, unknown to the record: compared with what it was before", workloadView{"configmap/other": here}.String(), here,
			workloadView{"configmap/cm": gone}, named, Options{ReloadOnCreate: "true"}, wRestart},
	} {
		t.Run(row.name, func(t *testing.T) {
			v := decideWorkload(row.recorded, workloadView{"configmap/cm": row.now}, nil, nil, row.previous, "", row.named, row.o.rules())
			assert.Equal(t, row.want, v.kind)
			if v.kind == wRestart {
				assert.Equal(t, []string{"configmap/cm"}, v.refs)
			}
		})
	}
}
