// index.go is what the mode knows of the ConfigMaps and Secrets in scope: per namespace,
// their ignore and match annotations and the digests of their content, never the data.

package reloader

import (
	"maps"
	"strings"

	"cuscon/internal/kube"
)

// nsObjects is what is known of one namespace's ConfigMaps and Secrets, by
// "configmaps/NAME" or "secrets/NAME".
type nsObjects map[string]sourceInfo

func (o nsObjects) get(res kube.Resource, name string) (sourceInfo, bool) {
	info, ok := o[res.Plural+"/"+name]
	return info, ok
}

func (o nsObjects) names(res kube.Resource) []string {
	var out []string
	for key := range o {
		if name, ok := strings.CutPrefix(key, res.Plural+"/"); ok {
			out = append(out, name)
		}
	}
	return out
}

// Seen is what the mode keeps of one ConfigMap or Secret: who it is, its ignore and
// match annotations, and the digests of its content.
type Seen struct {
	res       kube.Resource
	namespace string
	name      string
	info      sourceInfo
	// confirmed: a deletion the API confirmed (see Mode.Changed).
	confirmed bool
}

// Summarize digests obj (with the mode's digest key, for a Secret) for the mode to keep.
func (m *Mode) Summarize(obj *kube.Object) Seen {
	key := m.key.Load()
	if key == nil {
		return Summarize(obj, m.rules.keys, nil, false)
	}
	return Summarize(obj, m.rules.keys, *key, m.legacy.Load())
}

// Summarize digests obj, a Secret with key (and, with legacy, as records made before
// keying hold them), into what the mode keeps of it, with its ignore and match
// annotations as keys name them. A Secret without a key is kept as unknown: it is
// compared once the key is there.
func Summarize(obj *kube.Object, keys Keys, key []byte, legacy bool) Seen {
	a := obj.Metadata.Annotations
	s := Seen{res: obj.Resource, namespace: obj.Metadata.Namespace, name: obj.Metadata.Name,
		info: sourceInfo{ignore: a[keys.Ignore] == "true", match: a[keys.Match] == "true", staging: stagingOf(a)}}
	if obj.Resource == kube.Secrets && key == nil {
		s.info.unknown = true
		return s
	}
	d := digestsOf(obj, key, legacy)
	s.info.d = &d
	return s
}

// key is plural/namespace/name.
func (s Seen) key() string { return kube.Key(s.res, s.namespace, s.name) }

// putLocked stores (or, with info nil, forgets) what is known of obj; mu must be held.
// It returns what was known before.
func (r *Mode) putLocked(s Seen, info *sourceInfo) (sourceInfo, bool) {
	ns, key := s.namespace, s.res.Plural+"/"+s.name
	objs := r.index[ns]
	prev, had := objs[key]
	if info != nil {
		delete(r.gone, kube.Key(s.res, ns, s.name)) // there again
	}
	switch {
	case info != nil && objs == nil:
		r.index[ns] = nsObjects{key: *info}
	case info != nil:
		objs[key] = *info
	default:
		delete(objs, key)
		if len(objs) == 0 {
			delete(r.index, ns)
		}
	}
	return prev, had
}

// snapshot copies what is known of namespace ns, for a check to read without the lock,
// as it was before the changes still waiting for the next check: those are that
// check's to compare (a workload first seen now is recorded with what came before them,
// not with what they brought).
func (r *Mode) snapshot(ns string) nsObjects {
	r.mu.Lock()
	defer r.mu.Unlock()
	objs := maps.Clone(r.index[ns])
	if objs == nil {
		objs = nsObjects{}
	}
	if pending := r.work[ns]; pending != nil {
		for key, c := range pending.changed {
			plural, rest, _ := strings.Cut(key, "/")
			_, name, _ := strings.Cut(rest, "/")
			if c.was == nil {
				delete(objs, plural+"/"+name)
				continue
			}
			info := objs[plural+"/"+name]
			info.d, info.unknown, info.left = c.was, false, false
			objs[plural+"/"+name] = info
		}
	}
	return objs
}

// dropLegacyLocked forgets the legacy digests of every Secret: every record made before
// keying has been rewritten. mu must be held.
func (r *Mode) dropLegacyLocked() {
	for _, objs := range r.index {
		for key, info := range objs {
			if info.d != nil && info.d.legacy != nil {
				d := *info.d
				d.legacy = nil
				info.d = &d
				objs[key] = info
			}
		}
	}
}
