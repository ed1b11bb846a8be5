// keydigest.go keeps, for every ConfigMap and Secret in scope, a digest of its content
// and of each key, never the data: 16 bytes a key, so memory stays flat. A workload's
// view of an object is the digests of the keys it uses; what a workload was last
// restarted for is its view, recorded on the workload itself. Pure.

package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"slices"
	"sort"
)

// appliedConfigsAnnotation records, on a workload, the view of each ConfigMap and Secret
// it was last restarted for (or first seen with): object → key ("*": all) → digest.
const appliedConfigsAnnotation = "cuscon.dev/applied-configs"

// absent is the digest of an object or key that does not exist.
const absent = "absent"

// keyDigest is one key of an object: a hash of its name and a digest of its value.
type keyDigest struct{ key, value uint64 }

// digests is what is kept of one object's content.
type digests struct {
	full uint64      // all of data and binaryData
	keys []keyDigest // sorted by key
}

// salted digests a Secret's values with its uid, so that a digest recorded on a workload
// (which more people may read than the Secret) cannot be tested against guesses without
// reading the Secret. A ConfigMap's are not salted.
func salt(obj *source) string {
	if obj.Resource == secrets {
		return obj.Metadata.UID
	}
	return ""
}

// digestsOf digests obj's data and binaryData; a key in both counts as in data.
func digestsOf(obj *source) digests {
	s := salt(obj)
	d := digests{full: sum64(s + "\x00" + contentHash(obj))}
	for _, m := range []map[string]string{obj.BinaryData, obj.Data} {
		for k, v := range m {
			d.keys = append(d.keys, keyDigest{key: nameHash(k), value: sum64(s + "\x00" + k + "\x00" + v)})
		}
	}
	slices.SortFunc(d.keys, func(a, b keyDigest) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	d.keys = slices.CompactFunc(d.keys, func(a, b keyDigest) bool { return a.key == b.key })
	return d
}

// key returns the digest of key k, or absent.
func (d *digests) key(k string) string {
	h := nameHash(k)
	i := sort.Search(len(d.keys), func(i int) bool { return d.keys[i].key >= h })
	if i < len(d.keys) && d.keys[i].key == h {
		return hex64(d.keys[i].value)
	}
	return absent
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
		v["*"] = hex64(d.full)
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
// as "*" or key names; nil if nothing does. Views of different keys are not compared:
// the workload's spec changed how it uses the object, which rolled its pods already.
func changedKeys(was, now objectView) []string {
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
		if was[k] != d {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
