// podcache_test.go tests the cache as tables: what it answers for a namespace and a
// selector after lists and events, and when it must say it cannot answer.

package podcache

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"cuscon/internal/kube"
	"cuscon/internal/telemetry"
)

func pod(ns, name string, lbl map[string]string, terminating bool) Pod {
	obj := &kube.Object{Metadata: kube.ObjectMeta{Namespace: ns, Name: name, UID: ns + "/" + name + "-uid", Labels: lbl,
		OwnerReferences: []kube.OwnerReference{{Kind: "ReplicaSet", Name: "rs"}}}}
	if terminating {
		obj.Metadata.DeletionTimestamp = new(string)
	}
	p, ok := Summarize(obj)
	if !ok {
		panic("Summarize refused a pod")
	}
	return p
}

// listed is what a watcher does after each list: Synced, then the stream opens.
func listed(c *Cache, scope kube.Scope, items ...Pod) {
	c.Synced(context.Background(), scope, items)
	c.Connected(scope, true)
}

func names(pods []kube.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Metadata.Name)
	}
	return out
}

func TestFindAnswersOnlyForListedScopes(t *testing.T) {
	ctx := context.Background()
	front := map[string]string{"app": "frontend"}
	back := map[string]string{"app": "backend"}
	all := kube.Scope{Resource: kube.Pods}
	nsA := kube.Scope{Resource: kube.Pods, Namespace: "a"}
	for _, tc := range []struct {
		name   string
		run    func(c *Cache)
		ns     string
		sel    string
		want   []string
		answer bool
	}{
		{name: "nothing listed yet: ask the API", run: func(*Cache) {}, ns: "a", sel: "app=frontend"},
		{name: "events before a list do not make an answer", run: func(c *Cache) {
			c.Changed(ctx, "ADDED", pod("a", "p1", front, false))
		}, ns: "a", sel: "app=frontend"},
		{name: "a namespace's list answers for it", run: func(c *Cache) {
			listed(c, nsA, pod("a", "p2", front, false), pod("a", "p1", front, false), pod("a", "p3", back, false))
		}, ns: "a", sel: "app=frontend", want: []string{"p1", "p2"}, answer: true},
		{name: "but not for another namespace", run: func(c *Cache) {
			listed(c, nsA, pod("a", "p1", front, false))
		}, ns: "b", sel: "app=frontend"},
		{name: "the cluster's list answers for every namespace", run: func(c *Cache) {
			listed(c, all, pod("a", "p1", front, false), pod("b", "q1", front, false))
		}, ns: "b", sel: "app=frontend", want: []string{"q1"}, answer: true},
		{name: "an added pod is found", run: func(c *Cache) {
			listed(c, nsA)
			c.Changed(ctx, "ADDED", pod("a", "p9", front, false))
		}, ns: "a", sel: "app=frontend", want: []string{"p9"}, answer: true},
		{name: "a deleted pod is not", run: func(c *Cache) {
			listed(c, nsA, pod("a", "p1", front, false), pod("a", "p2", front, false))
			c.Changed(ctx, "DELETED", pod("a", "p1", front, false))
		}, ns: "a", sel: "app=frontend", want: []string{"p2"}, answer: true},
		{name: "a relabelled pod leaves the selection", run: func(c *Cache) {
			listed(c, nsA, pod("a", "p1", front, false))
			c.Changed(ctx, "MODIFIED", pod("a", "p1", back, false))
		}, ns: "a", sel: "app=frontend", answer: true},
		{name: "a new list replaces what was known of its scope", run: func(c *Cache) {
			listed(c, nsA, pod("a", "old", front, false))
			listed(c, nsA, pod("a", "new", front, false))
		}, ns: "a", sel: "app=frontend", want: []string{"new"}, answer: true},
		{name: "set-based selectors work as the API's", run: func(c *Cache) {
			listed(c, nsA, pod("a", "p1", front, false), pod("a", "p2", back, false), pod("a", "p3", nil, false))
		}, ns: "a", sel: "app in (frontend,backend)", want: []string{"p1", "p2"}, answer: true},
		{name: "listed, but the stream is not open yet: ask the API", run: func(c *Cache) {
			c.Synced(ctx, nsA, []Pod{pod("a", "p1", front, false)})
		}, ns: "a", sel: "app=frontend"},
		{name: "the watch failed: what was listed may be behind, ask the API", run: func(c *Cache) {
			listed(c, nsA, pod("a", "p1", front, false))
			c.Connected(nsA, false)
		}, ns: "a", sel: "app=frontend"},
		{name: "the watch resumed: answer again", run: func(c *Cache) {
			listed(c, nsA, pod("a", "p1", front, false))
			c.Connected(nsA, false)
			c.Connected(nsA, true)
		}, ns: "a", sel: "app=frontend", want: []string{"p1"}, answer: true},
		{name: "forgotten after a leader change: ask the API", run: func(c *Cache) {
			listed(c, nsA, pod("a", "p1", front, false))
			c.Forget()
		}, ns: "a", sel: "app=frontend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(nil)
			tc.run(c)
			got, ok := c.Find(tc.ns, tc.sel)
			assert.Equal(t, tc.answer, ok)
			assert.Equal(t, tc.want, names(got))
		})
	}
}

func TestFindKeepsWhatARestartChecks(t *testing.T) {
	c := New(nil)
	listed(c, kube.Scope{Resource: kube.Pods, Namespace: "a"},
		pod("a", "going", map[string]string{"app": "x"}, true), pod("a", "here", map[string]string{"app": "x"}, false))
	got, ok := c.Find("a", "app=x")
	require.True(t, ok)
	require.Len(t, got, 2)
	going, here := got[0], got[1]
	assert.NotNil(t, going.Metadata.DeletionTimestamp, "a terminating pod stays marked so: it is not deleted again")
	assert.Nil(t, here.Metadata.DeletionTimestamp)
	assert.Equal(t, "a/here-uid", here.Metadata.UID, "the uid guards the DELETE")
	assert.Equal(t, []kube.OwnerReference{{Kind: "ReplicaSet", Name: "rs"}}, here.Metadata.OwnerReferences, "owners decide rollout and unowned pods")
	assert.Equal(t, 2, c.Len())
}

func TestTheGaugeCountsThePodsHeld(t *testing.T) {
	ctx := context.Background()
	m := telemetry.NewMetrics("test")
	c := New(m.PodCachePods)
	nsA, nsB := kube.Scope{Resource: kube.Pods, Namespace: "a"}, kube.Scope{Resource: kube.Pods, Namespace: "b"}
	x := map[string]string{"app": "x"}
	listed(c, nsA, pod("a", "p1", x, false), pod("a", "p2", x, false))
	listed(c, nsB, pod("b", "q1", x, false))
	assert.Equal(t, 3.0, m.PodCachePods.Value())
	c.Changed(ctx, "ADDED", pod("a", "p3", x, false))
	c.Changed(ctx, "MODIFIED", pod("a", "p3", nil, false))
	assert.Equal(t, 4.0, m.PodCachePods.Value(), "a modified pod is counted once")
	c.Changed(ctx, "DELETED", pod("a", "p1", x, false))
	c.Changed(ctx, "DELETED", pod("a", "gone", x, false))
	assert.Equal(t, 3.0, m.PodCachePods.Value(), "a pod never seen is not taken off")
	listed(c, nsA)
	assert.Equal(t, 1.0, m.PodCachePods.Value(), "a new list of a replaces it")
	c.Forget()
	assert.Equal(t, 0.0, m.PodCachePods.Value())
	assert.Equal(t, 0, c.Len())
}
