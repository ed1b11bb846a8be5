// reloader_forms_test.go: each of Reloader's opt-in forms on each workload kind, and
// what must restart nothing (ignore, exclude, search without match), on the real plane.
package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// formsYAML: a StatefulSet opted in on its pod template (a mounted volume), a DaemonSet
// by search (envFrom of a matched and an unmatched ConfigMap), Deployments with an
// ignored and an excluded ConfigMap, and one restarted by delete (a projected volume).
const formsYAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: vol-config}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: matched, annotations: {reloader.stakater.com/match: "true"}}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unmatched}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored, annotations: {reloader.stakater.com/ignore: "true"}}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: excluded}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: proj-config}
data: {a: "1"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts}
spec:
  replicas: 1
  serviceName: sts
  selector: {matchLabels: {app: sts}}
  template:
    metadata: {labels: {app: sts}, annotations: {configmap.reloader.stakater.com/auto: "true"}}
    spec:
      containers: [{name: app, image: app:1, volumeMounts: [{name: cfg, mountPath: /cfg}]}]
      volumes: [{name: cfg, configMap: {name: vol-config}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, annotations: {reloader.stakater.com/search: "true"}}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: app, image: app:1, envFrom: [{configMapRef: {name: matched}}, {configMapRef: {name: unmatched}}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ign, annotations: {reloader.stakater.com/auto: "true", configmaps.exclude.reloader.stakater.com/reload: "excluded"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ign}}
  template:
    metadata: {labels: {app: ign}}
    spec:
      containers: [{name: app, image: app:1, envFrom: [{configMapRef: {name: ignored}}, {configMapRef: {name: excluded}}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: del, annotations: {reloader.stakater.com/auto: "true", cuscon.dev/strategy: delete}}
spec:
  replicas: 2
  selector: {matchLabels: {app: del}}
  template:
    metadata: {labels: {app: del}}
    spec:
      containers: [{name: app, image: app:1, volumeMounts: [{name: p, mountPath: /p}]}]
      volumes: [{name: p, projected: {sources: [{configMap: {name: proj-config}}]}}]
`

func TestReloaderEachFormAndKindRestartsWhatItShouldAndNothingElse(t *testing.T) {
	c := newReloaderCluster(t, formsYAML)
	c.waitPods("sts", 1)
	c.waitPods("ds", 1)
	c.waitPods("ign", 1)
	c.waitPods("del", 2)
	for _, w := range []string{"statefulset/sts", "daemonset/ds", "deployment/del"} { // ign uses nothing it may be restarted for
		kind, name := splitKind(w)
		c.eventually("a baseline on "+w, func() bool { return c.applied(kind, name) != "" })
	}
	c.rsettle() // the baselines were recorded by a sweep before any change
	ign, del := c.uids("ign"), c.uids("del")
	delApplied := c.applied("deployment", "del")

	for _, cm := range []string{"unmatched", "ignored", "excluded"} {
		c.setData(cm, "a", "2")
	}
	c.rsettle()
	assert.Empty(t, c.restartedAt("daemonset", "ds"), "search without match on the object")
	assert.Equal(t, ign, c.uids("ign"), "ignore and exclude")
	assert.Empty(t, c.restartedAt("deployment", "ign"))

	c.setData("vol-config", "a", "2")
	c.setData("matched", "a", "2")
	c.setData("proj-config", "a", "2")
	c.waitLog("StatefulSet/sts was restarted (rollout)", 1)
	c.waitLog("DaemonSet/ds was restarted (rollout)", 1)
	c.waitReplaced("del", del, 2)
	c.rsettle()
	assert.NotEmpty(t, c.restartedAt("statefulset", "sts"), "template fallback, volume")
	assert.NotEmpty(t, c.restartedAt("daemonset", "ds"), "search + match, envFrom")
	assert.Empty(t, c.restartedAt("deployment", "del"), "delete leaves the spec alone")
	assert.Contains(t, c.log(), "Restarted 2 of 2 pods matching app=del")
	c.eventually("the delete's view recorded", func() bool { return c.applied("deployment", "del") != delApplied })
	assert.Equal(t, 1, c.logCount("StatefulSet/sts was restarted"))
	assert.Equal(t, 1, c.logCount("DaemonSet/ds was restarted"))
}

// splitKind splits "kind/name".
func splitKind(ref string) (string, string) {
	for i := range ref {
		if ref[i] == '/' {
			return ref[:i], ref[i+1:]
		}
	}
	return ref, ""
}
