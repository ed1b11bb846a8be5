// config_test.go tests the configuration as tables: every refusal of a configuration
// that cannot work, every flag's environment twin, and what is watched for each scope.

package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigurationsThatCannotWorkAreRefusedWithTheReason(t *testing.T) {
	for _, row := range []struct {
		name string
		args []string
		env  map[string]string
		why  string
	}{
		{"unknown state", []string{"--state=disk"}, nil, "--state"},
		{"unknown strategy", []string{"--strategy=reboot"}, nil, "--strategy"},
		{"empty annotation", []string{"--annotation="}, nil, "must not be empty"},
		{"empty namespace", []string{"--namespace="}, nil, "must not be empty"},
		{"negative max-unavailable", []string{"--max-unavailable=-1"}, nil, "must not be negative"},
		{"negative rate limit", []string{"--rate-limit=-5"}, nil, "must not be negative"},
		{"election without recorded state", []string{"--leader-elect", "--state=memory"}, nil, "--state=annotation"},
		{"renew deadline not below the lease", []string{"--leader-elect", "--renew-deadline=15s"}, nil, "--renew-deadline < --lease-duration"},
		{"retry period not below the renew deadline", []string{"--leader-elect", "--retry-period=10s"}, nil, "--retry-period < --renew-deadline"},
		{"a lease of fractional seconds", []string{"--leader-elect", "--lease-duration=15500ms"}, nil, "whole seconds"},
		{"a twin bool that is not one", nil, map[string]string{"CUSCON_DRY_RUN": "perhaps"}, "env CUSCON_DRY_RUN"},
		{"a twin int that is not one", nil, map[string]string{"CUSCON_RATE_LIMIT": "many"}, "env CUSCON_RATE_LIMIT"},
		{"a twin duration that is not one", nil, map[string]string{"CUSCON_DEBOUNCE": "2"}, "env CUSCON_DEBOUNCE"},
		{"arguments", []string{"frontend"}, nil, "unexpected arguments"},
		{"an override that is no strategy", []string{"--override-strategies=delete,restart"}, nil, "--override-strategies"},
	} {
		t.Run(row.name, func(t *testing.T) {
			_, err := parseConfig(row.args, env(row.env), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), row.why)
		})
	}
}

func TestEveryFlagHasAnEnvironmentTwinThatSetsItsDefault(t *testing.T) {
	twins := map[string]string{
		"res_namespace": "shop", "CUSCON_NAMESPACES": "a,b", "CUSCON_ALL_NAMESPACES": "true",
		"CUSCON_WATCH_SELECTOR": "cuscon.dev/managed=true", "CUSCON_SECRETS": "true", "CUSCON_ANNOTATION": "x/y",
		"CUSCON_STATE": "memory", "CUSCON_STRATEGY": "evict", "CUSCON_MAX_UNAVAILABLE": "2", "CUSCON_READY_TIMEOUT": "1m",
		"CUSCON_EVICT_TIMEOUT": "2m", "CUSCON_DEBOUNCE": "0s", "CUSCON_RATE_LIMIT": "30", "CUSCON_DRY_RUN": "true",
		"CUSCON_EVENTS": "false", "CUSCON_DELETE_UNOWNED_PODS": "true", "CUSCON_SHUTDOWN_TIMEOUT": "3s",
		"CUSCON_LEASE_NAME": "l", "CUSCON_LEASE_NAMESPACE": "ops", "POD_NAME": "cuscon-0", "POD_NAMESPACE": "ops",
		"CUSCON_OVERRIDE_STRATEGIES": "evict", "CUSCON_DIGEST_KEY_SECRET": "k",
		"CUSCON_API_URL": "http://127.0.0.1:9001", "CUSCON_LISTEN_ADDRESS": ":9090", "CUSCON_LOG_FORMAT": "json", "CUSCON_LOG_LEVEL": "debug",
		"CUSCON_RELOAD_STRATEGY": "annotations", "CUSCON_POD_CACHE": "false",
		"CUSCON_WAVE_TIMEOUT": "3m", "CUSCON_MAINTENANCE_WINDOW": "Sat,Sun 00:00-24:00 Europe/Berlin",
	}
	c, err := parseConfig(nil, env(twins), &bytes.Buffer{})
	require.NoError(t, err)
	rl := mustParse(t, nil).Reloader // Reloader's flags have no twins, but for the strategy
	rl.Strategy = "annotations"
	assert.Equal(t, config{
		Reloader:   rl,
		Connection: kube.Connection{APIURL: "http://127.0.0.1:9001", ServiceAccountDir: "/var/run/secrets/kubernetes.io/serviceaccount"},
		Telemetry:  telemetry.Options{ListenAddress: ":9090", LogFormat: "json", LogLevel: "debug"},
		Namespace:  "shop", Namespaces: "a,b", AllNamespaces: true, WatchSelector: "cuscon.dev/managed=true", Secrets: true,
		Annotation: "x/y", State: "memory", Strategy: "evict", MaxUnavailable: 2, ReadyTimeout: time.Minute,
		EvictTimeout: 2 * time.Minute, RateLimit: 30, DryRun: true, DeleteUnownedPods: true, ShutdownTimeout: 3 * time.Second,
		LeaseName: "l", LeaseNamespace: "ops", Identity: "cuscon-0", PodNamespace: "ops", OverrideStrategies: "evict", DigestKeySecret: "k",
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		WaveTimeout: 3 * time.Minute, MaintenanceWindow: "Sat,Sun 00:00-24:00 Europe/Berlin",
	}, c)
	var help bytes.Buffer
	_, _ = parseConfig([]string{"--help"}, env(nil), &help)
	for twin := range twins {
		assert.Contains(t, help.String(), twin, "help names the twin")
	}
	assert.Equal(t, 2*time.Second, mustParse(t, nil).Debounce, "the default debounce")
}

// mustParse parses args with no environment.
func mustParse(t *testing.T, args []string) config {
	c, err := parseConfig(args, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	return c
}

func TestWhatIsWatchedFollowsTheScopeFlags(t *testing.T) {
	names := func(c config) []string {
		var out []string
		for _, s := range c.scopes() {
			out = append(out, s.String())
		}
		return out
	}
	assert.Equal(t, []string{`configmaps in "default"`}, names(mustParse(t, nil)))
	assert.Equal(t, []string{`configmaps in "a"`, `configmaps in "b"`}, names(mustParse(t, []string{"--namespaces", " a, b ,a,,"})),
		"trimmed, each once, empty ones dropped")
	assert.Equal(t, []string{"configmaps in all namespaces", "secrets in all namespaces"},
		names(mustParse(t, []string{"--all-namespaces", "--secrets", "--namespaces=a"})), "all beats a list")
	assert.Equal(t, "default", mustParse(t, []string{"--leader-elect"}).LeaseNamespace, "the Lease lives in --namespace by default")
}

func TestTheControllerAndPlanRefuseTheSameDecisions(t *testing.T) {
	ok := config{Strategy: "delete", Annotation: "a", Namespace: "n", Reloader: mustParse(t, nil).Reloader, WaveTimeout: time.Minute}
	assert.NoError(t, ok.checkDecisions())
	for name, edit := range map[string]func(*config){
		"unknown strategy":         func(c *config) { c.Strategy = "reboot" },
		"empty annotation":         func(c *config) { c.Annotation = "" },
		"empty namespace":          func(c *config) { c.Namespace = "" },
		"strategy in capitals":     func(c *config) { c.Strategy = "Delete" },
		"unknown reload strategy":  func(c *config) { c.Reloader.Strategy = "restart" },
		"both resources ignored":   func(c *config) { c.Reloader.ResourcesToIgnore = []string{"configmaps", "secrets"} },
		"ConfigMaps ignored alone": func(c *config) { c.Reloader.ResourcesToIgnore = []string{"configmaps"} },
		"no wave timeout":          func(c *config) { c.WaveTimeout = 0 },
		"a window that is none":    func(c *config) { c.MaintenanceWindow = "weekends" },
	} {
		c := ok
		edit(&c)
		assert.Error(t, c.checkDecisions(), name)
		_, err := parsePlanConfig(planArgs(c), env(nil), &bytes.Buffer{})
		assert.Error(t, err, "plan too: %s", name)
	}
}

// planArgs are the plan flags that set c's decisions.
func planArgs(c config) []string {
	args := []string{"--strategy=" + c.Strategy, "--annotation=" + c.Annotation, "-n=" + c.Namespace, "--reload-strategy=" + c.Reloader.Strategy,
		"--wave-timeout=" + c.WaveTimeout.String(), "--maintenance-window=" + c.MaintenanceWindow}
	for _, r := range c.Reloader.ResourcesToIgnore {
		args = append(args, "--resources-to-ignore="+r)
	}
	return args
}

func TestStartedAsReloadersChartStartsItReloadersDefaultsApply(t *testing.T) {
	chart := map[string]string{"RELOADER_NAMESPACE": "reloader", "RELOADER_DEPLOYMENT_NAME": "reloader-reloader"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range chart {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	parse := func(args []string, e map[string]string) config {
		c, err := parseConfig(args, env(e), &bytes.Buffer{})
		require.NoError(t, err)
		return c
	}
	c := parse([]string{"--log-level=info", "--reload-strategy=annotations"}, chart)
	assert.True(t, c.AsReloader && c.ReloaderAnnotations && c.Secrets && c.AllNamespaces)
	assert.Equal(t, ":9090", c.Telemetry.ListenAddress, "Reloader's port, for its chart's probes")
	assert.Equal(t, "stakater-reloader-lock", c.LeaseName)
	assert.False(t, c.PodCache, "Reloader's chart grants nothing on pods")
	assert.Equal(t, "reloader", c.LeaseNamespace)
	assert.False(t, c.LeaderElect)
	assert.Equal(t, "annotations", c.Reloader.Strategy)

	c = parse(nil, with(map[string]string{"KUBERNETES_NAMESPACE": "shop"}))
	assert.False(t, c.AllNamespaces)
	assert.Equal(t, "shop", c.Namespace, "watchGlobally=false: the release's namespace")
	c = parse([]string{"--namespaces=shop,ops"}, with(map[string]string{"KUBERNETES_NAMESPACE": "x"}))
	assert.False(t, c.AllNamespaces)
	assert.Equal(t, "shop,ops", c.Namespaces, "--namespaces wins, as in Reloader")

	c = parse([]string{"--resources-to-ignore=secrets", "--enable-ha=true"}, with(map[string]string{"POD_NAMESPACE": "reloader", "KUBERNETES_SERVICE_HOST": "10.0.0.1",
		"CUSCON_LISTEN_ADDRESS": "127.0.0.1:1"}))
	assert.Equal(t, []string{"configmaps in all namespaces"}, scopeNames(c), "Secrets not watched")
	assert.True(t, c.LeaderElect)
	assert.True(t, c.Connection.InCluster, "no proxy sidecar in Reloader's chart: the API server from the pod's environment")
	assert.Equal(t, "127.0.0.1:1", c.Telemetry.ListenAddress, "what cuscon is told beats Reloader's defaults")

	c = parse(nil, nil)
	assert.False(t, c.AsReloader || c.ReloaderAnnotations || c.AllNamespaces, "without Reloader's chart, nothing changes")
	assert.Equal(t, ":8080", c.Telemetry.ListenAddress)
	assert.Equal(t, []string{`configmaps in "default"`}, scopeNames(c))
}

// scopeNames lists what c watches.
func scopeNames(c config) []string {
	var out []string
	for _, s := range c.scopes() {
		out = append(out, s.String())
	}
	return out
}

// docFlags reads a Markdown table of flags: every `--flag` in the first cell of each row
// between the heading that starts with heading and the next heading, with the `ENV` names
// of the second cell when withEnv.
func docFlags(t *testing.T, file, heading string, withEnv bool) (flags map[string]bool, envs map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	flags, envs = map[string]bool{}, map[string]bool{}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			in = strings.HasPrefix(line, heading)
		case in && strings.HasPrefix(line, "| `--"):
			cells := strings.Split(line, "|")
			for _, m := range regexp.MustCompile("`--([A-Za-z-]+)`").FindAllStringSubmatch(cells[1], -1) {
				flags[m[1]] = true
			}
			if withEnv {
				for _, m := range regexp.MustCompile("`([A-Za-z_]+)`").FindAllStringSubmatch(cells[2], -1) {
					envs[m[1]] = true
				}
			}
		}
	}
	require.NotEmpty(t, flags, "no table under %q in %s", heading, file)
	return flags, envs
}

func TestTheREADMEAndTheHelpListTheSameFlags(t *testing.T) {
	var c config
	var v bool
	s := controllerFlags(&c, &v, env(nil), &bytes.Buffer{})
	readme, readmeEnvs := docFlags(t, "docs/configuration.md", "# Configuration", true)
	reloaderDoc, _ := docFlags(t, "docs/reloader.md", "### Flags", false)
	seen := map[string]bool{}
	for _, f := range s.Flags() {
		seen[f.Name] = true
		if strings.HasPrefix(f.Group, "Reloader's flags") {
			assert.True(t, reloaderDoc[f.Name], "--%s is in --help; docs/reloader.md's flag table should list it", f.Name)
			continue
		}
		assert.True(t, readme[f.Name], "--%s is in --help; docs/configuration.md should list it", f.Name)
		if f.Env != "" {
			assert.True(t, readmeEnvs[f.Env], "--%s's twin %s should be in docs/configuration.md", f.Name, f.Env)
		}
	}
	for name := range readme {
		assert.True(t, seen[name], "docs/configuration.md lists --%s, which --help does not know", name)
	}
	for name := range reloaderDoc {
		if name != "namespaces" && name != "log-format" && name != "log-level" { // cuscon's own, listed for Reloader's users
			assert.True(t, seen[name], "docs/reloader.md lists --%s, which --help does not know", name)
		}
	}
}
