// record_test.go tests the record a workload carries of what it was restarted
// for, as tables: it reads back as written, an unreadable one is a first sight, and only
// the keys a workload uses decide whether a change concerns it.

package reloader

import (
	"testing"

	"cuscon/internal/kube"

	"github.com/stretchr/testify/assert"
)

func TestTheRecordReadsBackAsWrittenAndABadOneIsAFirstSight(t *testing.T) {
	v := workloadView{"configmap/app": {"log.level": "00ff00ff00ff00ff"}, "secret/db": {"*": "1111222233334444"}}
	back, ok := parseView(v.String())
	assert.True(t, ok)
	assert.Equal(t, v, back)
	assert.Equal(t, `{"configmap/app":{"log.level":"00ff00ff00ff00ff"},"secret/db":{"*":"1111222233334444"}}`, v.String(),
		"sorted keys: the same view is always the same annotation, so rewriting it changes nothing")
	for _, bad := range []string{"", "null", "{not json", `["a"]`, `{"configmap/app":"x"}`} {
		_, ok := parseView(bad)
		assert.False(t, ok, "%q reads as no record: a baseline, not a restart", bad)
	}
}

func TestOnlyTheKeysAWorkloadUsesDecideWhetherItChanged(t *testing.T) {
	for _, row := range []struct {
		name     string
		was, now objectView
		want     []string
	}{
		{"nothing changed", objectView{"a": "1", "b": "2"}, objectView{"a": "1", "b": "2"}, nil},
		{"one key of two", objectView{"a": "1", "b": "2"}, objectView{"a": "1", "b": "3"}, []string{"b"}},
		{"both, sorted", objectView{"b": "2", "a": "1"}, objectView{"a": "9", "b": "8"}, []string{"a", "b"}},
		{"the whole object", objectView{"*": "1"}, objectView{"*": "2"}, []string{"*"}},
		{"a key appeared where it was absent", objectView{"a": absent}, objectView{"a": "5"}, []string{"a"}},
		{"it now reads another key: the spec changed, which rolled it already", objectView{"a": "1"}, objectView{"b": "1"}, nil},
		{"it now reads more keys", objectView{"a": "1"}, objectView{"a": "2", "b": "1"}, nil},
		{"from the whole object to one key", objectView{"*": "1"}, objectView{"a": "1"}, nil},
	} {
		t.Run(row.name, func(t *testing.T) {
			assert.Equal(t, row.want, changedKeys(row.was, row.now, nil))
		})
	}
}

func TestDigestsAreSmallAndStable(t *testing.T) {
	d1 := cmDigests(map[string]string{"k": "v"})
	d2 := cmDigests(map[string]string{"k": "v"})
	assert.Equal(t, d1.key("k"), d2.key("k"), "the same value, the same digest: a restart of cuscon changes nothing")
	assert.Equal(t, d1.full, d2.full)
	big := cmDigests(map[string]string{"k": string(make([]byte, 1<<20))})
	assert.Len(t, big.key("k"), 16, "a 1 MiB value is kept as 16 hex digits")
	assert.NotEqual(t, cmDigests(map[string]string{"k": "v", "l": ""}).full, d1.full, "an empty key is still a key")
	assert.NotEqual(t, cmDigests(map[string]string{"kv": ""}).full, cmDigests(map[string]string{"k": "v"}).full,
		"names and values cannot run into each other")
}

func TestRecordsMadeBeforeKeyingOrWithAnotherKeyAreComparedOnlyWhereTheyCanBe(t *testing.T) {
	const old = "04ccd761c4ad7d3d"                          // as records before keying hold a digest
	now := objectView{"password": "k1a2b:9f1e2d3c4b5a6978"} // keyed with key 1a2b
	for _, row := range []struct {
		name   string
		was    objectView
		legacy objectView
		want   []string
	}{
		{"before keying, the content as it was then: the same, rewritten keyed", objectView{"password": old}, objectView{"password": old}, nil},
		{"before keying, the content changed since: a change", objectView{"password": old}, objectView{"password": "0000000000000001"}, []string{"password"}},
		{"before keying, no legacy digest left: a new baseline", objectView{"password": old}, nil, nil},
		{"keyed with another key: a new baseline", objectView{"password": "kffff:9f1e2d3c4b5a6978"}, nil, nil},
		{"keyed with the same key, another value: a change", objectView{"password": "k1a2b:0000000000000001"}, nil, []string{"password"}},
		{"a key that appears is a change", objectView{"password": absent}, nil, []string{"password"}},
	} {
		t.Run(row.name, func(t *testing.T) { assert.Equal(t, row.want, changedKeys(row.was, now, row.legacy)) })
	}
}

func TestASecretChangedWhileCusconWasUpgradedStillRestartsItsWorkloads(t *testing.T) {
	secret := func(pw string) *kube.Object {
		return &kube.Object{Resource: kube.Secrets, Metadata: kube.ObjectMeta{UID: "u1"}, Data: map[string]string{"password": pw}}
	}
	// as cuscon recorded it before keying: unkeyed, salted with the uid
	recorded := workloadView{"secret/db": {"password": hex64(sum64("u1\x00password\x00aHVudGVyMg=="))}}.String()
	use := &use{keys: []string{"password"}}
	verdict := func(pw string) workloadVerdict {
		d := digestsOf(secret(pw), []byte("key"), true)
		current, _ := viewOf(use, &d)
		legacy, _ := viewOf(use, d.legacy)
		return decideWorkload(recorded, workloadView{"secret/db": current}, workloadView{"secret/db": legacy}, nil, nil, "", nil, rules{})
	}
	assert.Equal(t, wRecord, verdict("aHVudGVyMg==").kind, "unchanged: the record is rewritten keyed, nothing restarted")
	rotated := verdict("c3Vuc2hpbmUx")
	assert.Equal(t, wRestart, rotated.kind, "rotated during the upgrade: restarted")
	assert.Equal(t, []string{"secret/db key password"}, rotated.changed)
}

func TestARecordMadeWithAnotherDigestKeyIsRecordedAnew(t *testing.T) {
	secret := &kube.Object{Resource: kube.Secrets, Metadata: kube.ObjectMeta{UID: "u1"}, Data: map[string]string{"password": "x"}}
	use := &use{keys: []string{"password"}}
	lost, _ := viewOf(use, ptr(digestsOf(secret, []byte("the key that was lost"), false)))
	fresh, _ := viewOf(use, ptr(digestsOf(secret, []byte("a new key"), false)))
	v := decideWorkload(workloadView{"secret/db": lost}.String(), workloadView{"secret/db": fresh}, nil, nil, nil, "", nil, rules{})
	assert.Equal(t, wRecord, v.kind, "a lost key restarts nothing")
	assert.Equal(t, []string{"secret/db"}, v.anew, "and says so")
}

func ptr[T any](v T) *T { return &v }
