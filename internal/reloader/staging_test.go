// staging_test.go tests, as tables, how a workload's restarts are staged: its wave,
// timeout and window from its own annotations, the object's or the flags', and the
// explanation and record a restart carries.

package reloader

import (
	"strings"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/waves"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemberOfReadsWorkloadThenObjectThenFlags(t *testing.T) {
	bundle := func(st *staging) lookup { return lookup{"configmap/app-config": {staging: st}, "secret/db": {}} }
	for _, row := range []struct {
		name        string
		annotations map[string]string
		labels      map[string]string
		objs        lookup
		wave        int // for configmap/app-config
		timeout     time.Duration
		window      string
		err         string
	}{
		{"nothing: the rest, the flags' defaults", nil, nil, bundle(nil), waves.Rest, 10 * time.Minute, "Sat 00:00-24:00", ""},
		{"the object's waves and window", nil, map[string]string{"tier": "web"},
			bundle(&staging{waves: "tier=canary; tier=web", window: "Sun 01:00-02:00", timeout: "3m"}), 2, 3 * time.Minute, "Sun 01:00-02:00", ""},
		{"the workload's own beat the object's",
			map[string]string{waves.WaveAnnotation: "0", waves.TimeoutAnnotation: "1m", waves.WindowAnnotation: "Mon 01:00-02:00"},
			map[string]string{"tier": "web"}, bundle(&staging{waves: "tier=web", window: "Sun 01:00-02:00", timeout: "3m"}), 0, time.Minute, "Mon 01:00-02:00", ""},
		{"a wave that is no number", map[string]string{waves.WaveAnnotation: "soon"}, nil, bundle(nil), 0, 10 * time.Minute, "Sat 00:00-24:00", "want a number"},
		{"the object's waves unreadable", nil, nil, bundle(&staging{waves: "a=b;;"}), 0, 10 * time.Minute, "Sat 00:00-24:00", "configmap/app-config: cuscon.dev/waves"},
		{"a timeout that is none", map[string]string{waves.TimeoutAnnotation: "later"}, nil, bundle(nil), 0, 0, "Sat 00:00-24:00", "wave-timeout"},
		{"a window that is none", map[string]string{waves.WindowAnnotation: "weekends"}, nil, bundle(nil), 0, 10 * time.Minute, "weekends", "maintenance-window"},
	} {
		t.Run(row.name, func(t *testing.T) {
			r := &Mode{cfg: Config{WaveTimeout: 10 * time.Minute, Window: "Sat 00:00-24:00", Options: Options{Strategy: StrategyRollout}}, windows: newWindowCache()}
			w := deployment(t, row.annotations, nil, usesAppConfig)
			w.Metadata.Labels = row.labels
			concerns := map[string]concern{
				"configmap/app-config": {res: kube.ConfigMaps, name: "app-config", use: &use{all: true}},
				"secret/db":            {res: kube.Secrets, name: "db", use: &use{all: true}},
			}
			m := r.memberOf(w, concerns, row.objs)
			assert.Equal(t, "Deployment/web", m.Name)
			if row.err == "" {
				assert.Equal(t, row.wave, m.Waves["configmap/app-config"])
			}
			assert.Equal(t, row.timeout, m.Timeout)
			if row.err == "" {
				assert.Equal(t, row.window, m.win.String())
			}
			if row.err == "" {
				assert.NoError(t, m.err)
				return
			}
			require.Error(t, m.err)
			assert.Contains(t, m.err.Error(), row.err)
			assert.Empty(t, m.Waves, "refused, it stands in no wave")
		})
	}
}

func TestExplainNamesKeysAndReferencesNeverValues(t *testing.T) {
	concerns := map[string]concern{
		"configmap/app-config": {use: &use{via: []string{`volume "cfg"`, `env LEVEL in "app"`}}},
		"secret/db":            {use: &use{via: []string{`env PW in "app"`}}},
		"configmap/flags":      {use: &use{}, why: "configmap.reloader.stakater.com/reload"},
	}
	v := workloadVerdict{changed: []string{"configmap/app-config keys a, b", "configmap/flags", "secret/db key password"}}
	assert.Equal(t, `configmap/app-config keys a, b (volume "cfg", env LEVEL in "app"); configmap/flags (configmap.reloader.stakater.com/reload); secret/db key password (env PW in "app") changed`,
		explain(v, concerns))
}

func TestTheLastRestartRecordReadsBack(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	rec := lastRestart(at, 2, "configmap/bundle key ca (env CA in \"c\") changed")
	assert.Equal(t, `2026-12-02T10:00:00Z wave 2: configmap/bundle key ca (env CA in "c") changed`, rec)
	assert.Equal(t, at, restartedAt(rec))
	assert.False(t, strings.Contains(lastRestart(at, waves.Rest, "x changed"), "wave"), "the rest is in no numbered wave")
	assert.True(t, restartedAt("written by hand").IsZero())
	long := lastRestart(at, 1, strings.Repeat("configmap/x key é ", 200)+"changed")
	assert.LessOrEqual(t, len(long), maxRecord, "bounded, whatever was changed")
	assert.True(t, strings.HasSuffix(long, "…"))
}
