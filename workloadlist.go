// workloadlist.go lists the Deployments, StatefulSets and DaemonSets of a namespace (or
// of all) for the Reloader mode, one at a time and from the API server's watch cache,
// keeping none; and turns a workload's spec.selector into the label selector its pods
// are listed by.

package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// workloadKinds are the kinds the Reloader mode restarts, in the order they are listed.
var workloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet"}

// labelSelector is a workload's spec.selector.
type labelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels,omitempty"`
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values,omitempty"`
	} `json:"matchExpressions,omitempty"`
}

// String writes s as a label selector: k=v, k in (...), k notin (...), k, !k.
func (s *labelSelector) String() string {
	if s == nil {
		return ""
	}
	var parts []string
	for k, v := range s.MatchLabels {
		parts = append(parts, k+"="+v)
	}
	for _, e := range s.MatchExpressions {
		values := "(" + strings.Join(e.Values, ",") + ")"
		switch e.Operator {
		case "In":
			parts = append(parts, e.Key+" in "+values)
		case "NotIn":
			parts = append(parts, e.Key+" notin "+values)
		case "Exists":
			parts = append(parts, e.Key)
		case "DoesNotExist":
			parts = append(parts, "!"+e.Key)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// appsCollectionPath is the URL of one apps/v1 kind in ns, or in all namespaces ("").
func appsCollectionPath(kind, ns string) string {
	plural := strings.ToLower(kind) + "s"
	if ns == "" {
		return "/apis/apps/v1/" + plural
	}
	return "/apis/apps/v1/namespaces/" + url.PathEscape(ns) + "/" + plural
}

// listWorkloads calls fn with every Deployment, StatefulSet and DaemonSet in ns ("":
// all), page by page, one item at a time. resourceVersion=0 has the API server answer
// from its watch cache, without a round to etcd.
func listWorkloads(ctx context.Context, api *apiClient, ns string, fn func(*workloadObj)) error {
	for _, kind := range workloadKinds {
		q := url.Values{"limit": {"500"}, "resourceVersion": {"0"}}
		for {
			var meta listMeta
			err := api.getStream(ctx, appsCollectionPath(kind, ns), q, func(body io.Reader) error {
				var err error
				meta, err = decodeList(body, func(w *workloadObj) {
					w.Kind = kind
					fn(w)
				})
				return err
			})
			if err != nil {
				return fmt.Errorf("list %ss: %w", strings.ToLower(kind), err)
			}
			if meta.Continue == "" {
				break
			}
			q.Del("resourceVersion")
			q.Set("continue", meta.Continue)
		}
	}
	return nil
}
