// scheduler_test.go tests the pacing of restarts as tables over lane.due, a pure
// function of the queue, the window and the clock: a change acts at once unless its
// pods began a restart within the window; the changes that waited run together; and
// lanes of different namespaces do not wait for each other.

package restart

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/kubetest"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// request returns a restart request for object key in default, selecting sel.
func request(key, sel string) Request {
	return Request{Key: key, Selector: sel, Object: kube.ObjectRef{Namespace: "default", Name: key}}
}

// keys lists the objects of a batch.
func keys(batch []Request) []string {
	var out []string
	for _, r := range batch {
		out = append(out, r.Key)
	}
	return out
}

func TestWhenAChangeMayActFollowsTheDebounceRules(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	window := 2 * time.Second
	for _, row := range []struct {
		name    string
		lastRun map[string]time.Time
		queue   []Request
		now     time.Time
		batch   []string
		wait    time.Duration
		left    []string
	}{
		{name: "nothing restarted lately: at once", queue: []Request{request("a", "app=a")}, now: t0,
			batch: []string{"a"}},
		{name: "the same pods restarted 0.5 s ago: wait for the window's end",
			lastRun: map[string]time.Time{"app=a": t0.Add(-500 * time.Millisecond)},
			queue:   []Request{request("a", "app=a")}, now: t0, wait: 1500 * time.Millisecond, left: []string{"a"}},
		{name: "other pods restarted 0.5 s ago: at once, not held",
			lastRun: map[string]time.Time{"app=b": t0.Add(-500 * time.Millisecond)},
			queue:   []Request{request("a", "app=a")}, now: t0, batch: []string{"a"}},
		{name: "held and unrelated: the unrelated one goes, the held one waits",
			lastRun: map[string]time.Time{"app=a": t0.Add(-time.Second)},
			queue:   []Request{request("a", "app=a"), request("b", "app=b")}, now: t0,
			batch: []string{"b"}, left: []string{"a"}},
		{name: "the window has passed: the changes that waited run together",
			lastRun: map[string]time.Time{"app=a": t0.Add(-2 * time.Second)},
			queue:   []Request{request("a", "app=a"), request("a2", "app=a")}, now: t0, batch: []string{"a", "a2"}},
		{name: "two held for different pods: wait for the sooner",
			lastRun: map[string]time.Time{"app=a": t0.Add(-time.Second), "app=b": t0.Add(-1500 * time.Millisecond)},
			queue:   []Request{request("a", "app=a"), request("b", "app=b")}, now: t0,
			wait: 500 * time.Millisecond, left: []string{"a", "b"}},
		{name: "empty queue: nothing, no wait", now: t0},
	} {
		t.Run(row.name, func(t *testing.T) {
			l := &lane{queue: row.queue, lastRun: map[string]time.Time{}}
			for k, v := range row.lastRun {
				l.lastRun[k] = v
			}
			batch, wait := l.due(row.now, window)
			assert.Equal(t, row.batch, keys(batch))
			assert.Equal(t, row.wait, wait)
			assert.Equal(t, row.left, keys(l.queue))
			for _, r := range batch {
				assert.Equal(t, row.now, l.lastRun[r.Selector], "a batch opens the window of its pods")
			}
		})
	}
}

func TestNoWindowMeansEveryChangeActsAtOnceAndNothingIsRemembered(t *testing.T) {
	l := &lane{queue: []Request{request("a", "app=a")}, lastRun: map[string]time.Time{}}
	batch, wait := l.due(time.Now(), 0)
	assert.Len(t, batch, 1)
	assert.Zero(t, wait)
	assert.Empty(t, l.lastRun)
}

func TestTheNewestRequestOfAnObjectReplacesAQueuedOne(t *testing.T) {
	l := &lane{}
	first, second := request("a", "app=a"), request("a", "app=a")
	first.Why, second.Why = "h1", "h2"
	l.put(first)
	l.put(request("b", "app=b"))
	l.put(second)
	require.Equal(t, []string{"a", "b"}, keys(l.queue), "one per object, in order of first arrival")
	assert.Equal(t, "h2", l.queue[0].Why)
}

func TestOldWindowsAreForgotten(t *testing.T) {
	t0 := time.Now()
	l := &lane{lastRun: map[string]time.Time{"app=old": t0.Add(-time.Hour), "app=new": t0.Add(-time.Second)}}
	l.due(t0, 2*time.Second)
	assert.Equal(t, []string{"app=new"}, func() (out []string) {
		for k := range l.lastRun {
			out = append(out, k)
		}
		return out
	}())
}

func TestLanesOfDifferentNamespacesDoNotWaitForEachOther(t *testing.T) {
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	s := NewScheduler(0, log)
	hung, release := make(chan struct{}), make(chan struct{})
	ran := make(chan string, 4)
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.ServeLanes(ctx, func(batch []Request) {
			ns := batch[0].Object.Namespace
			if ns == "slow" {
				once.Do(func() { close(hung) })
				<-release
			}
			ran <- ns
		})
		close(done)
	}()
	slow := request("a", "app=a")
	slow.Object.Namespace = "slow"
	s.Add(slow)
	<-hung
	s.Add(request("b", "app=b")) // in default
	select {
	case ns := <-ran:
		assert.Equal(t, "default", ns, "default's batch ran while slow's hung")
	case <-time.After(kubetest.WaitTimeout):
		t.Fatal("default's batch waited for slow's")
	}
	close(release)
	assert.Equal(t, "slow", <-ran)
	cancel()
	<-done
}

func TestShutdownWaitsForTheBatchUnderWayAndDropsTheRest(t *testing.T) {
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	s := NewScheduler(time.Hour, log)
	started, finish := make(chan struct{}), make(chan struct{})
	var ran []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.ServeLanes(ctx, func(batch []Request) {
			ran = append(ran, keys(batch)...)
			close(started)
			<-finish
		})
		close(done)
	}()
	s.Add(request("a", "app=a"))
	<-started
	s.Add(request("a2", "app=a")) // held by the hour-long window
	cancel()
	select {
	case <-done:
		t.Fatal("run returned while a batch was under way")
	case <-time.After(50 * time.Millisecond): // a negative claim needs a bound
	}
	close(finish)
	<-done
	assert.Equal(t, []string{"a"}, ran, "the held request is dropped: its hash is not recorded, so the next start brings it back")
}

func TestIdleLanesAreForgottenOnceTheirWindowsPass(t *testing.T) {
	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	s := NewScheduler(10*time.Millisecond, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var ran atomic.Int32
	go func() { s.ServeLanes(ctx, func(b []Request) { ran.Add(int32(len(b))) }); close(done) }()
	defer func() { cancel(); <-done }()
	for i := range 200 {
		ns := "ns-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		s.Add(Request{Key: ns + "/cm", Selector: "app=x", Object: kube.ObjectRef{Namespace: ns, Name: "cm"}})
	}
	require.Eventually(t, func() bool { return ran.Load() == 200 }, kubetest.WaitTimeout, time.Millisecond)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.lanes) == 0
	}, kubetest.WaitTimeout, time.Millisecond, "namespaces with nothing queued and no window open leave nothing behind")
}
