// guard_test.go tests what the executor must leave alone: while the guard cannot tell
// cuscon's own workload, nothing is restarted and all is owed; that workload is never
// rolled.

package restart

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// podNamed is a pod of ReplicaSet web-1 in default, uid "uid-" + name, changed by edit.
func podNamed(name string, edit func(*kube.Pod)) *kube.Pod {
	yes := true
	p := &kube.Pod{Metadata: kube.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + name,
		OwnerReferences: []kube.OwnerReference{{Kind: "ReplicaSet", Name: "web-1", Controller: &yes}}}}
	if edit != nil {
		edit(p)
	}
	return p
}

// guarded is testPods whose Guard answers guard, or err.
type guarded struct {
	testPods
	guard Guard
	err   error
}

func (p guarded) Guard(context.Context, string) (Guard, error) { return p.guard, p.err }

// runOne restarts the pods of app=web in default by strategy through pods, and returns
// how the request ended.
func runOne(t *testing.T, f *kubetest.API, pods Pods, strategy string) Result {
	t.Helper()
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	api, err := kube.NewClient(f.URL(), nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	e := NewExecutor(api, pods, Options{Backoff: quick}, func() time.Time { return time.Time{} }, nil, telemetry.NewMetrics("test"), log)
	ctx := context.Background()
	var res Result
	e.RestartBatch(Lifetime{Wait: ctx, Send: ctx}, []Request{{Key: "configmaps/default/web", Selector: "app=web", Strategy: strategy,
		Object: kube.ObjectRef{Kind: "ConfigMap", Namespace: "default", Name: "web"}, Done: func(_ context.Context, r Result) { res = r }}})
	return res
}

func TestWhileTheGuardCannotTellWhatIsCusconsNothingIsRestartedAndAllIsOwed(t *testing.T) {
	f := kubetest.New(t, "default")
	f.AddPods("web", 2, map[string]string{"app": "web"})
	api, err := kube.NewClient(f.URL(), nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	res := runOne(t, f, guarded{testPods: testPods{api}, err: errors.New("cuscon's own pod was not found")}, "delete")
	assert.Equal(t, &Owed{All: true}, res.Owed)
	assert.Empty(t, f.DeletedPods())
	f.Snapshot(func() { assert.Empty(t, f.PodLists, "not even listed") })
}

func TestTheWorkloadThatRunsCusconIsNeverRolled(t *testing.T) {
	f := kubetest.New(t, "default")
	f.AddPods("web", 2, map[string]string{"app": "web"}) // of ReplicaSet rs, of Deployment web
	api, err := kube.NewClient(f.URL(), nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	self := Guard{Skip: func(*kube.Pod) string { return "" }, Self: kube.Workload{Kind: "Deployment", Namespace: "default", Name: "web"}}
	res := runOne(t, f, guarded{testPods: testPods{api}, guard: self}, "rollout")
	assert.Nil(t, res.Owed, "skipped, not owed")
	f.Snapshot(func() { assert.Empty(t, f.Rollouts, "Deployment web runs cuscon: never rolled") })
	assert.Empty(t, f.DeletedPods(), "nor its pods deleted instead")
}
