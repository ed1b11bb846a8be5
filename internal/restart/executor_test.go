// executor_test.go tests the executor's pure parts as tables whose rows are the README's:
// what each answer to a DELETE means, which failures may pass, how the pods of a batch
// are counted, what a job reports as owed, and that the rate limit holds across lanes.

package restart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheRateLimitHoldsAcrossLanes(t *testing.T) {
	l := NewRateLimiter(60)
	var wg sync.WaitGroup
	var mu sync.Mutex
	free := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if l.take() == 0 {
					mu.Lock()
					free++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 60, free, "80 actions from 8 lanes: exactly the 60 tokens of the bucket are free")
}

func TestWhatEachAnswerToADeleteMeans(t *testing.T) {
	for _, row := range []struct {
		readme string
		err    error
		want   outcome
		done   bool
	}{
		{"200: deleted", nil, restarted, true},
		{"404 counts as done", &kube.APIError{Code: 404}, gone, true},
		{"409: a new pod took the name, left alone", &kube.APIError{Code: 409}, replaced, true},
		{"429: a budget blocks the eviction for now", &kube.APIError{Code: 429}, blocked, false},
		{"403: refused (RBAC, admission)", &kube.APIError{Code: 403, Message: "denied by policy"}, failed, false},
		{"422: refused by a ValidatingAdmissionPolicy", &kube.APIError{Code: 422}, failed, false},
		{"500 past the retries", &kube.APIError{Code: 500}, failed, false},
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
		{&kube.APIError{Code: 500}, true},
		{&kube.APIError{Code: 503}, true},
		{&kube.APIError{Code: 429}, true},
		{&kube.APIError{Code: 408}, true},
		{&kube.APIError{Code: 400}, false},
		{&kube.APIError{Code: 403}, false},
		{&kube.APIError{Code: 404}, false},
		{&kube.APIError{Code: 409}, false},
		{&kube.APIError{Code: 422}, false},
		{fmt.Errorf("list pods %q: %w", "app=x", errors.New("unexpected EOF")), true},
		{fmt.Errorf("decode GET /api/v1/pods: %w", errors.New("invalid character 'x'")), true},
		{&url.Error{Op: "Get", Err: errors.New("context deadline exceeded")}, true},
		{fmt.Errorf("shutdown: %w", errContextCanceled()), false},
		{nil, false},
	} {
		assert.Equal(t, row.transient, kube.IsTransient(row.err), "%v", row.err)
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
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	e := &Executor{log: log, metrics: telemetry.NewMetrics("test")}
	req := Request{Selector: "app=web", Strategy: "delete", Seen: time.Now()}
	for _, row := range []struct {
		name    string
		job     *job
		targets func(j *job) []*target
		owed    *Owed
	}{
		{"every pod restarted: complete", &job{req: req, matched: 2}, func(j *job) []*target {
			return []*target{{pod: *podNamed("a", nil), jobs: []*job{j}, done: true}, {pod: *podNamed("b", nil), jobs: []*job{j}, skipped: true}}
		}, nil},
		{"one refused: that one", &job{req: req, matched: 2}, func(j *job) []*target {
			return []*target{{pod: *podNamed("a", nil), jobs: []*job{j}, done: true}, {pod: *podNamed("b", nil), jobs: []*job{j}, problem: "403"}}
		}, &Owed{Pods: []string{"uid-b"}}},
		{"the pods could not be listed: all of them", &job{req: req, problems: []string{"could not list pods"}},
			func(*job) []*target { return nil }, &Owed{All: true}},
		{"the owed pods could not be listed: still those", &job{req: Request{Only: []string{"u7"}, Seen: time.Now()},
			problems: []string{"could not list pods"}}, func(*job) []*target { return nil }, &Owed{Pods: []string{"u7"}}},
	} {
		t.Run(row.name, func(t *testing.T) {
			row.job.log = log
			res := e.report(row.job, row.targets(row.job))
			assert.Equal(t, row.owed, res.Owed)
		})
	}
}

// appsAPI serves ReplicaSets owned by Deployments, as WorkloadOf reads them.
func appsAPI(t *testing.T) *kube.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apis/apps/v1/namespaces/default/replicasets/web-5d":
			_, _ = io.WriteString(w, `{"metadata":{"name":"web-5d","ownerReferences":[{"kind":"Deployment","name":"web","controller":true}]}}`)
		case "/apis/apps/v1/namespaces/default/replicasets/bare-rs":
			_, _ = io.WriteString(w, `{"metadata":{"name":"bare-rs"}}`)
		default:
			kubetest.WriteStatus(w, http.StatusNotFound, "NotFound", "no "+r.URL.Path)
		}
	}))
	t.Cleanup(srv.Close)
	api, err := kube.NewClient(srv.URL, nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	return api
}

func TestTheWorkloadBehindAPod(t *testing.T) {
	api := appsAPI(t)
	yes := true
	owned := func(kind, name string) *kube.Pod {
		return podNamed("p", func(p *kube.Pod) {
			p.Metadata.OwnerReferences = []kube.OwnerReference{{Kind: kind, Name: name, Controller: &yes}}
		})
	}
	for _, row := range []struct {
		name string
		p    *kube.Pod
		want kube.Workload
		ok   bool
		err  bool
	}{
		{"a Deployment's pod, through its ReplicaSet", owned("ReplicaSet", "web-5d"), kube.Workload{Kind: "Deployment", Namespace: "default", Name: "web"}, true, false},
		{"a StatefulSet's pod", owned("StatefulSet", "db"), kube.Workload{Kind: "StatefulSet", Namespace: "default", Name: "db"}, true, false},
		{"a DaemonSet's pod", owned("DaemonSet", "agent"), kube.Workload{Kind: "DaemonSet", Namespace: "default", Name: "agent"}, true, false},
		{"a bare ReplicaSet's pod: nothing to roll", owned("ReplicaSet", "bare-rs"), kube.Workload{}, false, false},
		{"a Job's pod: nothing to roll", owned("Job", "migrate"), kube.Workload{}, false, false},
		{"a bare pod", podNamed("p", func(p *kube.Pod) { p.Metadata.OwnerReferences = nil }), kube.Workload{}, false, false},
		{"a ReplicaSet that cannot be read", owned("ReplicaSet", "gone"), kube.Workload{}, false, true},
	} {
		t.Run(row.name, func(t *testing.T) {
			w, ok, err := WorkloadOf(context.Background(), api, row.p)
			assert.Equal(t, row.want, w)
			assert.Equal(t, row.ok, ok)
			assert.Equal(t, row.err, err != nil, "%v", err)
		})
	}
}

func TestADeleteUnderWayEndsWithTheLeadership(t *testing.T) {
	f := kubetest.New(t, "default")
	f.AddPods("web", 1, map[string]string{"app": "web"})
	gate := make(chan struct{})
	f.Snapshot(func() { f.DeleteGate = gate })
	defer close(gate)
	api, err := kube.NewClient(f.URL(), nil, telemetry.NewMetrics("test"))
	require.NoError(t, err)
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	until := time.Now().Add(300 * time.Millisecond)
	e := NewExecutor(api, testPods{api}, Options{Backoff: quick, ReadyTimeout: time.Second, EvictTimeout: time.Second},
		func() time.Time { return until }, nil, telemetry.NewMetrics("test"), log)
	ctx := context.Background()
	began := time.Now()
	e.RestartBatch(Lifetime{Wait: ctx, Send: ctx}, []Request{{Key: "configmaps/default/web", Selector: "app=web", Strategy: "delete",
		Object: kube.ObjectRef{Namespace: "default", Name: "web"}, Done: func(context.Context, Result) {}}})
	assert.Less(t, time.Since(began), 3*time.Second, "the DELETE did not outlive the leadership (else 3 × 10 s)")
}

// quick keeps retries quick in tests.
var quick = backoff.Policy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}

// testPods lists and deletes pods through c, as cuscon's main package does, without its
// guards: nothing is skipped.
type testPods struct{ c *kube.Client }

func (p testPods) List(ctx context.Context, ns, sel string) ([]kube.Pod, error) {
	var out []kube.Pod
	_, err := kube.ListPages(ctx, p.c, kube.CollectionPath(kube.Pods, ns), url.Values{"labelSelector": {sel}}, nil, func(pod *kube.Pod) { out = append(out, *pod) })
	return out, err
}

func (p testPods) Find(ctx context.Context, ns, sel string) ([]kube.Pod, error) {
	return p.List(ctx, ns, sel)
}

func (p testPods) Delete(ctx context.Context, pod *kube.Pod) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return p.c.Call(ctx, http.MethodDelete, kube.ObjectPath(kube.Pods, pod.Metadata.Namespace, pod.Metadata.Name), nil, "application/json",
		map[string]any{"preconditions": map[string]string{"uid": pod.Metadata.UID}}, nil)
}

func (p testPods) Evict(ctx context.Context, pod *kube.Pod) error { return p.Delete(ctx, pod) }

func (p testPods) Guard(context.Context, string) (Guard, error) {
	return Guard{Skip: func(*kube.Pod) string { return "" }}, nil
}

func TestRateLimiterWaitsOnceTheBucketIsEmpty(t *testing.T) {
	l := NewRateLimiter(600) // ten a second, as many at once
	for i := range 600 {
		require.Zero(t, l.take(), "token %d is in the bucket", i)
	}
	assert.Positive(t, l.take(), "the 601st action waits for a token")

	var unlimited *RateLimiter
	assert.Zero(t, unlimited.take())
	assert.Zero(t, NewRateLimiter(0).take())
}
