// restart_test.go tests the per-pod decisions as tables whose rows are the README's
// table "For each matching pod": which pods are skipped, and what each answer to a
// DELETE or eviction means; and how a job's outcome is tallied into what is owed.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// podNamed returns a pod in default owned by a ReplicaSet unless edit changes it.
func podNamed(name string, edit func(*pod)) *pod {
	yes := true
	p := &pod{Metadata: objectMeta{Name: name, Namespace: "default", UID: "uid-" + name,
		OwnerReferences: []ownerReference{{Kind: "ReplicaSet", Name: "web-1", Controller: &yes}}}}
	if edit != nil {
		edit(p)
	}
	return p
}

func TestWhichPodsAreSkippedFollowsTheREADMEPodTable(t *testing.T) {
	gone := "2026-11-23T00:00:00Z"
	me := self{name: "cuscon-7d9-x2x", namespace: "default", workload: workload{Kind: "Deployment", Namespace: "default", Name: "cuscon"}}
	ofRS := func(rs, hash string) func(*pod) {
		return func(p *pod) {
			p.Metadata.OwnerReferences[0].Name = rs
			p.Metadata.Labels = map[string]string{"pod-template-hash": hash}
		}
	}
	for _, row := range []struct {
		readme        string
		p             *pod
		deleteUnowned bool
		want          string
	}{
		{"already terminating", podNamed("a", func(p *pod) { p.Metadata.DeletionTimestamp = &gone }), false, "already terminating"},
		{"finished (Succeeded)", podNamed("b", func(p *pod) { p.Status.Phase = "Succeeded" }), false, "already finished (Succeeded)"},
		{"finished (Failed)", podNamed("c", func(p *pod) { p.Status.Phase = "Failed" }), false, "already finished (Failed)"},
		{"no controlling owner", podNamed("d", func(p *pod) { p.Metadata.OwnerReferences = nil }), false, "no controller owns it"},
		{"no controlling owner, --delete-unowned-pods", podNamed("e", func(p *pod) { p.Metadata.OwnerReferences = nil }), true, ""},
		{"an owner that is not the controller", podNamed("f", func(p *pod) { p.Metadata.OwnerReferences[0].Controller = nil }), false, "no controller owns it"},
		{"cuscon's own pod", podNamed("cuscon-7d9-x2x", nil), true, "cuscon's own pod"},
		{"a pod of that name in another namespace", podNamed("cuscon-7d9-x2x", func(p *pod) { p.Metadata.Namespace = "other" }), false, ""},
		{"a replica of cuscon (its Deployment's ReplicaSet)", podNamed("cuscon-7d9-abcde", ofRS("cuscon-7d9", "7d9")), false, "a replica of cuscon itself (Deployment/cuscon)"},
		{"a replica of cuscon from another rollout", podNamed("cuscon-5c4-fghij", ofRS("cuscon-5c4", "5c4")), false, "a replica of cuscon itself"},
		{"a pod of another Deployment", podNamed("cuscon-web-5c4-fghij", ofRS("cuscon-web-5c4", "5c4")), false, ""},
		{"a ReplicaSet whose name is not its Deployment's and hash", podNamed("h", ofRS("cuscon", "7d9")), false, ""},
		{"a pod of that name in another namespace", podNamed("cuscon-7d9-abcde", func(p *pod) { ofRS("cuscon-7d9", "7d9")(p); p.Metadata.Namespace = "other" }), false, ""},
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

func TestWhatEachAnswerToADeleteMeans(t *testing.T) {
	for _, row := range []struct {
		readme string
		err    error
		want   outcome
		done   bool
	}{
		{"200: deleted", nil, restarted, true},
		{"404 counts as done", &apiError{Code: 404}, gone, true},
		{"409: a new pod took the name, left alone", &apiError{Code: 409}, replaced, true},
		{"429: a budget blocks the eviction for now", &apiError{Code: 429}, blocked, false},
		{"403: refused (RBAC, admission)", &apiError{Code: 403, Message: "denied by policy"}, failed, false},
		{"422: refused by a ValidatingAdmissionPolicy", &apiError{Code: 422}, failed, false},
		{"500 past the retries", &apiError{Code: 500}, failed, false},
		{"the proxy is down", &url.Error{Op: "Delete", Err: errors.New("connection refused")}, failed, false},
	} {
		t.Run(row.readme, func(t *testing.T) {
			o := outcomeOf(row.err)
			assert.Equal(t, row.want, o)
			assert.Equal(t, row.done, o.done())
		})
	}
}

func TestWhatMayPassIsRetriedAndWhatIsFinalIsNot(t *testing.T) {
	for _, row := range []struct {
		err       error
		transient bool
	}{
		{&apiError{Code: 500}, true},
		{&apiError{Code: 503}, true},
		{&apiError{Code: 429}, true},
		{&apiError{Code: 408}, true},
		{&apiError{Code: 400}, false},
		{&apiError{Code: 403}, false},
		{&apiError{Code: 404}, false},
		{&apiError{Code: 409}, false},
		{&apiError{Code: 422}, false},
		{fmt.Errorf("list pods %q: %w", "app=x", errors.New("unexpected EOF")), true},
		{fmt.Errorf("decode GET /api/v1/pods: %w", errors.New("invalid character 'x'")), true},
		{&url.Error{Op: "Get", Err: errors.New("context deadline exceeded")}, true},
		{fmt.Errorf("shutdown: %w", errContextCanceled()), false},
		{nil, false},
	} {
		assert.Equal(t, row.transient, isTransient(row.err), "%v", row.err)
	}
}

func TestTallyCountsEachPodOnceAndListsWhatIsOwed(t *testing.T) {
	a, b := &job{}, &job{}
	ts := []*target{
		{pod: *podNamed("p0", nil), jobs: []*job{a, b}, done: true},
		{pod: *podNamed("p1", nil), jobs: []*job{a}, problem: "403 Forbidden"},
		{pod: *podNamed("p2", nil), jobs: []*job{a, b}, skipped: true},
		{pod: *podNamed("p3", nil), jobs: []*job{b}},
	}
	restarted, skipped, failed, owed := tally(a, ts)
	assert.Equal(t, []int{1, 1, 1}, []int{restarted, skipped, failed})
	assert.Equal(t, []string{"uid-p1"}, owed)
	restarted, skipped, failed, owed = tally(b, ts)
	assert.Equal(t, []int{1, 1, 1}, []int{restarted, skipped, failed})
	assert.Equal(t, []string{"uid-p3"}, owed, "a pod left by pacing is owed too")
}

// errContextCanceled is the error of a request cuscon cancelled itself.
func errContextCanceled() error {
	return &url.Error{Op: "Get", Err: context.Canceled}
}

func TestAJobReportsWhatIsStillOwed(t *testing.T) {
	log, _ := newLogger(io.Discard, "text", 0)
	e := &executor{log: log, metrics: newMetrics()}
	req := restartRequest{hash: "h2", selector: "app=web", strategy: "delete", seen: time.Now()}
	for _, row := range []struct {
		name    string
		job     *job
		targets func(j *job) []*target
		owed    *owedWork
	}{
		{"every pod restarted: complete", &job{req: req, matched: 2}, func(j *job) []*target {
			return []*target{{pod: *podNamed("a", nil), jobs: []*job{j}, done: true}, {pod: *podNamed("b", nil), jobs: []*job{j}, skipped: true}}
		}, nil},
		{"one refused: that one", &job{req: req, matched: 2}, func(j *job) []*target {
			return []*target{{pod: *podNamed("a", nil), jobs: []*job{j}, done: true}, {pod: *podNamed("b", nil), jobs: []*job{j}, problem: "403"}}
		}, &owedWork{Hash: "h2", Pods: []string{"uid-b"}}},
		{"the pods could not be listed: all of them", &job{req: req, problems: []string{"could not list pods"}},
			func(*job) []*target { return nil }, &owedWork{Hash: "h2", All: true}},
		{"the owed pods could not be listed: still those", &job{req: restartRequest{hash: "h2", only: []string{"u7"}, seen: time.Now()},
			problems: []string{"could not list pods"}}, func(*job) []*target { return nil }, &owedWork{Hash: "h2", Pods: []string{"u7"}}},
	} {
		t.Run(row.name, func(t *testing.T) {
			row.job.log = log
			res := e.report(row.job, row.targets(row.job))
			assert.Equal(t, row.owed, res.owed)
		})
	}
}
