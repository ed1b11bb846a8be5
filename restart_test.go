// restart_test.go tests the per-pod decisions as tables whose rows are the README's
// table "For each matching pod": which pods are skipped, and what each answer to a
// DELETE or eviction means; and how a job's outcome is tallied into what is owed.

package main

import (
	"testing"

	"cuscon/internal/kube"

	"github.com/stretchr/testify/assert"
)

// podNamed returns a pod in default owned by a ReplicaSet unless edit changes it.
func podNamed(name string, edit func(*kube.Pod)) *kube.Pod {
	yes := true
	p := &kube.Pod{Metadata: kube.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + name,
		OwnerReferences: []kube.OwnerReference{{Kind: "ReplicaSet", Name: "web-1", Controller: &yes}}}}
	if edit != nil {
		edit(p)
	}
	return p
}

func TestWhichPodsAreSkippedFollowsTheREADMEPodTable(t *testing.T) {
	gone := "2026-11-23T00:00:00Z"
	me := self{name: "cuscon-7d9-x2x", namespace: "default", workload: kube.Workload{Kind: "Deployment", Namespace: "default", Name: "cuscon"}}
	ofRS := func(rs, hash string) func(*kube.Pod) {
		return func(p *kube.Pod) {
			p.Metadata.OwnerReferences[0].Name = rs
			p.Metadata.Labels = map[string]string{"pod-template-hash": hash}
		}
	}
	for _, row := range []struct {
		readme        string
		p             *kube.Pod
		deleteUnowned bool
		want          string
	}{
		{"already terminating", podNamed("a", func(p *kube.Pod) { p.Metadata.DeletionTimestamp = &gone }), false, "already terminating"},
		{"finished (Succeeded)", podNamed("b", func(p *kube.Pod) { p.Status.Phase = "Succeeded" }), false, "already finished (Succeeded)"},
		{"finished (Failed)", podNamed("c", func(p *kube.Pod) { p.Status.Phase = "Failed" }), false, "already finished (Failed)"},
		{"no controlling owner", podNamed("d", func(p *kube.Pod) { p.Metadata.OwnerReferences = nil }), false, "no controller owns it"},
		{"no controlling owner, --delete-unowned-pods", podNamed("e", func(p *kube.Pod) { p.Metadata.OwnerReferences = nil }), true, ""},
		{"an owner that is not the controller", podNamed("f", func(p *kube.Pod) { p.Metadata.OwnerReferences[0].Controller = nil }), false, "no controller owns it"},
		{"cuscon's own pod", podNamed("cuscon-7d9-x2x", nil), true, "cuscon's own pod"},
		{"a pod of that name in another namespace", podNamed("cuscon-7d9-x2x", func(p *kube.Pod) { p.Metadata.Namespace = "other" }), false, ""},
		{"a replica of cuscon (its Deployment's ReplicaSet)", podNamed("cuscon-7d9-abcde", ofRS("cuscon-7d9", "7d9")), false, "a replica of cuscon itself (Deployment/cuscon)"},
		{"a replica of cuscon from another rollout", podNamed("cuscon-5c4-fghij", ofRS("cuscon-5c4", "5c4")), false, "a replica of cuscon itself"},
		{"a pod of another Deployment", podNamed("cuscon-web-5c4-fghij", ofRS("cuscon-web-5c4", "5c4")), false, ""},
		{"a ReplicaSet whose name is not its Deployment's and hash", podNamed("h", ofRS("cuscon", "7d9")), false, ""},
		{"a pod of that name in another namespace", podNamed("cuscon-7d9-abcde", func(p *kube.Pod) { ofRS("cuscon-7d9", "7d9")(p); p.Metadata.Namespace = "other" }), false, ""},
		{"otherwise", podNamed("g", nil), false, ""},
	} {
		t.Run(row.readme, func(t *testing.T) {
			got := skipReason(row.p, me, row.deleteUnowned)
			if row.want == "" {
				assert.Empty(t, got)
			} else {
				assert.Contains(t, got, row.want)
			}
		})
	}
	assert.Contains(t, skipReason(podNamed("me", nil), self{name: "me"}, false), "own pod", "no namespace known: the name is enough")
}
