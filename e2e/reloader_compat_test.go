// reloader_compat_test.go: the Reloader mode restarts as stakater/Reloader does, on the
// real control plane: its markers (env-vars, annotations) on the pod template, a paused
// Deployment marked and rolled once resumed, CronJobs that run a Job now, Jobs created
// again, and Argo Rollouts.
package e2e

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"cuscon/internal/plane"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newModeCluster is newReloaderCluster with the Roles of rbac granted too, and env.
func newModeCluster(t *testing.T, yaml string, rbac []string, env ...string) *reloaderCluster {
	c := newCluster(t, append([]string{"CUSCON_RELOADER_ANNOTATIONS=true"}, env...)...)
	c.applyManifests(c.ns, append([]string{"manifests/components/reloader/rbac.yaml"}, rbac...)...)
	c.kubectlIn(reloaderYAML+"---\n"+yaml, "apply", "-n", c.ns, "-f", "-")
	c.waitPods("app", 2)
	c.waitPods("rsentinel", 1)
	c.stopCuscon() // start again with the workloads in place and the rights granted
	c.startCuscon()
	c.waitLog("Checked workloads", 1)
	return &reloaderCluster{cluster: c}
}

// reloaderHash is Reloader's hash of content: SHA-1 of the sorted key=value strings,
// joined with ";" (computed here as Reloader's source describes it, not with cuscon's).
func reloaderHash(data map[string]string) string {
	var parts []string
	for k, v := range data {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	h := sha1.Sum([]byte(strings.Join(parts, ";")))
	return hex.EncodeToString(h[:])
}

// envOf is the variables of a container of a workload's pod template, by name.
func (c *reloaderCluster) envOf(kind, name, container string) map[string]string {
	c.t.Helper()
	out := c.kubectl("get", kind, name, "-n", c.ns, "-o", `jsonpath={.spec.template.spec.containers[?(@.name=="`+container+`")].env}`)
	var env []struct{ Name, Value string }
	if out != "" {
		require.NoError(c.t, json.Unmarshal([]byte(out), &env), out)
	}
	m := map[string]string{}
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return m
}

const markersYAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {a: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: side, image: side:1}
        - name: app
          image: web:1
          envFrom: [{configMapRef: {name: web-config}}]
          env:
            - {name: USER_VAR, value: kept}
            - {name: STAKATER_GONE_CONFIGMAP, value: stale}
            - {name: PW, valueFrom: {secretKeyRef: {name: db, key: password}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow, annotations: {reloader.stakater.com/auto: "true", deployment.reloader.stakater.com/pause-period: 5s}}
spec:
  replicas: 1
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec:
      containers: [{name: app, image: slow:1, envFrom: [{configMapRef: {name: web-config}}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: held, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: held}}
  template:
    metadata: {labels: {app: held}}
    spec:
      containers: [{name: app, image: held:1, envFrom: [{configMapRef: {name: web-config}}]}]
`

func TestReloadersMarkersAndAPausedDeployment(t *testing.T) {
	c := newModeCluster(t, markersYAML, []string{"manifests/components/secrets/rbac.yaml"}, "CUSCON_SECRETS=true", "CUSCON_RELOAD_STRATEGY=env-vars")
	c.waitPods("web", 1)
	c.waitPods("held", 1)
	c.waitPods("slow", 1)
	c.kubectl("rollout", "pause", "deployment/held", "-n", c.ns)
	c.rsettle()
	errors := c.logCount("level=ERROR") // before its rights were granted
	web, held, slow := c.uids("web"), c.uids("held"), c.uids("slow")

	// env-vars, Reloader's default: the variable in the container that uses the object.
	c.setData("web-config", "a", "2")
	c.waitReplaced("web", web, 1)
	env := c.envOf("deployment", "web", "app")
	assert.Equal(t, reloaderHash(map[string]string{"a": "2"}), env["STAKATER_WEB_CONFIG_CONFIGMAP"], "Reloader's name and hash")
	assert.Equal(t, "kept", env["USER_VAR"], "the user's variables kept")
	assert.NotContains(t, env, "STAKATER_GONE_CONFIGMAP", "a variable of an object no longer used removed (Reloader's #1123)")
	assert.Empty(t, c.envOf("deployment", "web", "side"), "a container that does not use it untouched")
	assert.Contains(t, c.log(), "Changes detected in 'web-config' of type 'CONFIGMAP' in namespace '"+c.ns+"'; updated 'web' of type 'Deployment'")

	// A pause-period pauses the Deployment as it is marked; cuscon stopped meanwhile, the
	// one that starts resumes it when the period is over (Reloader's timer dies with it).
	c.eventually("slow paused, marked paused-at", func() bool {
		return c.kubectl("get", "deployment", "slow", "-n", c.ns, "-o", `jsonpath={.metadata.annotations.deployment\.reloader\.stakater\.com/paused-at}`) != ""
	})
	assert.Equal(t, slow, c.uids("slow"), "paused: not rolled yet")
	assert.Equal(t, "true", c.kubectl("get", "deployment", "slow", "-n", c.ns, "-o", "jsonpath={.spec.paused}"))
	c.stopCuscon()
	c.startCuscon()
	c.waitReplaced("slow", slow, 1)
	c.waitLog("Deployment/slow resumed: its pause-period is over", 1)
	assert.Empty(t, c.kubectl("get", "deployment", "slow", "-n", c.ns, "-o", `jsonpath={.metadata.annotations.deployment\.reloader\.stakater\.com/paused-at}`))

	// A paused Deployment is marked; its pods are replaced once it is resumed.
	c.eventually("held marked", func() bool { return c.envOf("deployment", "held", "app")["STAKATER_WEB_CONFIG_CONFIGMAP"] != "" })
	c.rsettle()
	assert.Equal(t, held, c.uids("held"), "paused: not rolled yet")
	assert.Contains(t, c.log(), "it is paused: its pods are replaced once it is resumed")
	c.kubectl("rollout", "resume", "deployment/held", "-n", c.ns)
	c.waitReplaced("held", held, 1)

	// A Secret's hash is keyed: not SHA-1 of its content, which a reader of the
	// Deployment could test guesses against.
	web = c.uids("web")
	c.kubectl("patch", "secret", "db", "-n", c.ns, "--type", "merge", "-p", `{"stringData":{"password":"sunshine1"}}`)
	c.waitReplaced("web", web, 1)
	env = c.envOf("deployment", "web", "app")
	assert.Len(t, env["STAKATER_DB_SECRET"], 40)
	assert.NotEqual(t, reloaderHash(map[string]string{"password": "sunshine1"}), env["STAKATER_DB_SECRET"])
	assert.Equal(t, reloaderHash(map[string]string{"a": "2"}), env["STAKATER_WEB_CONFIG_CONFIGMAP"], "the marker of an object still used kept")

	// annotations: last-reloaded-from with Reloader's fields.
	c.stopCuscon()
	c.cusconEnv = append(c.cusconEnv, "CUSCON_RELOAD_STRATEGY=annotations")
	c.startCuscon()
	web = c.uids("web")
	changed := time.Now()
	c.setData("web-config", "a", "3")
	c.waitReplaced("web", web, 1)
	raw := c.kubectl("get", "deployment", "web", "-n", c.ns, "-o", `jsonpath={.spec.template.metadata.annotations.reloader\.stakater\.com/last-reloaded-from}`)
	var from struct {
		Type, Name, Namespace, Hash string
		ContainerRefs               []string
		ObservedAt                  int64
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &from), raw)
	assert.Equal(t, "CONFIGMAP", from.Type)
	assert.Equal(t, "web-config", from.Name)
	assert.Equal(t, c.ns, from.Namespace)
	assert.Equal(t, reloaderHash(map[string]string{"a": "3"}), from.Hash)
	assert.Equal(t, []string{"app"}, from.ContainerRefs)
	assert.InDelta(t, changed.Unix(), from.ObservedAt, 30)
	assert.Equal(t, errors, c.logCount("level=ERROR"))
}

const jobsYAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: batch-config}
data: {a: "1"}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  schedule: "0 0 1 1 *"
  jobTemplate:
    metadata: {labels: {team: batch}}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: job, image: job:1, envFrom: [{configMapRef: {name: batch-config}}]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: held, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  schedule: "0 0 1 1 *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: job, image: job:1, envFrom: [{configMapRef: {name: batch-config}}]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: job, image: job:1, envFrom: [{configMapRef: {name: batch-config}}]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: templated}
spec:
  template:
    metadata: {annotations: {reloader.stakater.com/auto: "true"}}
    spec:
      restartPolicy: Never
      containers: [{name: job, image: job:1, envFrom: [{configMapRef: {name: batch-config}}]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: guarded, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: job, image: job:1, envFrom: [{configMapRef: {name: batch-config}}]}]
`

// noRecreatePolicy refuses to create Job guarded (again): a refusal cuscon's dry run
// meets before it deletes anything.
func noRecreatePolicy(ns string) string {
	return `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ` + ns + `-no-recreate}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [batch], apiVersions: [v1], operations: [CREATE], resources: [jobs]}]
  validations:
    - expression: "object.metadata.name != 'guarded'"
      message: guarded may not be created again
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ` + ns + `-no-recreate}
spec:
  policyName: ` + ns + `-no-recreate
  validationActions: [Deny]
  matchResources: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ` + ns + `}}}
`
}

// jobUID is the uid of a Job ("" if there is none).
func (c *reloaderCluster) jobUID(name string) string {
	out, err := suite.plane.Kubectl(c.ctx, "get", "job", name, "-n", c.ns, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		return ""
	}
	return out
}

// jobsOf lists the Jobs a CronJob owns, by name.
func (c *reloaderCluster) jobsOf(cronJob string) []string {
	out := c.kubectl("get", "jobs", "-n", c.ns, "-o",
		`jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="`+cronJob+`")]}{.metadata.name}{"\n"}{end}`)
	return strings.Fields(out)
}

func TestCronJobsRunAJobNowAndJobsAreCreatedAgain(t *testing.T) {
	c := newModeCluster(t, jobsYAML, nil, "CUSCON_RELOAD_STRATEGY=annotations")
	c.rsettle()
	c.kubectlIn(noRecreatePolicy(c.ns), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _ = suite.plane.Kubectl(c.ctx, "delete", "validatingadmissionpolicy,validatingadmissionpolicybinding", c.ns+"-no-recreate")
	})
	c.eventually("the policy to refuse a dry run", func() bool {
		_, err := suite.plane.KubectlIn(c.ctx, strings.NewReader(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"guarded"},
			"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"j","image":"j"}]}}}}`), "create", "-n", c.ns, "--dry-run=server", "-f", "-")
		return err != nil && strings.Contains(err.Error(), "may not be created again")
	})
	once, templated, guarded := c.jobUID("once"), c.jobUID("templated"), c.jobUID("guarded")

	c.setData("batch-config", "a", "2")
	c.eventually("a Job of nightly run now", func() bool { return len(c.jobsOf("nightly")) == 1 })
	run := c.jobsOf("nightly")[0]
	assert.Equal(t, "manual", c.kubectl("get", "job", run, "-n", c.ns, "-o", `jsonpath={.metadata.annotations.cronjob\.kubernetes\.io/instantiate}`))
	assert.Equal(t, "batch", c.kubectl("get", "job", run, "-n", c.ns, "-o", `jsonpath={.metadata.labels.team}`), "the Job template's labels")
	assert.Contains(t, c.kubectl("get", "job", run, "-n", c.ns, "-o", `jsonpath={.spec.template.metadata.annotations}`), "last-reloaded-from",
		"the run carries the marker")
	assert.Contains(t, c.kubectl("get", "cronjob", "nightly", "-n", c.ns, "-o", `jsonpath={.spec.jobTemplate.spec.template.metadata.annotations}`),
		"last-reloaded-from", "and so do its next Jobs")
	c.eventually("once created again", func() bool { u := c.jobUID("once"); return u != "" && u != once })
	assert.Contains(t, c.kubectl("get", "job", "once", "-n", c.ns, "-o", `jsonpath={.spec.template.metadata.annotations}`), "last-reloaded-from")
	c.waitEvent("ConfigMap", "batch-config", "RestartIncomplete") // guarded: the API would refuse it again
	c.rsettle()
	assert.Empty(t, c.jobsOf("held"), "a suspended CronJob runs nothing")
	assert.Contains(t, c.kubectl("get", "cronjob", "held", "-n", c.ns, "-o", `jsonpath={.spec.jobTemplate.spec.template.metadata.annotations}`),
		"last-reloaded-from", "but its next Jobs are marked")
	assert.Equal(t, templated, c.jobUID("templated"), "a Job's pod template does not opt it in")
	assert.Equal(t, guarded, c.jobUID("guarded"), "refused in the dry run: left as it was, not deleted")
	assert.Contains(t, c.log(), "the API server would not create Job/guarded again, so it is left as it is")

	c.kubectl("delete", "validatingadmissionpolicybinding", c.ns+"-no-recreate")
	c.eventually("guarded created again once the policy is lifted", func() bool { u := c.jobUID("guarded"); return u != "" && u != guarded })
	once = c.jobUID("once")
	c.setData("batch-config", "a", "3")
	c.eventually("nightly run again", func() bool { return len(c.jobsOf("nightly")) == 2 })
	c.eventually("once created again", func() bool { u := c.jobUID("once"); return u != "" && u != once })
	c.rsettle()
	assert.Contains(t, c.jobsOf("nightly"), run, "a CronJob's own Job is never created again by cuscon")
}

// rolloutCRD is enough of Argo Rollouts' CRD for the API server to serve Rollouts (no
// Argo controller runs: the test reads what cuscon writes).
const rolloutCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: rollouts.argoproj.io}
spec:
  group: argoproj.io
  names: {kind: Rollout, listKind: RolloutList, plural: rollouts, singular: rollout}
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
      subresources: {status: {}}
`

const rolloutsYAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: canary-config}
data: {a: "1"}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers: [{name: main, image: main:1, envFrom: [{configMapRef: {name: canary-config}}]}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: restarter, annotations: {reloader.stakater.com/auto: "true", reloader.stakater.com/rollout-strategy: restart}}
spec:
  replicas: 1
  selector: {matchLabels: {app: restarter}}
  template:
    metadata: {labels: {app: restarter}}
    spec:
      containers: [{name: main, image: main:1, envFrom: [{configMapRef: {name: canary-config}}]}]
`

func TestArgoRolloutsAreRestartedAsReloaderDoes(t *testing.T) {
	ctx := context.Background()
	_, err := suite.plane.KubectlIn(ctx, strings.NewReader(rolloutCRD), "apply", "-f", "-")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = suite.plane.Kubectl(ctx, "delete", "crd", "rollouts.argoproj.io", "--wait=false") })
	require.NoError(t, plane.Eventually(ctx, waitTimeout, "the Rollout CRD established", func() (bool, error) {
		out, err := suite.plane.Kubectl(ctx, "get", "crd", "rollouts.argoproj.io", "-o", `jsonpath={.status.conditions[?(@.type=="Established")].status}`)
		return err == nil && out == "True", nil
	}))
	c := newModeCluster(t, "", nil, "CUSCON_IS_ARGO_ROLLOUTS=true")
	c.kubectl("create", "role", "cuscon-rollouts", "-n", c.ns, "--verb=get,list,patch", "--resource=rollouts.argoproj.io")
	c.kubectl("create", "rolebinding", "cuscon-rollouts", "-n", c.ns, "--role=cuscon-rollouts", "--serviceaccount="+c.ns+":cuscon")
	c.kubectlIn(rolloutsYAML, "apply", "-n", c.ns, "-f", "-")
	c.stopCuscon() // swept again with the Rollouts there and the right to list them
	c.startCuscon()
	c.eventually("the Rollouts' baselines", func() bool { return c.applied("rollout", "canary") != "" && c.applied("rollout", "restarter") != "" })

	c.setData("canary-config", "a", "2")
	c.eventually("canary marked", func() bool {
		return c.envOf("rollout", "canary", "main")["STAKATER_CANARY_CONFIG_CONFIGMAP"] == reloaderHash(map[string]string{"a": "2"})
	})
	c.eventually("restarter's restartAt set", func() bool {
		return c.kubectl("get", "rollout", "restarter", "-n", c.ns, "-o", "jsonpath={.spec.restartAt}") != ""
	})
	assert.Empty(t, c.envOf("rollout", "restarter", "main"), "rollout-strategy restart writes restartAt, no marker")
	assert.NotContains(t, c.log(), "level=ERROR")
}
