package waves

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWaveOf(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		labels      map[string]string
		objWaves    string
		want        int
		err         string
	}{
		{"no annotation: the rest", nil, map[string]string{"app": "a"}, "", Rest, ""},
		{"its own wave", map[string]string{WaveAnnotation: "2"}, nil, "", 2, ""},
		{"its own wave beats the object's", map[string]string{WaveAnnotation: "0"}, map[string]string{"tier": "canary"}, "tier=canary", 0, ""},
		{"the object's first selector that matches", nil, map[string]string{"tier": "web"}, "tier=canary; tier in (web,api); *", 2, ""},
		{"* takes the rest", nil, map[string]string{"tier": "db"}, "tier=canary; *", 2, ""},
		{"no selector matches", nil, map[string]string{"tier": "db"}, "tier=canary", Rest, ""},
		{"not a number", map[string]string{WaveAnnotation: "first"}, nil, "", 0, "want a number"},
		{"negative", map[string]string{WaveAnnotation: "-1"}, nil, "", 0, "want a number"},
		{"too large", map[string]string{WaveAnnotation: "1001"}, nil, "", 0, "want a number"},
		{"a bad selector", nil, nil, "tier=canary; ===", 0, "want a label selector"},
		{"an empty selector", nil, nil, "tier=canary;;", 0, "want a label selector"},
		{"too many selectors", nil, nil, strings.Repeat("a=b;", 21), 0, "over the bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := WaveOf(tc.annotations, tc.labels, tc.objWaves)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestTimeout(t *testing.T) {
	d, err := Timeout("", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, d)
	d, err = Timeout("90s", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, d)
	for _, bad := range []string{"soon", "0s", "-1m"} {
		_, err = Timeout(bad, time.Minute)
		assert.Error(t, err, bad)
	}
}

// A shared bundle: canary in wave 1, web in wave 2, the rest after them.
func TestGate(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	healthy := Status{Health: Healthy}
	rolling := Status{Health: Progressing, Reason: "1 of 3 replicas updated"}
	bundle := "configmap/bundle"
	m := func(name string, wave int, owed bool, st Status, since time.Duration) Member {
		x := Member{Name: name, Waves: map[string]int{bundle: wave}, Health: st, Timeout: 5 * time.Minute, Record: "r1"}
		if owed {
			x.Owed = []string{bundle}
		}
		if since != 0 {
			x.Since = now.Add(-since)
		}
		return x
	}
	for _, tc := range []struct {
		name    string
		members []Member
		want    map[string]Kind
		reason  string // of the last wave's verdict
	}{
		{"one wave: all go at once",
			[]Member{m("a", Rest, true, healthy, 0), m("b", Rest, true, healthy, 0)},
			map[string]Kind{"a": Go, "b": Go}, ""},
		{"the first wave goes, the later ones wait for it",
			[]Member{m("canary", 1, true, healthy, 0), m("web", 2, true, healthy, 0), m("rest", Rest, true, healthy, 0)},
			map[string]Kind{"canary": Go, "web": Wait, "rest": Wait}, "wave 1: canary has not taken the change yet"},
		{"a wave under way holds the next",
			[]Member{{Name: "canary", Waves: map[string]int{bundle: 1}, InFlight: true}, m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Wait}, "has not taken the change yet"},
		{"the first wave rolling: the second waits",
			[]Member{m("canary", 1, false, rolling, time.Minute), m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Wait}, "wave 1: canary not healthy yet: 1 of 3 replicas updated"},
		{"the first wave healthy: the second goes, the rest waits for it",
			[]Member{m("canary", 1, false, healthy, time.Minute), m("web", 2, true, healthy, 0), m("rest", Rest, true, healthy, 0)},
			map[string]Kind{"web": Go, "rest": Wait}, "wave 2: web has not taken the change yet"},
		{"past its timeout the first wave holds every later one",
			[]Member{m("canary", 1, false, rolling, 6*time.Minute), m("web", 2, true, healthy, 0), m("rest", Rest, true, healthy, 0)},
			map[string]Kind{"web": Held, "rest": Held}, "wave 1: canary not healthy within 5m0s: 1 of 3 replicas updated"},
		{"a hold passes on to the waves after it",
			[]Member{m("canary", 1, false, Status{Failed, "deadline"}, time.Second), m("web", 2, true, healthy, 0), m("rest", Rest, true, healthy, 0)},
			map[string]Kind{"web": Held, "rest": Held}, "wave 1: canary failed: deadline"},
		{"a wait for a window passes on, with no timeout counting",
			[]Member{func() Member {
				y := m("canary", 1, true, healthy, 0)
				y.Deferred = now.Add(2 * time.Hour)
				return y
			}(), m("web", 2, true, healthy, 0), func() Member { x := m("rest", Rest, true, healthy, 0); return x }()},
			map[string]Kind{"canary": Go, "web": Wait, "rest": Wait}, "deferred to its maintenance window"},
		{"a failed rollout holds at once",
			[]Member{m("canary", 1, false, Status{Failed, "its rollout exceeded its progress deadline"}, time.Second), m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Held}, "wave 1: canary failed: its rollout exceeded its progress deadline"},
		{"one that cannot be restarted holds the later waves",
			[]Member{{Name: "canary", Waves: map[string]int{bundle: 1}, Owed: []string{bundle}, Refused: "invalid strategy"}, m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Held}, "wave 1: canary cannot be restarted: invalid strategy"},
		{"a workload of an earlier wave that does not use the object does not gate",
			[]Member{{Name: "other", Waves: map[string]int{"configmap/other": 1}, Health: rolling, Since: now.Add(-time.Hour), Timeout: time.Minute}, m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Go}, ""},
		{"the same wave does not gate",
			[]Member{m("a", 2, false, rolling, time.Hour), m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Go}, ""},
		{"a gate with no restart time waits, not holds",
			[]Member{m("canary", 1, false, rolling, 0), m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Wait}, "not healthy yet"},
		{"no restart record: its timeout counts from the wait",
			[]Member{func() Member {
				y := m("canary", 1, false, rolling, 0)
				y.Waited = now.Add(-6 * time.Minute)
				return y
			}(), m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Held}, "not healthy within 5m0s"},
		{"one that never takes the change holds past its timeout",
			[]Member{func() Member { y := m("canary", 1, true, healthy, 0); y.Waited = now.Add(-6 * time.Minute); return y }(), m("web", 2, true, healthy, 0)},
			map[string]Kind{"canary": Go, "web": Held}, "wave 1: canary has not taken the change within 5m0s"},
		{"one under way for ever holds past its timeout",
			[]Member{{Name: "canary", Waves: map[string]int{bundle: 1}, InFlight: true, Waited: now.Add(-time.Hour), Timeout: time.Minute}, m("web", 2, true, healthy, 0)},
			map[string]Kind{"web": Held}, "has not taken the change within 1m0s"},
		{"one deferred to its window: the next waits for the window, however long",
			[]Member{func() Member {
				y := m("canary", 1, true, healthy, 0)
				y.Waited, y.Deferred = now.Add(-time.Hour), now.Add(12*time.Hour)
				return y
			}(), m("web", 2, true, healthy, 0)},
			map[string]Kind{"canary": Go, "web": Wait}, "deferred to its maintenance window, which opens at 2026-12-03T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Gate(tc.members, now)
			kinds := map[string]Kind{}
			last := ""
			for name, v := range got {
				kinds[name] = v.Kind
				if name == tc.members[len(tc.members)-1].Name {
					last = v.Reason
				}
			}
			assert.Equal(t, tc.want, kinds)
			assert.Contains(t, last, tc.reason)
		})
	}
}

func TestResumeNamesOneHold(t *testing.T) {
	now := time.Now()
	failed := Member{Name: "canary", Waves: map[string]int{"configmap/b": 1}, Health: Status{Failed, "deadline"}}
	web := Member{Name: "web", Waves: map[string]int{"configmap/b": 2}, Owed: []string{"configmap/b"}}
	failed.Record = "2026-12-02T10:00:00Z wave 1: configmap/b key ca changed"
	v := Gate([]Member{failed, web}, now)["web"]
	require.Equal(t, Held, v.Kind)
	require.Len(t, v.ID, 10)
	assert.False(t, v.Resumed)

	web.Resume = v.ID
	v2 := Gate([]Member{failed, web}, now)["web"]
	assert.True(t, v2.Resumed, "the hold's id resumes it")

	failed.Record = "2026-12-02T11:00:00Z wave 1: configmap/b key ca changed" // restarted again, for a newer change
	v3 := Gate([]Member{failed, web}, now)["web"]
	assert.NotEqual(t, v.ID, v3.ID, "a newer restart of the one that holds it is a new hold")
	assert.False(t, v3.Resumed, "an old resume does not carry over to it")
}
