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

// AppsPath is the URL of a workload: an apps/v1 Deployment, StatefulSet, DaemonSet or
// ReplicaSet, a batch/v1 CronJob or Job, or an Argo Rollout.
func AppsPath(kind, ns, name string) string {
	return AppsCollectionPath(kind, ns) + "/" + url.PathEscape(name)
}

// AppsCollectionPath is the URL of one workload kind (see AppsPath) in ns, or in all
// namespaces ("").
func AppsCollectionPath(kind, ns string) string {
	prefix := "/apis/" + APIVersionOf(kind) + "/"
	plural := strings.ToLower(kind) + "s"
	if ns == "" {
		return prefix + plural
	}
	return prefix + "namespaces/" + url.PathEscape(ns) + "/" + plural
}

// APIVersionOf is the group/version of a workload kind: batch/v1 for CronJobs and Jobs,
// argoproj.io/v1alpha1 for Argo Rollouts, apps/v1 for the rest.
func APIVersionOf(kind string) string {
	switch kind {
	case "CronJob", "Job":
		return "batch/v1"
	case "Rollout":
		return "argoproj.io/v1alpha1"
	}
	return "apps/v1"
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
