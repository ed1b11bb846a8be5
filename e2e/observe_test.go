// observe_test.go is what the end-to-end tests read of the plane: pods, their UIDs and
// readiness, waits for replacements, Events, annotations, and cuscon's log.

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stretchr/testify/require"
)

// --- pods ---

// podState is what the tests read of a pod.
type podState struct {
	Name, UID   string
	Ready       bool
	Terminating bool
}

// podJSON is the part of a pod's JSON the tests read.
type podJSON struct {
	Metadata struct {
		Name              string  `json:"name"`
		UID               string  `json:"uid"`
		DeletionTimestamp *string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Status struct {
		Conditions []struct{ Type, Status string } `json:"conditions"`
	} `json:"status"`
}

// state reduces the JSON to what the tests check.
func (p *podJSON) state() podState {
	s := podState{Name: p.Metadata.Name, UID: p.Metadata.UID, Terminating: p.Metadata.DeletionTimestamp != nil}
	for _, cond := range p.Status.Conditions {
		s.Ready = s.Ready || (cond.Type == "Ready" && cond.Status == "True")
	}
	return s
}

// pods lists the pods labelled app=app in the test's namespace.
func (c *cluster) pods(app string) []podState { return c.podsIn(c.ns, app) }

// podsIn lists the pods labelled app=app in ns.
func (c *cluster) podsIn(ns, app string) []podState {
	c.t.Helper()
	var list struct {
		Items []podJSON `json:"items"`
	}
	require.NoError(c.t, json.Unmarshal([]byte(c.kubectl("get", "pods", "-n", ns, "-l", "app="+app, "-o", "json")), &list))
	var out []podState
	for i := range list.Items {
		out = append(out, list.Items[i].state())
	}
	return out
}

// uids returns the sorted UIDs of all pods labelled app=app, terminating ones included.
func (c *cluster) uids(app string) []string { return c.uidsIn(c.ns, app) }

// uidsIn is uids in namespace ns.
func (c *cluster) uidsIn(ns, app string) []string {
	var ids []string
	for _, p := range c.podsIn(ns, app) {
		ids = append(ids, p.UID)
	}
	slices.Sort(ids)
	return ids
}

// waitPods waits until exactly n pods labelled app=app exist, all Ready and none
// terminating.
func (c *cluster) waitPods(app string, n int) { c.waitPodsIn(c.ns, app, n) }

// waitPodsIn is waitPods in namespace ns.
func (c *cluster) waitPodsIn(ns, app string, n int) {
	c.t.Helper()
	c.eventually(fmt.Sprintf("%d ready %s pods in %s", n, app, ns), func() bool {
		ps := c.podsIn(ns, app)
		for _, p := range ps {
			if !p.Ready || p.Terminating {
				return false
			}
		}
		return len(ps) == n
	})
}

// waitReplaced waits until every pod in old is gone and n new pods labelled app=app
// are Ready: the Deployment has replaced what cuscon deleted.
func (c *cluster) waitReplaced(app string, old []string, n int) {
	c.t.Helper()
	c.eventually(fmt.Sprintf("%s pods %v to be replaced", app, old), func() bool {
		ps := c.pods(app)
		for _, p := range ps {
			if slices.Contains(old, p.UID) || !p.Ready || p.Terminating {
				return false
			}
		}
		return len(ps) == n
	})
}

// --- ConfigMaps ---

// setData merge-patches one key of a ConfigMap's data, as an admin editing it would.
func (c *cluster) setData(name, key, value string) {
	c.t.Helper()
	patch, err := json.Marshal(map[string]any{"data": map[string]string{key: value}})
	require.NoError(c.t, err)
	c.kubectl("patch", "configmap", name, "-n", c.ns, "--type", "merge", "-p", string(patch))
}

// changeFrontendConfig gives frontend-config new content.
func (c *cluster) changeFrontendConfig(msg string) {
	c.setData("frontend-config", "config.cfg", fmt.Sprintf("MSG=%q\n", msg))
}

// annotation reads one annotation of a ConfigMap.
func (c *cluster) annotation(name, key string) string {
	var cm struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	require.NoError(c.t, json.Unmarshal([]byte(c.kubectl("get", "configmap", name, "-n", c.ns, "-o", "json")), &cm))
	return cm.Metadata.Annotations[key]
}

// settle proves that cuscon has handled every change made before it: it changes the
// sentinel ConfigMap and waits for the sentinel pod to be replaced, which cuscon, handling
// events in order, does only after everything before.
func (c *cluster) settle() {
	c.t.Helper()
	old := c.uids("sentinel")
	c.sentinel++
	c.setData("sentinel-config", "n", fmt.Sprint(c.sentinel))
	c.waitReplaced("sentinel", old, 1)
}

// waitEvent waits for a Kubernetes Event from cuscon with reason on the object.
func (c *cluster) waitEvent(kind, name, reason string) {
	c.t.Helper()
	selector := "involvedObject.kind=" + kind + ",involvedObject.name=" + name + ",reason=" + reason + ",source=cuscon"
	c.eventually(fmt.Sprintf("a %s event on %s/%s", reason, kind, name), func() bool {
		return strings.TrimSpace(c.kubectl("get", "events", "-n", c.ns, "--field-selector", selector, "-o", "name")) != ""
	})
}

// --- cuscon's log ---

// log returns cuscon's log so far (all its runs in this test).
func (c *cluster) log() string { return c.logOf("cuscon") }

// logOf returns the log of the process called name.
func (c *cluster) logOf(name string) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, name+".log"))
	return string(b)
}

// logCount counts the lines of cuscon's log containing substr.
func (c *cluster) logCount(substr string) int { return c.logCountOf("cuscon", substr) }

// logCountOf counts the lines of name's log containing substr.
func (c *cluster) logCountOf(name, substr string) int {
	n := 0
	for _, line := range strings.Split(c.logOf(name), "\n") {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// waitLog waits until n log lines contain substr.
func (c *cluster) waitLog(substr string, n int) {
	c.t.Helper()
	c.eventually(fmt.Sprintf("%d× %q in cuscon's log", n, substr), func() bool {
		if c.cuscon != nil && c.cuscon.Exited() {
			require.FailNow(c.t, "cuscon exited", "exit code %d", c.cuscon.ExitCode())
		}
		return c.logCount(substr) >= n
	})
}
