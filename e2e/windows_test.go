// windows_test.go: a maintenance window on the article's ConfigMap, on the real control
// plane: a change outside it restarts nothing and stays owed (across a restart of
// cuscon), and is applied once when the window opens.
package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTheArticlesRestartWaitsForTheConfigMapsWindow(t *testing.T) {
	c := newCluster(t)
	pods := c.uids("frontend")
	later := time.Now().UTC().Add(2 * time.Hour)
	closed := fmt.Sprintf("%s-%s UTC", later.Format("15:04"), later.Add(time.Hour).Format("15:04"))
	c.kubectl("annotate", "configmap", "frontend-config", "-n", c.ns, "cuscon.dev/maintenance-window="+closed)

	c.changeFrontendConfig("outside the window")
	c.waitEvent("ConfigMap", "frontend-config", "RestartDeferred")
	c.waitLog("deferred to the maintenance window", 1)
	c.settle()
	assert.Equal(t, pods, c.uids("frontend"), "nothing restarted outside the window")
	owed := func() float64 {
		for _, s := range c.scrape(suite.health) {
			if s.Name == "cuscon_restarts_owed" {
				return s.Value
			}
		}
		return -1
	}
	assert.Equal(t, 1.0, owed(), "the change is owed")
	for _, r := range (&reloaderCluster{cluster: c}).plan() {
		if r.Object == "configmap/frontend-config" {
			assert.Contains(t, r.Window, closed+" (closed until ")
			assert.Equal(t, "deferred to its maintenance window", r.Owed)
		}
	}

	c.stopCuscon() // still owed after a restart: the recorded hash is the old one
	c.changeFrontendConfig("the latest")
	c.startCuscon()
	c.waitLog("deferred to the maintenance window", 2)
	assert.Equal(t, pods, c.uids("frontend"))

	// The window opens (here, it is widened to every hour of every day).
	c.kubectl("annotate", "--overwrite", "configmap", "frontend-config", "-n", c.ns, "cuscon.dev/maintenance-window=00:00-24:00")
	c.waitReplaced("frontend", pods, 3)
	c.settle()
	assert.Equal(t, 1, c.logCount("Modification detected namespace="+c.ns+" configmap=frontend-config"), "once, with the latest content")
	c.eventually("nothing owed", func() bool { return owed() == 0 })
}
