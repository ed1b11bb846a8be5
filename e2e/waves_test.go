// waves_test.go: the Reloader mode's waves and maintenance windows on the real plane: a
// shared bundle's consumers restarted wave after wave, a wave that does not get healthy
// holding the later ones (across a restart of cuscon) until a resume, and a change held
// outside a window applied once when it opens.
package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"cuscon/internal/plane"
)

// wavesYAML is a bundle ordered canary first, then web, then the rest; each Deployment
// reads its key ca through an env var, and rolls one surge pod at a time.
var wavesYAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: bundle, annotations: {cuscon.dev/waves: "tier=canary; tier=web"}}
data: {ca: v1}
` + bundleConsumer("canary", "canary", "") + bundleConsumer("web", "web", "") + bundleConsumer("rest", "", "")

func (c *reloaderCluster) lastRestart(name string) string {
	return c.kubectl("get", "deployment", name, "-n", c.ns, "-o", `jsonpath={.metadata.annotations.cuscon\.dev/last-restart}`)
}

// restartOrder is the order in which cuscon's log says the Deployments were restarted.
func (c *reloaderCluster) restartOrder() []string {
	var out []string
	for _, m := range regexp.MustCompile(`Deployment/(canary|web|rest) was restarted`).FindAllStringSubmatch(c.log(), -1) {
		out = append(out, m[1])
	}
	return out
}

// deferred is cuscon_restarts_deferred{reason} as cuscon exports it.
func (c *reloaderCluster) deferred(reason string) string {
	for _, s := range c.scrape(suite.health) {
		if s.Name == "cuscon_restarts_deferred" && s.Labels["reason"] == reason {
			return fmt.Sprint(s.Value)
		}
	}
	return ""
}

func TestWavesRestartInOrderAndAFailedWaveHoldsTheRestUntilResumed(t *testing.T) {
	c := newReloaderCluster(t, wavesYAML, "CUSCON_WAVE_TIMEOUT=8s")
	for _, d := range []string{"canary", "web", "rest"} {
		c.waitPods(d, 1)
	}
	c.eventually("the baselines recorded", func() bool {
		return c.applied("deployment", "canary") != "" && c.applied("deployment", "web") != "" && c.applied("deployment", "rest") != ""
	})

	// A healthy change: wave 1, then 2, then the rest, each after the one before it
	// rolled out.
	c.setData("bundle", "ca", "v2")
	c.waitLog("Deployment/rest was restarted", 1)
	assert.Equal(t, []string{"canary", "web", "rest"}, c.restartOrder())
	assert.Regexp(t, `^\S+ wave 1: configmap/bundle key ca \(env CA in "c"\) changed$`, c.lastRestart("canary"))
	assert.Contains(t, c.lastRestart("web"), " wave 2: configmap/bundle key ca")
	assert.NotContains(t, c.lastRestart("rest"), "wave", "the rest is in no numbered wave")
	canaryAt, webAt := restartTime(t, c.lastRestart("canary")), restartTime(t, c.lastRestart("web"))
	assert.True(t, webAt.After(canaryAt), "wave 2 (%s) after wave 1 (%s)", webAt, canaryAt)
	for _, d := range []string{"canary", "web", "rest"} {
		c.kubectl("rollout", "status", "deployment/"+d, "-n", c.ns, "--timeout=60s")
	}

	// The canary's new pod is refused by a quota: wave 1 never gets healthy.
	pods := len(strings.Fields(c.kubectl("get", "pods", "-n", c.ns, "-o", "name")))
	c.kubectlIn(fmt.Sprintf("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: pods}\nspec: {hard: {pods: %q}}\n", fmt.Sprint(pods)),
		"apply", "-n", c.ns, "-f", "-")
	c.eventually("the quota counted", func() bool {
		return c.kubectl("get", "resourcequota", "pods", "-n", c.ns, "-o", "jsonpath={.status.used.pods}") == fmt.Sprint(pods)
	})
	webPods, restPods := c.uids("web"), c.uids("rest")
	c.setData("bundle", "ca", "v3")
	c.waitLog("Deployment/canary was restarted", 2)
	c.waitEvent("Deployment", "web", "RestartHeld")
	c.waitEvent("Deployment", "rest", "RestartHeld")
	c.waitEvent("ConfigMap", "bundle", "RestartHeld")
	held := c.logCount("Restart of Deployment/web held")
	assert.Contains(t, c.log(), "wave 1: Deployment/canary not healthy within 8s")
	c.eventually("two restarts held", func() bool { return c.deferred("held") == "2" })
	assert.Equal(t, webPods, c.uids("web"), "wave 2 not restarted")
	assert.Equal(t, restPods, c.uids("rest"), "the rest not restarted")

	// plan shows the waves and the hold, with the resume to type.
	var resume string
	for _, r := range c.plan() {
		if strings.HasPrefix(r.Why, "Deployment/web:") {
			assert.Equal(t, "2", r.Wave)
			m := regexp.MustCompile(`^held: wave 1: Deployment/canary .*cuscon\.dev/resume=([0-9a-f]+)$`).FindStringSubmatch(r.Owed)
			require.NotNil(t, m, "plan's owed: %q", r.Owed)
			resume = m[1]
		}
	}

	// A restart of cuscon mid-wave: the finished wave is not restarted again, the hold stands.
	canaryRecord := c.lastRestart("canary")
	c.stopCuscon()
	c.startCuscon()
	c.waitLog("Restart of Deployment/web held", held+1)
	assert.Equal(t, canaryRecord, c.lastRestart("canary"), "wave 1 not restarted again")
	assert.Equal(t, 2, c.logCount("Deployment/canary was restarted"))
	assert.Contains(t, c.log(), "cuscon.dev/resume="+resume, "the same hold after the restart")

	// The quota lifted and the canary mended (rolled anew, as an operator would), it is
	// healthy; the hold stays until resumed, and then the rest follows web as a wave does.
	c.kubectl("delete", "resourcequota", "pods", "-n", c.ns)
	c.kubectl("rollout", "restart", "deployment/canary", "-n", c.ns)
	c.kubectl("rollout", "status", "deployment/canary", "-n", c.ns, "--timeout=60s")
	assert.Equal(t, webPods, c.uids("web"), "a hold past its timeout is not lifted by the wave getting healthy")
	c.kubectl("annotate", "deployment", "web", "-n", c.ns, "cuscon.dev/resume="+resume)
	c.waitLog("Deployment/web was restarted", 2)
	c.waitLog("Deployment/rest was restarted", 2)
	assert.Equal(t, []string{"canary", "web", "rest", "canary", "web", "rest"}, c.restartOrder())
	c.eventually("nothing deferred", func() bool { return c.deferred("held") == "0" && c.deferred("wave") == "0" })
}

// restartTime reads the time a last-restart record begins with.
func restartTime(t *testing.T, record string) time.Time {
	at, _, _ := strings.Cut(record, " ")
	v, err := time.Parse(time.RFC3339, at)
	require.NoError(t, err, record)
	return v
}

func TestAChangeOutsideTheWindowIsAppliedOnceWhenItOpens(t *testing.T) {
	c := newReloaderCluster(t, wavesYAML)
	c.waitPods("rest", 1)
	c.eventually("the baseline recorded", func() bool { return c.applied("deployment", "rest") != "" })
	before := c.applied("deployment", "rest")
	opens := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	if time.Until(opens) < 15*time.Second {
		opens = opens.Add(time.Minute) // time to make the changes before it opens
	}
	win := fmt.Sprintf("%s-%s UTC", opens.Format("15:04"), opens.Add(30*time.Minute).Format("15:04"))
	c.kubectl("annotate", "deployment", "rest", "-n", c.ns, "cuscon.dev/maintenance-window="+win)

	c.setData("bundle", "ca", "v2")
	c.waitEvent("Deployment", "rest", "RestartDeferred")
	c.setData("bundle", "ca", "v3") // the latest content is what is applied
	c.waitLog("Deployment/web was restarted", 1)
	require.True(t, time.Now().Before(opens), "the test took too long to make its changes before the window opened")
	assert.Equal(t, before, c.applied("deployment", "rest"), "not restarted outside its window")
	assert.Equal(t, "1", c.deferred("window"))
	for _, r := range c.plan() {
		if strings.HasPrefix(r.Why, "Deployment/rest:") {
			assert.Contains(t, r.Window, win+" (closed until "+opens.Format(time.RFC3339)+")")
			assert.Equal(t, "deferred to its maintenance window", r.Owed)
		}
	}

	require.NoError(t, plane.Eventually(c.ctx, time.Until(opens)+waitTimeout, "the restart when the window opens", func() (bool, error) {
		return c.logCount("Deployment/rest was restarted") > 0, nil
	}))
	assert.False(t, time.Now().Before(opens), "restarted before its window opened")
	c.kubectl("rollout", "status", "deployment/rest", "-n", c.ns, "--timeout=60s")
	c.rsettle()
	assert.Equal(t, 1, c.logCount("Deployment/rest was restarted"), "once, with the latest content")
	assert.Equal(t, c.applied("deployment", "web"), c.applied("deployment", "rest"), "rest took v3, as web did")
	assert.Equal(t, "0", c.deferred("window"))
}

// bundleConsumer is a Deployment of one replica reading the bundle's key ca, in tier
// (none: the rest); extra goes into its spec.
func bundleConsumer(name, tier, extra string) string {
	labels := "{}"
	if tier != "" {
		labels = "{tier: " + tier + "}"
	}
	return fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, labels: %[2]s, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: c, image: c:1, env: [{name: CA, valueFrom: {configMapKeyRef: {name: bundle, key: ca}}}]}]
%[3]s
`, name, labels, extra)
}

// A trust bundle shared by 24 workloads in three waves (2 canaries, 10 web, 12 others);
// one web Deployment's new pods cannot be scheduled and pass its progress deadline: the
// canaries and the web wave are restarted, the 12 others are held and reported.
func TestASharedBundleAcrossTwentyFourWorkloadsStopsAtTheFailingWave(t *testing.T) {
	yaml := strings.SplitN(wavesYAML, "---", 2)[0] // the bundle alone
	var names []string
	label := "cuscon-e2e-schedulable-" + namespaceFor(t)
	label = label[:min(len(label), 63)]
	for i := range 24 {
		name, tier, extra := fmt.Sprintf("svc-%02d", i), "", ""
		switch {
		case i < 2:
			tier = "canary"
		case i < 12:
			tier = "web"
		}
		if i == 7 { // the one that fails: its pods run only where the node carries the label
			extra = "      nodeSelector: {" + label + ": \"yes\"}\n  progressDeadlineSeconds: 10"
		}
		names = append(names, name)
		yaml += bundleConsumer(name, tier, extra)
	}
	_, err := suite.plane.Kubectl(context.Background(), "label", "node", plane.NodeName, label+"=yes")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = suite.plane.Kubectl(context.Background(), "label", "node", plane.NodeName, label+"-") })
	c := newReloaderCluster(t, yaml)
	for _, n := range names {
		c.waitPods(n, 1)
	}
	c.eventually("24 baselines recorded", func() bool {
		for _, n := range names {
			if c.applied("deployment", n) == "" {
				return false
			}
		}
		return true
	})
	before := map[string][]string{}
	for _, n := range names {
		before[n] = c.uids(n)
	}

	c.kubectl("label", "node", plane.NodeName, label+"-") // svc-07's next pod cannot be scheduled
	changed := time.Now()
	c.setData("bundle", "ca", "v2")
	c.waitEvent("Deployment", "svc-23", "RestartHeld")
	c.eventually("12 restarts held", func() bool { return c.deferred("held") == "12" })

	restarted, held := map[string]string{}, 0
	for _, n := range names {
		if rec := c.lastRestart(n); rec != "" {
			restarted[n] = rec
		}
	}
	for i, n := range names {
		switch {
		case i < 12:
			assert.Contains(t, restarted, n, "waves 1 and 2 restarted")
		default:
			assert.NotContains(t, restarted, n, "the rest held")
			assert.Equal(t, before[n], c.uids(n), "%s's pod untouched", n)
			held++
		}
	}
	assert.Contains(t, c.log(), "wave 2: Deployment/svc-07 failed: its rollout exceeded its progress deadline")
	events := strings.Count(c.kubectl("get", "events", "-n", c.ns, "--field-selector", "reason=RestartHeld,source=cuscon", "-o", "name"), "\n")
	at := func(pattern string) []float64 { // seconds after the change of each log line matching pattern
		var out []float64
		for _, m := range regexp.MustCompile(`(?m)^(\S+ \S+) `+pattern).FindAllStringSubmatch(c.log(), -1) {
			when, err := time.ParseInLocation("2006-01-02 15:04:05,000", m[1], time.Local)
			require.NoError(t, err)
			out = append(out, when.Sub(changed).Seconds())
		}
		return out
	}
	w1, w2, hold := at(`Deployment/svc-0[01] was restarted`), at(`Deployment/svc-(0[2-9]|1[01]) was restarted`), at(`Restart of Deployment/svc-23 held`)
	require.Len(t, w1, 2)
	require.Len(t, w2, 10)
	require.NotEmpty(t, hold)
	assert.Less(t, slices.Max(w1), slices.Min(w2), "wave 2 after wave 1")
	t.Logf("shared bundle, 24 workloads in three waves: wave 1 restarted 2 at +%.2f…%.2fs; wave 2 restarted 10 at +%.2f…%.2fs; "+
		"svc-07 failed its progress deadline; the rest held %d at +%.1fs, with %d RestartHeld Events (one on each held workload, one on the ConfigMap for each); %s",
		slices.Min(w1), slices.Max(w1), slices.Min(w2), slices.Max(w2), held, hold[0], events,
		regexp.MustCompile(`Restart of Deployment/svc-23 held: [^\n]*`).FindString(c.log()))
}
