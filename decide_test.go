// decide_test.go tests the decision as a table whose rows are the README's table "How it
// decides to restart", row for row, plus the rows about what is owed; and the end of a
// restart (settle) and the pace of retries.

package main

import (
	"testing"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/labels"
	"cuscon/internal/restart"

	"github.com/stretchr/testify/assert"
)

// observed returns an observation of frontend-config with selector sel and content hash.
func observed(sel, hash string) observation {
	return observation{key: "configmaps/default/frontend-config", res: kube.ConfigMaps, annotated: true, selector: sel, hash: hash,
		ref: kube.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "frontend-config"}}
}

// with returns o changed by edit.
func (o observation) with(edit func(*observation)) observation {
	edit(&o)
	return o
}

// wednesday is a Wednesday noon, UTC.
var wednesday = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// windowAt sets an observation's window annotation and when it was observed.
func windowAt(window string, at time.Time) func(*observation) {
	return func(o *observation) { o.window, o.at = window, at }
}

func recorded(applied string, owed *owedWork) func(*observation) {
	return func(o *observation) { o.recorded = objState{applied: applied, owed: owed} }
}

func TestDecideFollowsTheREADMEDecisionTable(t *testing.T) {
	annotation, memory := policy{strategy: "delete", recordState: true}, policy{strategy: "delete"}
	owedFrontend1 := &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"uid-frontend-1"}}, fromRecord: true}
	for _, row := range []struct {
		readme string // the README row
		st     objState
		known  bool
		obs    observation
		p      policy
		want   verdictKind
		next   objState
		record bool
		only   []string
	}{
		{readme: "cuscon starts, ConfigMap has no recorded hash", obs: observed("app=frontend", "h1"), p: annotation,
			want: baseline, next: objState{applied: "h1"}, record: true},
		{readme: "cuscon starts, recorded hash ≠ content", obs: observed("app=frontend", "h2").with(recorded("h1", nil)), p: annotation,
			want: restartAll, next: objState{applied: "h1", pending: "h2"}},
		{readme: "cuscon starts, recorded hash = content", obs: observed("app=frontend", "h1").with(recorded("h1", nil)), p: annotation,
			want: unchanged, next: objState{applied: "h1"}},
		{readme: "content (data/binaryData) changed", st: objState{applied: "h1"}, known: true, obs: observed("app=frontend", "h2"), p: annotation,
			want: restartAll, next: objState{applied: "h1", pending: "h2"}},
		{readme: "only labels, annotations or other metadata changed", st: objState{applied: "h1"}, known: true,
			obs: observed("app=frontend", "h1").with(recorded("h1", nil)), p: annotation, want: unchanged, next: objState{applied: "h1"}},
		{readme: "cuscon's own write of the hash annotation", st: objState{applied: "h2"}, known: true,
			obs: observed("app=frontend", "h2").with(recorded("h2", nil)), p: annotation, want: unchanged, next: objState{applied: "h2"}},
		{readme: "ConfigMap without the annotation", obs: observation{key: "configmaps/default/other", hash: "h1"}, p: annotation, want: ignore},
		{readme: "removing the annotation forgets the ConfigMap", st: objState{applied: "h1"}, known: true,
			obs: observation{key: "configmaps/default/frontend-config", hash: "h1"}, p: annotation, want: forget},
		{readme: "annotation added to an existing ConfigMap", obs: observed("app=frontend", "h1"), p: annotation,
			want: baseline, next: objState{applied: "h1"}, record: true},
		{readme: "ConfigMap deleted, later created again (forgotten, so first sight)", obs: observed("app=frontend", "h9"), p: annotation,
			want: baseline, next: objState{applied: "h9"}, record: true},
		{readme: "selector empty or blank", st: objState{applied: "h1"}, known: true, obs: observed("  ", "h2"), p: annotation,
			want: refuseSelector, next: objState{applied: "h1", refused: "h2    "}},
		{readme: "selector with no positive requirement", st: objState{applied: "h1"}, known: true, obs: observed("tier!=db", "h2"), p: annotation,
			want: refuseSelector, next: objState{applied: "h1", refused: "h2 tier!=db "}},
		{readme: "selector malformed", st: objState{applied: "h1"}, known: true, obs: observed("app=frontend,,!!", "h2"), p: annotation,
			want: refuseSelector, next: objState{applied: "h1", refused: "h2 app=frontend,,!! "}},
		{readme: "a refused attempt is reported once", st: objState{applied: "h1", refused: "h2 tier!=db "}, known: true,
			obs: observed("tier!=db", "h2"), p: annotation, want: stillOwed, next: objState{applied: "h1", refused: "h2 tier!=db "}},
		{readme: "a new selector tries the owed restart again", st: objState{applied: "h1", refused: "h2 tier!=db "}, known: true,
			obs: observed("app=frontend", "h2"), p: annotation, want: restartAll, next: objState{applied: "h1", pending: "h2"}},
		{readme: "unknown cuscon.dev/strategy", st: objState{applied: "h1"}, known: true,
			obs: observed("app=frontend", "h2").with(func(o *observation) { o.strategy, o.hasStrategy = "reboot", true }), p: annotation,
			want: refuseStrategy, next: objState{applied: "h1", refused: "h2 app=frontend reboot"}},
		{readme: "a restart for this content is already scheduled", st: objState{applied: "h1", pending: "h2"}, known: true,
			obs: observed("app=frontend", "h2"), p: annotation, want: alreadyPending, next: objState{applied: "h1", pending: "h2"}},
		{readme: "restart incomplete: owed pods wait for their retry", st: objState{applied: "h1", owed: owedBy("app=frontend")},
			known: true, obs: observed("app=frontend", "h2"), p: annotation, want: stillOwed,
			next: objState{applied: "h1", owed: owedBy("app=frontend")}},
		{readme: "restart incomplete, then the selector changed: the pods left are retried with the new selector, checked",
			st: objState{applied: "h1", owed: owedBy("app in (web, db)")}, known: true, obs: observed("app=web", "h2"), p: annotation,
			want: resumeOwed, next: objState{applied: "h1", pending: "h2", owed: owedBy("app in (web, db)")}, only: []string{"u"}},
		{readme: "restart incomplete, then the selector changed to a broad one: refused",
			st: objState{applied: "h1", owed: owedBy("app=web")}, known: true, obs: observed("!db", "h2"), p: annotation,
			want: refuseSelector, next: objState{applied: "h1", refused: "h2 !db ", owed: owedBy("app=web")}},
		{readme: "cuscon starts, an incomplete restart is recorded: only the pods left are restarted",
			obs: observed("app=frontend", "h2").with(recorded("h1", owedFrontend1)), p: annotation,
			want: resumeOwed, next: objState{applied: "h1", pending: "h2", owed: owedFrontend1}, only: []string{"uid-frontend-1"}},
		{readme: "a newer change supersedes what was owed", st: objState{applied: "h1", owed: &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"u"}}}},
			known: true, obs: observed("app=frontend", "h3"), p: annotation, want: restartAll, next: objState{applied: "h1", pending: "h3"}},
		{readme: "content changed back while a restart was incomplete: every pod again (some run the other content)",
			st: objState{applied: "h1", owed: &owedWork{Hash: "h2"}}, known: true,
			obs: observed("app=frontend", "h1").with(recorded("h1", &owedWork{Hash: "h2"})), p: annotation,
			want: restartAll, next: objState{applied: "h1", pending: "h1"}},
		{readme: "content changed back while its restart is under way: every pod again",
			st: objState{applied: "h1", pending: "h2"}, known: true, obs: observed("app=frontend", "h1"), p: annotation,
			want: restartAll, next: objState{applied: "h1", pending: "h1"}},
		{readme: "content changed outside the object's maintenance window", st: objState{applied: "h1"}, known: true,
			obs: observed("app=frontend", "h2").with(windowAt("Sat 00:00-24:00", wednesday)), p: annotation,
			want: deferToWindow, next: objState{applied: "h1", deferred: "h2"}},
		{readme: "content changed again outside the window", st: objState{applied: "h1", deferred: "h2"}, known: true,
			obs: observed("app=frontend", "h3").with(windowAt("Sat 00:00-24:00", wednesday)), p: annotation,
			want: deferToWindow, next: objState{applied: "h1", deferred: "h3"}},
		{readme: "the window opens (the flag's, when the object names none)", st: objState{applied: "h1", deferred: "h3"}, known: true,
			obs: observed("app=frontend", "h3").with(windowAt("", wednesday)), p: policy{strategy: "delete", recordState: true, window: "Wed 00:00-24:00"},
			want: restartAll, next: objState{applied: "h1", pending: "h3"}},
		{readme: "window that cannot be read", st: objState{applied: "h1"}, known: true,
			obs: observed("app=frontend", "h2").with(windowAt("weekends", wednesday)), p: annotation,
			want: refuseWindow, next: objState{applied: "h1", refused: `h2 app=frontend  window="weekends"`}},
		{readme: "--state=memory: a recorded hash is not read", obs: observed("app=frontend", "h2").with(recorded("h1", nil)), p: memory,
			want: baseline, next: objState{applied: "h2"}},
	} {
		t.Run(row.readme, func(t *testing.T) {
			next, v := decide(row.st, row.known, row.obs, row.p)
			assert.Equal(t, row.want, v.kind)
			assert.Equal(t, row.next, next)
			assert.Equal(t, row.record, v.record, "record")
			assert.Equal(t, row.only, v.order.Only, "only")
			if v.kind == restartAll || v.kind == resumeOwed {
				assert.Equal(t, row.obs.hash, v.order.hash)
				assert.Equal(t, row.obs.selector, v.order.Selector)
				assert.Equal(t, "delete", v.order.Strategy)
			}
			if v.kind == refuseSelector || v.kind == refuseStrategy {
				assert.Error(t, v.err)
			}
		})
	}
}

// owedBy is owed work for h2 (pod "u") left by a round with selector sel.
func owedBy(sel string) *owedWork {
	return &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"u"}}, order: order{Request: restart.Request{Selector: sel}, hash: "h2", attempt: "h2 " + sel + " "}}
}

func TestStrategyAnnotationOverridesTheDefault(t *testing.T) {
	for _, s := range []string{"delete", "evict", "rollout"} {
		obs := observed("app=frontend", "h2").with(func(o *observation) { o.strategy, o.hasStrategy = s, true })
		_, v := decide(objState{applied: "h1"}, true, obs, policy{strategy: "delete", overrides: []string{"evict", "rollout"}})
		assert.Equal(t, s, v.order.Strategy)
	}
	_, v := decide(objState{applied: "h1"}, true, observed("app=frontend", "h2"), policy{strategy: "evict"})
	assert.Equal(t, "evict", v.order.Strategy, "no annotation: the default")
}

func TestSettleRecordsOnlyACompleteRestart(t *testing.T) {
	o := order{Request: restart.Request{Key: "k", Selector: "app=frontend"}, hash: "h2", attempt: "h2 app=frontend "}
	owed := &restart.Owed{Pods: []string{"u1"}}
	for _, row := range []struct {
		name string
		st   objState
		res  restart.Result
		want objState
	}{
		{"complete: applied", objState{applied: "h1", pending: "h2"}, restart.Result{}, objState{applied: "h2"}},
		{"complete after owed rounds: nothing owed", objState{applied: "h1", pending: "h2", owed: &owedWork{Hash: "h2", tries: 3}},
			restart.Result{}, objState{applied: "h2"}},
		{"refused by the API: owed until a new attempt", objState{applied: "h1", pending: "h2"}, restart.Result{Refused: labels.ErrBroad},
			objState{applied: "h1", refused: "h2 app=frontend "}},
		{"incomplete: the pods left are owed, applied unchanged", objState{applied: "h1", pending: "h2"}, restart.Result{Owed: owed},
			objState{applied: "h1", owed: &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"u1"}}, tries: 1, order: o}}},
		{"incomplete again: tries count up", objState{applied: "h1", pending: "h2", owed: &owedWork{Hash: "h2", tries: 2}},
			restart.Result{Owed: owed}, objState{applied: "h1", owed: &owedWork{Hash: "h2", Owed: restart.Owed{Pods: []string{"u1"}}, tries: 3, order: o}}},
		{"overtaken by a newer change: nothing changes", objState{applied: "h1", pending: "h3"}, restart.Result{Owed: owed},
			objState{applied: "h1", pending: "h3"}},
	} {
		t.Run(row.name, func(t *testing.T) { assert.Equal(t, row.want, settle(row.st, o, row.res)) })
	}
}

func TestRetriesBackOffToAtMostAMinute(t *testing.T) {
	p := backoff.Policy{Initial: time.Second, Max: time.Minute}
	var got []time.Duration
	for tries := 1; tries <= 9; tries++ {
		got = append(got, retryDelay(tries, p))
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, time.Minute, time.Minute, time.Minute}, got)
}
