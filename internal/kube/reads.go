// reads.go reads whole the listed objects whose content matters, while the list goes on:
// a metadata-only list of 100,000 ConfigMaps takes the API server and cuscon a second or
// more, and the thousand objects a real cluster annotates would take half as long again
// read after it (measured: 1.8 s list, then 0.65 s of reads, on 2 cores).

package kube

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
)

// readsInFlight bounds the reads at once: enough to hide their round trips, few enough
// that a list of thousands of annotated objects does not crowd out the list itself.
const readsInFlight = 16

// wholeReads reads objects by name in the background, a few at a time, as they are
// added; wait returns them once every one is read, or the first error, which is also
// handed to fail at once, so that the list that feeds them can stop.
type wholeReads struct {
	ctx      context.Context
	cancel   context.CancelFunc
	fail     func(error)
	client   *Client
	resource Resource

	mu      sync.Mutex
	more    *sync.Cond // signalled when an object is queued or no more will be
	rv      string     // the list's resourceVersion, once known
	queue   []queued
	closed  bool
	workers int
	wg      sync.WaitGroup
	objs    []*Object // in the order added; nil until read, or if deleted since
	err     error
}

// queued is an object to read and its place in objs.
type queued struct {
	n    int
	meta ObjectMeta
}

// newWholeReads returns reads of resource's objects, ended early by ctx or drop; fail
// is told the first read that fails.
func newWholeReads(ctx context.Context, c *Client, res Resource, fail func(error)) *wholeReads {
	ctx, cancel := context.WithCancel(ctx)
	r := &wholeReads{ctx: ctx, cancel: cancel, fail: fail, client: c, resource: res}
	r.more = sync.NewCond(&r.mu)
	return r
}

// from has the objects read at revision rv or later: the API server answers from its
// watch cache instead of asking etcd for its current revision first (about a third of
// the API server's CPU for the reads, measured), and the object is no older than the
// list it was found in, which is all the watch that follows the list needs. Only for a
// list the watch cache served: a revision read from etcd may be ahead of the cache,
// which would wait for it and then refuse.
func (r *wholeReads) from(rv string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rv == "" {
		r.rv = rv
	}
}

// add queues m to be read; it never waits for a read, so the list that found m goes on.
func (r *wholeReads) add(m ObjectMeta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, queued{n: len(r.objs), meta: m})
	r.objs = append(r.objs, nil)
	if r.workers < readsInFlight {
		r.workers++
		r.wg.Add(1)
		go r.work()
	}
	r.more.Signal()
}

// work reads queued objects until no more will come. After an error the rest of the
// queue is dropped unread: the first error is enough to say why the list is retried.
func (r *wholeReads) work() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		for len(r.queue) == 0 && !r.closed {
			r.more.Wait()
		}
		if len(r.queue) == 0 || r.err != nil {
			r.queue = nil
			r.mu.Unlock()
			return
		}
		q, rv := r.queue[0], r.rv
		r.queue = r.queue[1:]
		r.mu.Unlock()
		obj, err := r.get(q.meta, rv)
		if err != nil && rv != "" && IsTransient(err) && r.ctx.Err() == nil {
			// A cache behind the revision (another API server's) waits, then refuses;
			// read from etcd instead.
			obj, err = r.get(q.meta, "")
		}
		r.mu.Lock()
		switch {
		case err != nil && r.err == nil:
			r.err = err
			r.fail(err)
		default:
			r.objs[q.n] = obj
		}
		r.mu.Unlock()
	}
}

// get reads one object as it is at revision rv or later ("": now): nil if it was deleted
// since the list (the watch, which resumes from the list's resourceVersion, delivers its
// DELETED). One changed since may be read as it is now, and the watch delivers that
// change again, which a content hash takes as no change.
func (r *wholeReads) get(m ObjectMeta, rv string) (*Object, error) {
	// A list by name: the right to list is cuscon's, to get not always.
	var page struct {
		Items []*Object `json:"items"`
	}
	q := url.Values{"fieldSelector": {"metadata.name=" + m.Name}}
	if rv != "" {
		q.Set("resourceVersion", rv)
		q.Set("resourceVersionMatch", "NotOlderThan")
	}
	if err := r.client.Get(r.ctx, CollectionPath(r.resource, m.Namespace), q, &page); err != nil {
		return nil, fmt.Errorf("read %s %s/%s: %w", r.resource.Kind, m.Namespace, m.Name, err)
	}
	if len(page.Items) != 1 {
		return nil, nil
	}
	page.Items[0].Resource = r.resource
	return page.Items[0], nil
}

// wait returns every object read, in the order they were added, once all are; or the
// first error.
func (r *wholeReads) wait() ([]*Object, error) {
	r.mu.Lock()
	r.closed = true
	r.more.Broadcast()
	r.mu.Unlock()
	r.wg.Wait()
	r.cancel()
	if r.err != nil {
		return nil, r.err
	}
	return slices.DeleteFunc(r.objs, func(o *Object) bool { return o == nil }), nil
}

// drop ends the reads, those under way too, and forgets them: the list they came from
// failed or starts over.
func (r *wholeReads) drop() {
	r.cancel()
	r.mu.Lock()
	r.queue = nil
	r.closed = true
	r.more.Broadcast()
	r.mu.Unlock()
	r.wg.Wait()
}
