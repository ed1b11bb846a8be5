// list.go reads a collection page by page, one item at a time: the one pagination loop
// that pod lists, workload lists and the watcher's lists share.

package kube

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// pageSize is how many items one list request asks for.
const pageSize = 500

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
	q.Set("limit", strconv.Itoa(pageSize))
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
