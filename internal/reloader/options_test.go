// options_test.go tests Reloader's flags as tables: what is refused, and how its
// selectors are read.

package reloader

import (
	"bytes"
	"testing"

	"cuscon/internal/envflag"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseOptions reads args as the controller's flag set would.
func parseOptions(t *testing.T, args ...string) Options {
	t.Helper()
	var o Options
	s := envflag.New("cuscon", "", &bytes.Buffer{}, func(string) string { return "" })
	o.DefineFlags(s)
	require.NoError(t, s.Parse(args))
	return o
}

func TestReloadersFlagsAreReadAsItsChartRendersThem(t *testing.T) {
	o := parseOptions(t, "--reload-strategy=annotations", "--is-Argo-Rollouts=true", "--namespace-selector=\"env=test\"",
		"--resources-to-ignore=secrets", "--ignored-workload-types=jobs,cronjobs", "--reload-on-create=true",
		"--configmap-annotation", "my.co/cm", "--auto-reload-all=true", "--namespaces-to-ignore=a,b")
	assert.Equal(t, StrategyAnnotations, o.Strategy)
	assert.Equal(t, "true", o.ArgoRollouts)
	assert.Equal(t, []string{"env=test"}, o.NamespaceSelector, "the chart's quotes dropped")
	assert.True(t, o.Ignores("secrets"))
	assert.False(t, o.Ignores("configmaps"))
	assert.True(t, o.IgnoresKind("Job") && o.IgnoresKind("CronJob"))
	assert.Equal(t, []string{"Deployment", "StatefulSet", "DaemonSet", "Rollout"}, o.kinds())
	assert.Equal(t, "my.co/cm", o.Keys.Reload[0])
	assert.Equal(t, "secret.reloader.stakater.com/reload", o.Keys.Reload[1], "the others stay Reloader's")
	assert.True(t, o.AutoReloadAll)
	assert.Equal(t, []string{"a", "b"}, o.NamespacesToIgnore)
	require.NoError(t, o.Validate())
	rl := o.rules()
	assert.True(t, rl.onCreate)
	assert.False(t, rl.onDelete)

	d := parseOptions(t)
	assert.Equal(t, StrategyEnvVars, d.Strategy, "Reloader's default")
	assert.Equal(t, []string{"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"}, d.kinds(), "Rollouts only with --is-Argo-Rollouts=true")
	assert.Equal(t, DefaultKeys(), d.Keys)
	assert.False(t, parseOptions(t, "--reload-on-delete=True").rules().onDelete, `only "true", as Reloader`)
}

func TestWhatReloaderRefusesIsRefusedNamingTheFlag(t *testing.T) {
	for args, want := range map[string]string{
		"--reload-strategy=restart":                `--reload-strategy "restart"`,
		"--resources-to-ignore=configmaps,secrets": "not both",
		"--resources-to-ignore=pods":               `--resources-to-ignore "pods"`,
		"--ignored-workload-types=deployments":     `--ignored-workload-types "deployments"`,
		"--namespace-selector=env=(x":              "--namespace-selector",
		"--resource-label-selector=a b":            "--resource-label-selector",
		"--auto-annotation=":                       "must not be empty",
	} {
		o := parseOptions(t, args)
		assert.ErrorContains(t, o.Validate(), want, args)
	}
}

func TestSelectorReadsReloadersOlderForms(t *testing.T) {
	for in, want := range map[string]string{
		"env=test":      "env=test",
		"env:test":      "env=test",
		"env:*":         "env",
		"env=*":         "env",
		"a=b,c!=d":      "a=b,c!=d",
		"tier in (web)": "tier in (web)",
		" ":             "",
	} {
		assert.Equal(t, want, Selector([]string{in}), in)
	}
	assert.Equal(t, "a=b,c", Selector([]string{"a:b", "c:*"}))
}
