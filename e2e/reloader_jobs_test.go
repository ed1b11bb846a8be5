// reloader_jobs_test.go: the Reloader mode on the real control plane restarts a CronJob
// by running a Job now and a Job by creating it again, as stakater/Reloader does, and
// deletes a Job only once its re-creation passed a dry run.
package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

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
