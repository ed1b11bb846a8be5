// digest.go keeps, for every ConfigMap and Secret in scope, a digest of its content and
// of each key, never the data: 16 bytes a key, so memory stays flat. A workload's view of
// an object is the digests of the keys it uses; what a workload was last restarted for
// is its view, recorded on the workload itself. Pure.

package reloader

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"slices"
	"sort"
	"strings"

	"cuscon/internal/kube"
)

// AppliedConfigsAnnotation records, on a workload, the view of each ConfigMap and Secret
// it was last restarted for (or first seen with): object → key ("*": all) → digest.
const AppliedConfigsAnnotation = "cuscon.dev/applied-configs"

// absent is the digest of an object or key that does not exist.
const absent = "absent"

// maxKeyDigests bounds the keys of one object that are digested one by one: 16 bytes
// each, so one object costs at most 4 KiB however many keys a tenant gives it. An object
// with more is digested whole, and each of its keys reads as the whole object's digest:
// any change to it then restarts every workload that uses it, as Reloader always does.
const maxKeyDigests = 256

// keyDigest is one key of an object: a hash of its name and a digest of its value.
type keyDigest struct{ key, value uint64 }

// digests is what is kept of one object's content.
type digests struct {
	full uint64      // all of data and binaryData
	keys []keyDigest // sorted by key; nil when coarse
	// coarse: the object has more than maxKeyDigests keys; only full is kept.
	coarse bool
	// keyID, for a Secret, names the installation's digest key (digestkey.go) its
	// digests were made with; they are written keyedPrefix+keyID+":"+digest, so that a
	// record made with no key, or another one, is told apart from a change.
	keyID string
	// legacy, for a Secret, are its digests as records made before digests were keyed
	// hold them, while such records may still be around (see Mode.legacy).
	legacy *digests
	// mark is the hash a restart's marker carries (markHash).
	mark [20]byte
}

// keyedPrefix starts every keyed digest in a record.
const keyedPrefix = "k"

// keyID names a digest key in the records made with it, without telling anything of it.
func keyID(key []byte) string {
	h := sha256.Sum256(append([]byte("cuscon digest key id\x00"), key...))
	return hex.EncodeToString(h[:2])
}

// digestsOf digests obj's data and binaryData. A Secret's digests are keyed with the
// installation's secret key, with its uid mixed in: a digest recorded on a workload
// (which more people may read than the Secret, and whose uid cuscon's own Events
// publish) lets nobody without the key test a guess of a value. A ConfigMap's are not
// keyed: whoever may read the workload may read the ConfigMap too. With legacy, a
// Secret's digests are also made as records before keying hold them (salted with the
// uid only), to compare such a record with the content once, before it is rewritten.
func digestsOf(obj *kube.Object, key []byte, legacy bool) digests {
	if obj.Resource != kube.Secrets {
		d := digestsWith(obj, func(s string) uint64 { return sum64("\x00" + s) })
		d.mark = markHash(obj, nil)
		return d
	}
	uid := obj.Metadata.UID
	mac := hmac.New(sha256.New, key)
	d := digestsWith(obj, func(s string) uint64 {
		mac.Reset()
		mac.Write([]byte(uid + "\x00" + s))
		return binary.BigEndian.Uint64(mac.Sum(nil)[:8])
	})
	d.keyID = keyID(key)
	d.mark = markHash(obj, key)
	if legacy {
		old := digestsWith(obj, func(s string) uint64 { return sum64(uid + "\x00" + s) })
		d.legacy = &old
	}
	return d
}

// digestsWith digests obj's content whole and key by key with sum.
func digestsWith(obj *kube.Object, sum func(string) uint64) digests {
	d := digests{full: sum(kube.ContentHash(obj))}
	if len(obj.Data)+len(obj.BinaryData) > maxKeyDigests {
		d.coarse = true
		return d
	}
	for _, m := range []map[string]string{obj.BinaryData, obj.Data} {
		for k, v := range m {
			d.keys = append(d.keys, keyDigest{key: nameHash(k), value: sum(k + "\x00" + v)})
		}
	}
	d.keys = mergeCollisions(d.keys)
	return d
}

// mergeCollisions sorts keys by name hash and gives names whose hashes collide one
// entry whose digest covers all their values, whatever order they came in: a change to
// any of them is seen, and none is dropped.
func mergeCollisions(keys []keyDigest) []keyDigest {
	slices.SortFunc(keys, func(a, b keyDigest) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.value, b.value))
	})
	out := keys[:0]
	for _, kd := range keys {
		if n := len(out); n > 0 && out[n-1].key == kd.key {
			out[n-1].value = sum64(hex64(out[n-1].value) + hex64(kd.value))
			continue
		}
		out = append(out, kd)
	}
	return out
}

// key returns the digest of key k as recorded, or absent. An object digested whole
// answers its whole digest for every key.
func (d *digests) key(k string) string {
	if d.coarse {
		return d.format(d.full)
	}
	h := nameHash(k)
	i := sort.Search(len(d.keys), func(i int) bool { return d.keys[i].key >= h })
	if i < len(d.keys) && d.keys[i].key == h {
		return d.format(d.keys[i].value)
	}
	return absent
}

// whole is the digest of the whole object, as recorded.
func (d *digests) whole() string { return d.format(d.full) }

// format writes a digest as recorded: 16 hex digits, after keyedPrefix and the key's id
// if keyed.
func (d *digests) format(v uint64) string {
	if d.keyID != "" {
		return keyedPrefix + d.keyID + ":" + hex64(v)
	}
	return hex64(v)
}

func sum64(s string) uint64 {
	h := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(h[:8])
}

func nameHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func hex64(v uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return hex.EncodeToString(b[:])
}

// objectView is what a workload sees of one object: key ("*" for all) → digest.
type objectView map[string]string

// viewOf is what u sees of an object whose digests are d (nil: the object does not
// exist). ok is false when the object is missing and required: the pods cannot have
// started without it, so there is nothing to compare (they start once it exists).
func viewOf(u *use, d *digests) (objectView, bool) {
	if d == nil && !u.optional {
		return nil, false
	}
	v := objectView{}
	switch {
	case u.all && d == nil:
		v["*"] = absent
	case u.all:
		v["*"] = d.whole()
	default:
		for _, k := range u.keys {
			v[k] = absent
			if d != nil {
				v[k] = d.key(k)
			}
		}
	}
	return v, true
}

// workloadView is a workload's view of every object it is restarted for, by
// "configmap/NAME" or "secret/NAME".
type workloadView map[string]objectView

// recordedPresent reports whether rec holds ref as existing: some digest, not absent.
func recordedPresent(rec workloadView, ref string) bool {
	for _, d := range rec[ref] {
		if d != absent {
			return true
		}
	}
	return false
}

// parseView reads the applied-configs annotation; ok is false if there is none or it
// cannot be read (then the workload is seen for the first time).
func parseView(s string) (workloadView, bool) {
	if s == "" {
		return nil, false
	}
	var v workloadView
	if json.Unmarshal([]byte(s), &v) != nil || v == nil {
		return nil, false
	}
	return v, true
}

// String is the annotation's value: JSON with sorted keys.
func (v workloadView) String() string {
	b, _ := json.Marshal(v)
	return string(b)
}

// changedKeys lists what differs between a recorded and a current view of one object,
// as "*" or key names; nil if nothing does, or if the two cannot be compared. Views of
// different keys are not compared: the workload's spec changed how it uses the object,
// which rolled its pods already. A record made before digests were keyed is compared
// with legacy (the current content digested as it was then), if there is one; one made
// with another digest key cannot be compared: it is recorded anew, restarting nothing.
func changedKeys(was, now, legacy objectView) []string {
	if len(was) != len(now) {
		return nil
	}
	for k := range now {
		if _, ok := was[k]; !ok {
			return nil
		}
	}
	var out []string
	for k, d := range now {
		w := was[k]
		switch {
		case w == d:
		case formOf(w) == formOf(d) || w == absent || d == absent:
			out = append(out, k)
		case formOf(w) == "" && legacy != nil: // recorded before keying: as it was digested then
			if legacy[k] != w {
				out = append(out, k)
			}
		default:
			return nil // another key, or a record before keying and no legacy digest: a new baseline
		}
	}
	slices.Sort(out)
	return out
}

// formOf is how a recorded digest was made: "" unkeyed, or the keyed prefix and the
// key's id.
func formOf(digest string) string {
	if !strings.HasPrefix(digest, keyedPrefix) {
		return ""
	}
	id, _, _ := strings.Cut(digest, ":")
	return id
}
