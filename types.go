// types.go holds the few Kubernetes API shapes cuscon reads, with only the fields it uses,
// tagged with the API's own JSON names.

package main

import (
	"fmt"
	"strings"
)

// objectMeta is the part of metadata cuscon reads.
type objectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid"`
	ResourceVersion   string            `json:"resourceVersion"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	DeletionTimestamp *string           `json:"deletionTimestamp,omitempty"`
	OwnerReferences   []ownerReference  `json:"ownerReferences,omitempty"`
}

// ownerReference points at the object that owns this one; Controller marks the one
// that manages it (a ReplicaSet, StatefulSet, DaemonSet, Job...).
type ownerReference struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Controller *bool  `json:"controller,omitempty"`
}

// listMeta carries what a list answer says about the collection.
type listMeta struct {
	ResourceVersion string `json:"resourceVersion"`
	Continue        string `json:"continue"`
}

// resource is a kind of core/v1 object cuscon reads or writes: the ConfigMaps and
// Secrets whose annotation names pods, the pods, and Events.
type resource struct {
	Kind   string // as in an object reference: ConfigMap, Secret
	Plural string // as in a URL: configmaps, secrets
}

var (
	configMaps    = resource{Kind: "ConfigMap", Plural: "configmaps"}
	secrets       = resource{Kind: "Secret", Plural: "secrets"}
	podResource   = resource{Kind: "Pod", Plural: "pods"}
	eventResource = resource{Kind: "Event", Plural: "events"}
)

// source is a ConfigMap or a Secret: its metadata and its content. A Secret's data
// arrives base64-encoded, which is as good as plain text for hashing; it is never logged.
// The controller's watchers keep only Hash and drop the data (see watcher.keepData).
type source struct {
	Resource   resource          `json:"-"` // set by the watcher that saw it
	Hash       string            `json:"-"` // contentHash, set by the watcher that saw it
	Keys       *digests          `json:"-"` // per-key digests, in the Reloader mode (keydigest.go)
	Metadata   objectMeta        `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string]string `json:"binaryData,omitempty"`
}

// key names the source as plural/namespace/name, e.g. configmaps/default/frontend-config.
func (s *source) key() string {
	return s.Resource.Plural + "/" + s.Metadata.Namespace + "/" + s.Metadata.Name
}

// ref is the object reference Events point at.
func (s *source) ref() objectRef {
	return objectRef{APIVersion: "v1", Kind: s.Resource.Kind, Namespace: s.Metadata.Namespace, Name: s.Metadata.Name, UID: s.Metadata.UID}
}

// objectRef identifies an object, as an Event's involvedObject does.
type objectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
}

// pod is a Pod: who owns it, whether it is going away, has finished, or is Ready.
type pod struct {
	Metadata objectMeta `json:"metadata"`
	Status   struct {
		Phase      string `json:"phase"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

// ready reports whether p is Ready and not on its way out.
func (p *pod) ready() bool {
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

// podList is one page of a Pod list.
type podList struct {
	Metadata listMeta `json:"metadata"`
	Items    []pod    `json:"items"`
}

// controllerOf returns the owner that manages an object, or nil (a bare pod).
func controllerOf(m *objectMeta) *ownerReference {
	for i, o := range m.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return &m.OwnerReferences[i]
		}
	}
	return nil
}

// watchScope is what one watcher covers: a resource in one namespace, or in all ("").
type watchScope struct {
	resource  resource
	namespace string
}

// covers reports whether the object with key (see source.key) is in the scope.
func (s watchScope) covers(key string) bool {
	prefix := s.resource.Plural + "/"
	if s.namespace != "" {
		prefix += s.namespace + "/"
	}
	return strings.HasPrefix(key, prefix)
}

// String names the scope for logs, e.g. configmaps in "default".
func (s watchScope) String() string {
	if s.namespace == "" {
		return s.resource.Plural + " in all namespaces"
	}
	return fmt.Sprintf("%s in %q", s.resource.Plural, s.namespace)
}
