// reloader_memory_test.go measures the Reloader mode's peak RSS with 1,000 opted-in
// Deployments and 10,000 ConfigMaps of 10 KiB, when CUSCON_MEASURE=1 asks for it (it
// takes minutes: the objects are created through the API first).
package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReloaderMemoryWithThousandWorkloadsAndTenThousandConfigMaps(t *testing.T) {
	if os.Getenv("CUSCON_MEASURE") != "1" {
		t.Skip("set CUSCON_MEASURE=1 to measure")
	}
	c := newReloaderCluster(t, "")
	value := strings.Repeat("x", 10<<10)
	for start := 0; start < 10000; start += 500 {
		var b strings.Builder
		b.WriteString(`{"apiVersion":"v1","kind":"List","items":[`)
		for i := start; i < start+500; i++ {
			if i > start {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-%d"},"data":{"k":"%s","small":"%d"}}`, i, value, i)
			if i < 1000 {
				fmt.Fprintf(&b, `,{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w-%d","annotations":{"reloader.stakater.com/auto":"true"}},
"spec":{"replicas":0,"selector":{"matchLabels":{"app":"w-%d"}},"template":{"metadata":{"labels":{"app":"w-%d"}},
"spec":{"containers":[{"name":"a","image":"a:1","env":[{"name":"S","valueFrom":{"configMapKeyRef":{"name":"cm-%d","key":"small"}}}]}]}}}}`, i, i, i, i)
			}
		}
		b.WriteString("]}")
		c.kubectlIn(b.String(), "create", "-n", c.ns, "-f", "-")
	}
	c.stopCuscon()
	c.startCuscon()
	c.waitLog("Checked workloads", c.logCount("Checked workloads")+1)
	c.eventually("1,000 baselines", func() bool {
		out := c.kubectl("get", "deployments", "-n", c.ns, "-o", `jsonpath={range .items[*]}{.metadata.annotations.cuscon\.dev/applied-configs}{"\n"}{end}`)
		return strings.Count(out, "configmap/cm-") == 1000
	})
	for i := range 20 { // changes each list the 1,000 workloads again
		c.setData(fmt.Sprint("cm-", i), "small", "changed")
	}
	c.rsettle()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cuscon.Pid()))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM") || strings.HasPrefix(line, "VmRSS") {
			t.Log(line)
		}
	}
	require.Equal(t, 20, c.logCount("was restarted (rollout)")-c.logCount("Deployment/rsentinel was restarted"))
}
