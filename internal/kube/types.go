// types.go holds the few Kubernetes API shapes cuscon reads, with only the fields it uses,
// tagged with the API's own JSON names.

package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ObjectMeta is the part of metadata cuscon reads.
type ObjectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid"`
	ResourceVersion   string            `json:"resourceVersion"`
	Generation        int64             `json:"generation,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	DeletionTimestamp *string           `json:"deletionTimestamp,omitempty"`
	OwnerReferences   []OwnerReference  `json:"ownerReferences,omitempty"`
}

// OwnerReference points at the object that owns this one; Controller marks the one
// that manages it (a ReplicaSet, StatefulSet, DaemonSet, Job...).
type OwnerReference struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Controller *bool  `json:"controller,omitempty"`
}

// ListMeta carries what a list answer says about the collection.
type ListMeta struct {
	ResourceVersion string `json:"resourceVersion"`
	Continue        string `json:"continue"`
}

// Resource is a kind of core/v1 object cuscon reads or writes.
type Resource struct {
	Kind   string // as in an object reference: ConfigMap, Secret
	Plural string // as in a URL: configmaps, secrets
}

// The core/v1 resources cuscon uses.
var (
	ConfigMaps = Resource{Kind: "ConfigMap", Plural: "configmaps"}
	Secrets    = Resource{Kind: "Secret", Plural: "secrets"}
	Namespaces = Resource{Kind: "Namespace", Plural: "namespaces"}
	Pods       = Resource{Kind: "Pod", Plural: "pods"}
	Events     = Resource{Kind: "Event", Plural: "events"}
)

// Object is a ConfigMap or a Secret: its metadata and its content. A Secret's data
// arrives base64-encoded, which is as good as plain text for hashing; it is never logged.
type Object struct {
	Resource   Resource          `json:"-"` // set by the watcher that saw it
	Metadata   ObjectMeta        `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string]string `json:"binaryData,omitempty"`
}

// Key names the object as plural/namespace/name, e.g. configmaps/default/frontend-config.
func (o *Object) Key() string { return Key(o.Resource, o.Metadata.Namespace, o.Metadata.Name) }

// Key is plural/namespace/name.
func Key(res Resource, ns, name string) string { return res.Plural + "/" + ns + "/" + name }

// Ref is the object reference Events point at.
func (o *Object) Ref() ObjectRef {
	return ObjectRef{APIVersion: "v1", Kind: o.Resource.Kind, Namespace: o.Metadata.Namespace, Name: o.Metadata.Name, UID: o.Metadata.UID}
}

// ContentHash is a digest of an object's data and binaryData, independent of key order:
// what cuscon compares to tell a change of content from a change of metadata.
func ContentHash(o *Object) string {
	h := sha256.New()
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"data", o.Data}, {"binaryData", o.BinaryData}} {
		keys := slices.Sorted(maps.Keys(part.m))
		fmt.Fprintf(h, "%s:%d\n", part.name, len(keys))
		for _, k := range keys {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(part.m[k]), part.m[k])
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ObjectRef identifies an object, as an Event's involvedObject does.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
}

// Pod is a Pod: who owns it, whether it is going away, has finished, or is Ready.
type Pod struct {
	Metadata ObjectMeta `json:"metadata"`
	Status   struct {
		Phase      string `json:"phase"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

// Ready reports whether p is Ready and not on its way out.
func (p *Pod) Ready() bool {
	if p.Metadata.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// ControllerOf returns the owner that manages an object, or nil (a bare pod).
func ControllerOf(m *ObjectMeta) *OwnerReference {
	for i, o := range m.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return &m.OwnerReferences[i]
		}
	}
	return nil
}

// Workload names a Deployment, StatefulSet, DaemonSet (or ReplicaSet), CronJob, Job or
// Argo Rollout in a namespace.
type Workload struct {
	Kind, Namespace, Name string
}

// String is Kind/Name, as kubectl writes it.
func (w Workload) String() string { return w.Kind + "/" + w.Name }

// Ref is the object reference of w, for Events.
func (w Workload) Ref() ObjectRef {
	return ObjectRef{APIVersion: APIVersionOf(w.Kind), Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}
}

// Path is w's URL.
func (w Workload) Path() string { return AppsPath(w.Kind, w.Namespace, w.Name) }

// Scope is what one watcher covers: a resource in one namespace, or in all ("").
type Scope struct {
	Resource  Resource
	Namespace string
}

// Covers reports whether the object with key (see Object.Key) is in the scope.
func (s Scope) Covers(key string) bool {
	prefix := s.Resource.Plural + "/"
	if s.Namespace != "" {
		prefix += s.Namespace + "/"
	}
	return strings.HasPrefix(key, prefix)
}

// String names the scope for logs, e.g. configmaps in "default".
func (s Scope) String() string {
	if s.Namespace == "" {
		return s.Resource.Plural + " in all namespaces"
	}
	return fmt.Sprintf("%s in %q", s.Resource.Plural, s.Namespace)
}
