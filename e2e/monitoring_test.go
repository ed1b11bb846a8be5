// monitoring_test.go checks what the chart ships for operators: the alerting rules pass
// promtool's unit tests against recorded series, and the rules and the Grafana
// dashboard name only metric families that a running cuscon really exports, read from
// its /metrics (which declares every family, samples or not).
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlertRulesPassTheirUnitTests(t *testing.T) {
	promtool := os.Getenv("CUSCON_PROMTOOL")
	if promtool == "" {
		if os.Getenv("CUSCON_E2E") == "1" {
			t.Fatal("CUSCON_E2E=1 but CUSCON_PROMTOOL is not set; run hack/test.sh")
		}
		t.Skip("CUSCON_PROMTOOL is not set (hack/test.sh builds promtool and sets it)")
	}
	for _, args := range [][]string{
		{"check", "rules", filepath.Join(chartDir, "files", "alerts.yaml")},
		{"test", "rules", filepath.Join(chartDir, "tests", "alerts_test.yaml")},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, promtool, args...)
		cmd.Dir = suite.root
		out, err := cmd.CombinedOutput()
		cancel()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.Join(strings.Fields(string(out)), " "))
	}
}

func TestDashboardAndAlertsUseOnlyMetricsCusconExports(t *testing.T) {
	c := newCluster(t)
	families := c.exportedFamilies()
	require.Contains(t, families, "cuscon_restarts_total", "sanity: /metrics declares the families")

	alerts, err := os.ReadFile(filepath.Join(suite.root, chartDir, "files", "alerts.yaml"))
	require.NoError(t, err)
	dashboard, err := os.ReadFile(filepath.Join(suite.root, chartDir, "files", "dashboard.json"))
	require.NoError(t, err)
	for name, text := range map[string]string{"alerts.yaml": string(alerts), "dashboard.json": string(dashboard)} {
		used := metricNames(text)
		require.NotEmpty(t, used, name)
		for _, m := range used {
			assert.True(t, exported(families, m), "%s uses %s, which cuscon does not export (it exports %v)",
				name, m, slices.Sorted(maps.Keys(families)))
		}
	}

	// The dashboard is Grafana JSON whose every panel queries something.
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(dashboard, &d))
	require.Equal(t, "cuscon", d.UID)
	ids := map[int]bool{}
	charted := map[string]bool{}
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d is unique", p.ID)
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q has a query", p.Title)
		for _, target := range p.Targets {
			names := metricNames(target.Expr)
			assert.NotEmpty(t, names, "panel %q queries a cuscon metric: %s", p.Title, target.Expr)
			for _, n := range names {
				if f := family(families, n); f != "" {
					charted[f] = true
				}
			}
		}
	}
	var uncharted []string
	for f := range families {
		if !charted[f] {
			uncharted = append(uncharted, f)
		}
	}
	slices.Sort(uncharted)
	t.Logf("%d families exported, %d charted; not charted: %v", len(families), len(charted), uncharted)
}

// exportedFamilies reads the running cuscon's /metrics and returns each declared
// family's type, by name.
func (c *cluster) exportedFamilies() map[string]string {
	c.t.Helper()
	resp, err := http.Get(suite.health + "/metrics")
	require.NoError(c.t, err)
	defer resp.Body.Close()
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	families := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			families[name] = typ
		}
	}
	return families
}

var metricName = regexp.MustCompile(`\bcuscon_[a-zA-Z0-9_:]+`)

// metricNames returns the cuscon metric names text mentions, once each.
func metricNames(text string) []string {
	names := metricName.FindAllString(text, -1)
	slices.Sort(names)
	return slices.Compact(names)
}

// family maps a series name to its family: a histogram's _bucket, _sum and _count
// series belong to the histogram.
func family(families map[string]string, name string) string {
	if _, ok := families[name]; ok {
		return name
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && families[base] == "histogram" {
			return base
		}
	}
	return ""
}

// exported reports whether name is a series of an exported family.
func exported(families map[string]string, name string) bool { return family(families, name) != "" }
