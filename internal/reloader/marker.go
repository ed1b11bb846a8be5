// marker.go is what a restart writes on a workload's pod template, as stakater/Reloader
// writes it, so that dashboards, runbooks and Reloader's own tests see a reload where
// they look for one: a STAKATER_<NAME>_<TYPE> variable holding the content's hash
// (env-vars), the reloader.stakater.com/last-reloaded-from annotation (annotations), or
// kubectl rollout restart's stamp (rollout). Pure: the edit is computed from the
// template as read, and written as a JSON patch that fails if the workload changed.

package reloader

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cuscon/internal/kube"
	"cuscon/internal/restart"
)

// LastReloadedFromAnnotation is the pod-template annotation of the annotations strategy.
const LastReloadedFromAnnotation = "reloader.stakater.com/last-reloaded-from"

// deletedHash is the hash Reloader writes for an object that was deleted: SHA-1 of
// "__RELOADER_EMPTY_DELETE_MARKER__".
const deletedHash = "aae45badef99284e4dae01d6046154ea9d99532f"

// markHash is the hash a marker carries of obj's content. A ConfigMap's is Reloader's:
// SHA-1 of its "key=value" strings (binaryData base64), sorted and joined with ";". A
// Secret's is keyed with the installation's digest key, and the Secret's namespace and
// name: the pod template is read by many who may not read the Secret, and an unkeyed
// hash of a low-entropy value is the value.
func markHash(obj *kube.Object, key []byte) [20]byte {
	var parts []string
	for k, v := range obj.Data {
		if obj.Resource == kube.Secrets {
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				v = string(b)
			}
		}
		parts = append(parts, k+"="+v)
	}
	for k, v := range obj.BinaryData {
		parts = append(parts, k+"="+v) // the API sends binaryData base64-encoded already
	}
	slices.Sort(parts)
	joined := strings.Join(parts, ";")
	if obj.Resource != kube.Secrets {
		return sha1.Sum([]byte(joined))
	}
	mac := hmac.New(sha1.New, key)
	mac.Write([]byte(obj.Metadata.Namespace + "/" + obj.Metadata.Name + "\x00" + joined))
	var out [20]byte
	copy(out[:], mac.Sum(nil))
	return out
}

// EnvName is the variable the env-vars strategy writes for an object: STAKATER_, the
// name upper-cased with every run of other characters than A-Z and 0-9 made one "_"
// (none before the first letter or digit), then _CONFIGMAP or _SECRET.
func EnvName(res kube.Resource, name string) string {
	var b strings.Builder
	b.WriteString("STAKATER_")
	gap := false
	wrote := false
	for _, r := range strings.ToUpper(name) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			if gap && wrote {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			gap, wrote = false, true
			continue
		}
		gap = true
	}
	if gap && wrote {
		b.WriteByte('_')
	}
	b.WriteString("_" + strings.ToUpper(res.Kind))
	return b.String()
}

// reloaderEnv matches the variables Reloader's env-vars strategy writes for ConfigMaps
// and Secrets: those of objects a workload no longer uses are removed (Reloader leaves
// them, its #1123).
var reloaderEnv = regexp.MustCompile(`^STAKATER_[A-Z0-9_]+_(CONFIGMAP|SECRET)$`)

// markSource is one object a restart is for.
type markSource struct {
	res  kube.Resource
	name string
	hash string // hex; deletedHash when it was deleted
	// containers use the object (in the order of the pod spec); the marker goes there,
	// or into the first container when none does (an init container, or only named).
	containers []string
}

// markEdit is a change to a pod template (and the workload's own annotations).
type markEdit struct {
	// annotations to set on the pod template.
	annotations map[string]string
	// env: per container, variables to set.
	env map[string]map[string]string
	// keepEnv, with env, are Reloader variables still in use; the others are removed.
	keepEnv map[string]bool
	// meta are annotations to set on the workload's own metadata.
	meta map[string]string
}

// reloaderType is Reloader's name of a kind in its markers.
func reloaderType(res kube.Resource) string { return strings.ToUpper(res.Kind) }

// lastReloadedFrom is the value of the annotations strategy's marker.
type lastReloadedFrom struct {
	Type          string   `json:"type"`
	Name          string   `json:"name"`
	Namespace     string   `json:"namespace"`
	Hash          string   `json:"hash"`
	ContainerRefs []string `json:"containerRefs"`
	ObservedAt    int64    `json:"observedAt"`
}

// markFor is the edit of strategy for sources (sorted, at least one) on a workload in
// namespace ns whose pod template has containers; using lists the variables of every
// object the workload is restarted for, which env-vars keeps.
func markFor(strategy, ns string, sources []markSource, containers []string, using []string, now time.Time) markEdit {
	e := markEdit{}
	into := func(s markSource) []string {
		if len(s.containers) > 0 {
			return s.containers
		}
		if len(containers) > 0 {
			return containers[:1]
		}
		return nil
	}
	switch strategy {
	case StrategyEnvVars:
		e.env, e.keepEnv = map[string]map[string]string{}, map[string]bool{}
		for _, n := range using {
			e.keepEnv[n] = true
		}
		for _, s := range sources {
			name := EnvName(s.res, s.name)
			e.keepEnv[name] = true
			for _, c := range into(s) {
				if e.env[c] == nil {
					e.env[c] = map[string]string{}
				}
				e.env[c][name] = s.hash
			}
		}
	case StrategyAnnotations:
		s := sources[0]
		v, _ := json.Marshal(lastReloadedFrom{Type: reloaderType(s.res), Name: s.name, Namespace: ns, Hash: s.hash,
			ContainerRefs: into(s), ObservedAt: now.Unix()})
		e.annotations = map[string]string{LastReloadedFromAnnotation: string(v)}
	default:
		e.annotations = map[string]string{restart.RestartedAtAnnotation: now.Format(time.RFC3339Nano)}
	}
	return e
}

// template is the part of a fetched pod template an edit reads: its annotations and
// each container's name and variables, which are kept whole.
type template struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Containers []struct {
			Name string            `json:"name"`
			Env  []json.RawMessage `json:"env"`
		} `json:"containers"`
	} `json:"spec"`
}

// patchOp is one operation of a JSON patch (RFC 6902).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// pointer escapes a key for a JSON pointer.
func pointer(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// patchFor writes e as a JSON patch of a workload whose resourceVersion is rv, whose own
// annotations are meta and whose pod template t is at path at (e.g. /spec/template).
// The patch first tests rv: a workload changed since it was read is not patched.
func patchFor(e markEdit, rv string, meta map[string]string, at string, t *template) []patchOp {
	ops := []patchOp{{Op: "test", Path: "/metadata/resourceVersion", Value: rv}}
	ops = append(ops, annotationOps("/metadata/annotations", meta, e.meta)...)
	ops = append(ops, annotationOps(at+"/metadata/annotations", t.Metadata.Annotations, e.annotations)...)
	if e.env == nil {
		return ops
	}
	for i, c := range t.Spec.Containers {
		env, changed := editEnv(c.Env, e.env[c.Name], e.keepEnv)
		if changed {
			ops = append(ops, patchOp{Op: "add", Path: at + "/spec/containers/" + strconv.Itoa(i) + "/env", Value: env})
		}
	}
	return ops
}

// annotationOps sets set on the annotations have (at path), adding the map if missing.
func annotationOps(path string, have, set map[string]string) []patchOp {
	if len(set) == 0 {
		return nil
	}
	if have == nil {
		return []patchOp{{Op: "add", Path: path, Value: set}}
	}
	var ops []patchOp
	for _, k := range slices.Sorted(maps.Keys(set)) {
		ops = append(ops, patchOp{Op: "add", Path: path + "/" + pointer(k), Value: set[k]})
	}
	return ops
}

// editEnv sets the variables set in env (a container's list, each kept as read), appends
// those missing, and removes Reloader variables not in keep; changed is false when
// nothing differs.
func editEnv(env []json.RawMessage, set map[string]string, keep map[string]bool) ([]json.RawMessage, bool) {
	out := make([]json.RawMessage, 0, len(env)+len(set))
	done := map[string]bool{}
	changed := false
	for _, raw := range env {
		var v struct {
			Name  string  `json:"name"`
			Value *string `json:"value"`
		}
		_ = json.Unmarshal(raw, &v)
		want, setting := set[v.Name]
		switch {
		case setting:
			done[v.Name] = true
			if v.Value == nil || *v.Value != want {
				raw, changed = envVar(v.Name, want), true
			}
		case reloaderEnv.MatchString(v.Name) && keep != nil && !keep[v.Name]:
			changed = true
			continue
		}
		out = append(out, raw)
	}
	for _, name := range slices.Sorted(maps.Keys(set)) {
		if !done[name] {
			out, changed = append(out, envVar(name, set[name])), true
		}
	}
	return out, changed
}

func envVar(name, value string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"name": name, "value": value})
	return b
}

// hexHash writes a marker hash.
func hexHash(h [20]byte) string { return hex.EncodeToString(h[:]) }
