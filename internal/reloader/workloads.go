// workloads.go lists the Deployments, StatefulSets and DaemonSets of a namespace (or of
// all) for the mode, one at a time and from the API server's watch cache, keeping none.

package reloader

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"cuscon/internal/kube"
)

// workloadKinds are the kinds the Reloader mode restarts, in the order they are listed.
var workloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet"}

// listWorkloads calls fn with every Deployment, StatefulSet and DaemonSet in ns ("":
// all), page by page, one item at a time. resourceVersion=0 has the API server answer
// from its watch cache, without a round to etcd.
func listWorkloads(ctx context.Context, c *kube.Client, ns string, fn func(*workloadObj)) error {
	for _, kind := range workloadKinds {
		_, err := kube.ListPages(ctx, c, kube.AppsCollectionPath(kind, ns), url.Values{"resourceVersion": {"0"}}, nil, func(w *workloadObj) {
			w.Kind = kind
			fn(w)
		})
		if err != nil {
			return fmt.Errorf("list %ss: %w", strings.ToLower(kind), err)
		}
	}
	return nil
}
