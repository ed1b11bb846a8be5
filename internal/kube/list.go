// list.go reads a collection page by page, one item at a time: the one pagination loop
// that pod lists, workload lists and the watcher's lists share; and the watcher's list,
// metadata-only where few objects' content matters, with those objects read whole after.

package kube

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"sync"
)

// pageSize is how many items one list request asks for; metadataPageSize the same for a
// metadata-only list, whose items are a tenth of a whole ConfigMap's or pod's size or
// less, so that a page's bytes stay about the same. Each page costs the API server a
// fixed part besides its items (about 25 ms on kube-apiserver 1.34 on 2 cores, measured:
// 100,000 ConfigMaps' metadata in 5.8 s at 500 a page, 1.7 s at 5,000).
const (
	pageSize         = 500
	metadataPageSize = 5000
)

// ListPages calls fn with every item of the collection at path that query selects,
// one at a time, and returns the list's resourceVersion. When a page's continue token
// has expired (410), the list starts over: restart, if not nil, is called first, so that
// the caller drops what it kept; without restart the expiry is an error.
func ListPages[T any](ctx context.Context, c *Client, path string, query url.Values, restart func(), fn func(*T)) (string, error) {
	return ListPagesAs(ctx, c, path, query, "", restart, fn)
}

// ListPagesAs is ListPages with an Accept header (AcceptMetadataList: metadata only).
func ListPagesAs[T any](ctx context.Context, c *Client, path string, query url.Values, accept string, restart func(), fn func(*T)) (string, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	limit := pageSize
	if accept == AcceptMetadataList {
		limit = metadataPageSize
	}
	q.Set("limit", strconv.Itoa(limit))
	for {
		var meta ListMeta
		err := c.GetStream(ctx, path, q, accept, func(body io.Reader) error {
			var err error
			meta, err = DecodeList(body, fn)
			return err
		})
		if Code(err) == 410 && q.Get("continue") != "" && restart != nil {
			restart()
			q.Del("continue")
			continue
		}
		if err != nil {
			return "", fmt.Errorf("list %s: %w", path, err)
		}
		if meta.Continue == "" {
			return meta.ResourceVersion, nil
		}
		// A continued list is served from etcd at the first page's revision: a
		// resourceVersion (the watch cache's) does not go with a continue token.
		q.Del("resourceVersion")
		q.Set("continue", meta.Continue)
	}
}

// List reads every object page by page and returns the summaries kept, with the
// resourceVersion to watch from.
func (w *Watcher[T]) List(ctx context.Context) ([]T, string, error) {
	var kept []T
	var restart func()
	var whole []ObjectMeta // ContentOf: the objects to read whole after the list
	restart = func() {
		w.log.Info("List continue token expired, listing again", "scope", w.scope.String())
		kept, whole = nil, nil
	}
	accept := ""
	if w.opts.MetadataOnly || w.opts.ContentOf != nil {
		accept = AcceptMetadataList
	}
	rv, err := ListPagesAs(ctx, w.client, CollectionPath(w.scope.Resource, w.scope.Namespace), w.query(), accept, restart, func(obj *Object) {
		obj.Resource = w.scope.Resource
		if w.opts.ContentOf != nil && w.opts.ContentOf(obj) {
			whole = append(whole, obj.Metadata)
			return
		}
		if item, keep := w.summarize(obj); keep {
			kept = append(kept, item)
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", w.scope, err)
	}
	objs, err := w.readWhole(ctx, whole)
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", w.scope, err)
	}
	for _, obj := range objs {
		if item, keep := w.summarize(obj); keep {
			kept = append(kept, item)
		}
	}
	return kept, rv, nil
}

// readWhole reads each listed object whose content is needed, a few at a time. One
// deleted since the list is left out: the watch, which resumes from the list's
// resourceVersion, delivers its DELETED. One changed since is read as it is now, and
// the watch delivers that change again, which a content hash takes as no change.
func (w *Watcher[T]) readWhole(ctx context.Context, metas []ObjectMeta) ([]*Object, error) {
	const inFlight = 16
	objs := make([]*Object, len(metas))
	errs := make([]error, len(metas))
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for i, m := range metas {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// A list by name: the right to list is cuscon's, to get not always.
			var page struct {
				Items []*Object `json:"items"`
			}
			q := url.Values{"fieldSelector": {"metadata.name=" + m.Name}}
			err := w.client.Get(ctx, CollectionPath(w.scope.Resource, m.Namespace), q, &page)
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("read %s %s/%s: %w", w.scope.Resource.Kind, m.Namespace, m.Name, err)
			case len(page.Items) == 1:
				page.Items[0].Resource = w.scope.Resource
				objs[i] = page.Items[0]
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first is enough to say why the list is retried
		}
	}
	return slices.DeleteFunc(objs, func(o *Object) bool { return o == nil }), nil
}
