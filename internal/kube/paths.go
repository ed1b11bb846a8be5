// paths.go builds every path cuscon sends: core objects, apps workloads, Leases, and
// the eviction subresource. One place, each part escaped.

package kube

import (
	"net/url"
	"strings"
)

// CollectionPath is the URL of res in ns, or in every namespace when ns is "".
func CollectionPath(res Resource, ns string) string {
	if ns == "" {
		return "/api/v1/" + res.Plural
	}
	return "/api/v1/namespaces/" + url.PathEscape(ns) + "/" + res.Plural
}

// ObjectPath is the URL of one ConfigMap, Secret, Pod or Event.
func ObjectPath(res Resource, ns, name string) string {
	return CollectionPath(res, ns) + "/" + url.PathEscape(name)
}

// EvictionPath is the URL of p's eviction subresource.
func EvictionPath(p *Pod) string {
	return ObjectPath(Pods, p.Metadata.Namespace, p.Metadata.Name) + "/eviction"
}

// AppsPath is the URL of an apps/v1 object: a Deployment, StatefulSet, DaemonSet or
// ReplicaSet.
func AppsPath(kind, ns, name string) string {
	return AppsCollectionPath(kind, ns) + "/" + url.PathEscape(name)
}

// AppsCollectionPath is the URL of one apps/v1 kind in ns, or in all namespaces ("").
func AppsCollectionPath(kind, ns string) string {
	plural := strings.ToLower(kind) + "s"
	if ns == "" {
		return "/apis/apps/v1/" + plural
	}
	return "/apis/apps/v1/namespaces/" + url.PathEscape(ns) + "/" + plural
}

// LeasePath is the URL of a coordination.k8s.io/v1 Lease; with name "" the collection's.
func LeasePath(ns, name string) string {
	p := "/apis/coordination.k8s.io/v1/namespaces/" + url.PathEscape(ns) + "/leases"
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// DryRunQuery is the query of a write: dryRun=All in a dry run, else nothing.
func DryRunQuery(dryRun bool) url.Values {
	if dryRun {
		return url.Values{"dryRun": {"All"}}
	}
	return nil
}
