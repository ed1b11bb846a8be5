// digest_test.go tests key-level changes as tables: digests of keys, a workload's
// view of what it uses, and the decision against the view recorded on the workload.

package reloader

import (
	"fmt"
	"strings"
	"testing"

	"cuscon/internal/kube"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cmDigests returns the digests of a ConfigMap with data.
func cmDigests(data map[string]string) *digests {
	d := digestsOf(&kube.Object{Resource: kube.ConfigMaps, Data: data}, nil, false)
	return &d
}

func TestDigestsAreOfValuesNotData(t *testing.T) {
	a := cmDigests(map[string]string{"a": "1", "b": "2"})
	b := cmDigests(map[string]string{"a": "1", "b": "3"})
	assert.Equal(t, a.key("a"), b.key("a"), "a unchanged")
	assert.NotEqual(t, a.key("b"), b.key("b"), "b changed")
	assert.NotEqual(t, a.full, b.full)
	assert.Equal(t, absent, a.key("zzz"))
	assert.Len(t, a.key("a"), 16, "64 bits in hex")
	bin := digestsOf(&kube.Object{Resource: kube.ConfigMaps, BinaryData: map[string]string{"a": "1"}}, nil, false)
	assert.NotEqual(t, absent, bin.key("a"), "binaryData keys count")
}

// secretDigests digests a Secret with uid and data under key.
func secretDigests(key, uid string, data map[string]string) *digests {
	d := digestsOf(&kube.Object{Resource: kube.Secrets, Metadata: kube.ObjectMeta{UID: uid}, Data: data}, []byte(key), false)
	return &d
}

// unkeyed is a keyed digest without its prefix and key id.
func unkeyed(digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	return hex
}

func TestASecretsDigestsCannotBeRecomputedWithoutTheInstallationsKey(t *testing.T) {
	pw := map[string]string{"password": "aHVudGVyMg=="}
	d := secretDigests("key-1", "u1", pw)
	// What anyone who may read workloads and Events knows: the uid, the key's name, and
	// the digest formula of ConfigMaps, which are not keyed. None of it reproduces it.
	assert.NotEqual(t, hex64(sum64("u1\x00password\x00aHVudGVyMg==")), unkeyed(d.key("password")))
	assert.NotEqual(t, cmDigests(pw).key("password"), unkeyed(d.key("password")))
	assert.NotEqual(t, d.key("password"), secretDigests("key-2", "u1", pw).key("password"), "another installation's key, another digest")
	assert.Equal(t, d.key("password"), secretDigests("key-1", "u1", pw).key("password"), "the same key: stable across restarts")
	assert.NotEqual(t, d.key("password"), secretDigests("key-1", "u2", pw).key("password"), "a Secret made again is a change")
	assert.True(t, strings.HasPrefix(d.key("password"), keyedPrefix), "recorded as keyed")
	assert.True(t, strings.HasPrefix(d.whole(), keyedPrefix))
}

func TestAnObjectWithTooManyKeysIsDigestedWhole(t *testing.T) {
	many := map[string]string{}
	for i := range maxKeyDigests + 1 {
		many[fmt.Sprint("k", i)] = "v"
	}
	d := cmDigests(many)
	assert.Nil(t, d.keys, "no per-key digests: one object costs a bounded amount")
	assert.Equal(t, d.whole(), d.key("k1"), "every key reads as the whole object")
	many["k300"] = "changed"
	assert.NotEqual(t, d.key("k1"), cmDigests(many).key("k1"), "so any change is seen by every key a workload uses")
	few := map[string]string{}
	for i := range maxKeyDigests {
		few[fmt.Sprint("k", i)] = "v"
	}
	assert.Len(t, cmDigests(few).keys, maxKeyDigests, "up to the bound, key by key")
}

func TestKeysWhoseNameHashesCollideAreBothWatched(t *testing.T) {
	merged := func(kds ...keyDigest) []keyDigest { return mergeCollisions(kds) }
	ab := merged(keyDigest{7, 1}, keyDigest{7, 2})
	for _, row := range []struct {
		name string
		got  []keyDigest
		same bool
	}{
		{"the other order", merged(keyDigest{7, 2}, keyDigest{7, 1}), true},
		{"the second key changed", merged(keyDigest{7, 1}, keyDigest{7, 3}), false},
		{"the first key changed", merged(keyDigest{7, 4}, keyDigest{7, 2}), false},
		{"the second key gone", merged(keyDigest{7, 1}), false},
	} {
		t.Run(row.name, func(t *testing.T) {
			require.Len(t, ab, 1, "one entry for both")
			require.Len(t, row.got, 1)
			assert.Equal(t, row.same, ab[0].value == row.got[0].value)
		})
	}
	assert.Equal(t, []keyDigest{{1, 9}, {2, 8}}, merged(keyDigest{2, 8}, keyDigest{1, 9}), "no collision: sorted, kept")
}

func TestViewOfIsWhatTheWorkloadUses(t *testing.T) {
	d := cmDigests(map[string]string{"a": "1", "b": "2"})
	v, ok := viewOf(&use{keys: []string{"a", "gone"}}, d)
	assert.True(t, ok)
	assert.Equal(t, objectView{"a": d.key("a"), "gone": absent}, v)
	v, ok = viewOf(&use{all: true}, d)
	assert.True(t, ok)
	assert.Equal(t, objectView{"*": hex64(d.full)}, v)
	_, ok = viewOf(&use{all: true}, nil)
	assert.False(t, ok, "a required object that does not exist: nothing to compare")
	v, ok = viewOf(&use{all: true, optional: true}, nil)
	assert.True(t, ok)
	assert.Equal(t, objectView{"*": absent}, v, "an optional one: its absence is what the pods run with")
}

func TestDecideWorkloadRestartsOnlyForKeysItUses(t *testing.T) {
	v1 := cmDigests(map[string]string{"log.level": "info", "other": "1"})
	v2 := cmDigests(map[string]string{"log.level": "info", "other": "2"}) // an unused key changed
	v3 := cmDigests(map[string]string{"log.level": "debug", "other": "2"})
	keyUse, allUse := &use{keys: []string{"log.level"}}, &use{all: true}
	view := func(u *use, d *digests) workloadView {
		v, _ := viewOf(u, d)
		return workloadView{"configmap/app-config": v}
	}
	for _, row := range []struct {
		name     string
		recorded string
		current  workloadView
		missing  []string
		previous workloadView
		pending  string
		want     workloadVerdictKind
		changed  []string
		record   workloadView
	}{
		{name: "first sight, no record: baseline", current: view(keyUse, v1), want: wBaseline, record: view(keyUse, v1)},
		{name: "record = what it uses: nothing", recorded: view(keyUse, v1).String(), current: view(keyUse, v1), want: wUnchanged, record: view(keyUse, v1)},
		{name: "a key it does not use changed: nothing", recorded: view(keyUse, v1).String(), current: view(keyUse, v2), want: wUnchanged, record: view(keyUse, v2)},
		{name: "the key it uses changed: restart", recorded: view(keyUse, v2).String(), current: view(keyUse, v3), want: wRestart,
			changed: []string{"configmap/app-config key log.level"}, record: view(keyUse, v3)},
		{name: "all keys used, any changed: restart", recorded: view(allUse, v1).String(), current: view(allUse, v2), want: wRestart,
			changed: []string{"configmap/app-config"}, record: view(allUse, v2)},
		{name: "a restart for this view is under way", recorded: view(keyUse, v2).String(), current: view(keyUse, v3), pending: view(keyUse, v3).String(), want: wPending,
			changed: []string{"configmap/app-config key log.level"}, record: view(keyUse, v3)},
		{name: "no record, changed just now in a key it uses: restart", current: view(keyUse, v3), previous: view(keyUse, v2), want: wRestart,
			changed: []string{"configmap/app-config key log.level"}, record: view(keyUse, v3)},
		{name: "no record, changed just now in a key it does not use: baseline", current: view(keyUse, v2), previous: view(keyUse, v1), want: wBaseline, record: view(keyUse, v2)},
		{name: "the spec now uses other keys (its pods rolled already): record, no restart", recorded: view(keyUse, v1).String(), current: view(allUse, v3), want: wRecord, record: view(allUse, v3)},
		{name: "a newly used object: record, no restart", recorded: `{}`, current: view(allUse, v1), want: wRecord, record: view(allUse, v1)},
		{name: "a required object deleted: its record is kept", recorded: view(allUse, v1).String(), current: workloadView{}, missing: []string{"configmap/app-config"},
			want: wUnchanged, record: view(allUse, v1)},
		{name: "...and created again with other content: restart", recorded: view(allUse, v1).String(), current: view(allUse, v3), want: wRestart,
			changed: []string{"configmap/app-config"}, record: view(allUse, v3)},
		{name: "an optional object created: restart", recorded: view(&use{all: true, optional: true}, nil).String(), current: view(&use{all: true, optional: true}, v1),
			want: wRestart, changed: []string{"configmap/app-config"}, record: view(&use{all: true, optional: true}, v1)},
		{name: "an unreadable record is no record", recorded: `{not json`, current: view(keyUse, v1), want: wBaseline, record: view(keyUse, v1)},
	} {
		t.Run(row.name, func(t *testing.T) {
			got := decideWorkload(row.recorded, row.current, nil, row.missing, row.previous, row.pending, nil, rules{})
			assert.Equal(t, row.want, got.kind)
			assert.Equal(t, row.changed, got.changed)
			assert.Equal(t, row.record, got.view)
		})
	}
}

func TestRecordedPresentIsSomeDigestNotAbsent(t *testing.T) {
	rec := workloadView{
		"configmap/whole":   {"*": "d1"},
		"configmap/gone":    {"*": absent},
		"configmap/keys":    {"a": absent, "b": "d2"},
		"configmap/no-keys": {"a": absent, "b": absent},
	}
	for ref, want := range map[string]bool{
		"configmap/whole": true, "configmap/gone": false, "configmap/keys": true,
		"configmap/no-keys": false, "configmap/never-recorded": false,
	} {
		assert.Equal(t, want, recordedPresent(rec, ref), ref)
	}
}
