// types.go holds the few Kubernetes API shapes cuscon reads, with only the fields it uses,
// tagged with the API's own JSON names.
package main

// objectMeta is the part of metadata cuscon reads.
type objectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid"`
	ResourceVersion   string            `json:"resourceVersion"`
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

// configMap is a ConfigMap: its metadata and its content.
type configMap struct {
	Metadata   objectMeta        `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string]string `json:"binaryData,omitempty"`
}

// key names the ConfigMap as namespace/name.
func (cm *configMap) key() string { return cm.Metadata.Namespace + "/" + cm.Metadata.Name }

// configMapList is one page of a ConfigMap list.
type configMapList struct {
	Metadata listMeta    `json:"metadata"`
	Items    []configMap `json:"items"`
}

// pod is a Pod: who owns it, whether it is going away, whether it has finished.
type pod struct {
	Metadata objectMeta `json:"metadata"`
	Status   struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

// podList is one page of a Pod list.
type podList struct {
	Metadata listMeta `json:"metadata"`
	Items    []pod    `json:"items"`
}

// controllerOf returns the owner that manages p (Kind/Name), or "" for a bare pod.
func controllerOf(p *pod) string {
	for _, o := range p.Metadata.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.Kind + "/" + o.Name
		}
	}
	return ""
}
