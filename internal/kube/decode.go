// decode.go reads what the API sends: watch streams, a sequence of JSON events, and list
// answers, whose items are decoded one at a time so that memory holds one object, never
// a page. No event may be larger than MaxEventBytes: a stream that never ends a value is
// refused instead of buffered without bound.

package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxEventBytes bounds one watch event or list item. The API server refuses objects over
// about 1.5 MiB, and JSON escaping can grow a ConfigMap of 1 MiB of control characters
// to 6 MiB, so no valid object reaches it.
const MaxEventBytes = 16 << 20

// ErrTooLarge ends a stream whose next value exceeds MaxEventBytes.
var ErrTooLarge = fmt.Errorf("a watch event or list item exceeds %d MiB; refused", MaxEventBytes>>20)

// WatchEvent is one object of a watch stream.
type WatchEvent struct {
	Type   string      `json:"type"`
	Object WatchObject `json:"object"`
}

// WatchObject is what an event carries: a ConfigMap or Secret (ADDED, MODIFIED,
// DELETED), just metadata.resourceVersion (BOOKMARK), or a Status (ERROR). One struct
// decodes all three.
type WatchObject struct {
	Object
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// DecodeEvents reads a watch stream and calls fn with each event until the stream ends
// (nil), breaks (a decode error), sends a value over MaxEventBytes, or fn returns an error.
func DecodeEvents(r io.Reader, fn func(*WatchEvent) error) error {
	br := &boundedReader{r: r, limit: MaxEventBytes}
	dec := json.NewDecoder(br)
	for {
		var ev WatchEvent
		if err := dec.Decode(&ev); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("decode watch event: %w", err)
		}
		br.mark(dec.InputOffset())
		if ev.Type == "" {
			return errors.New("decode watch event: no type")
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
}

// DecodeList reads a list answer ({"metadata": ..., "items": [...]}) and calls fn with
// each item in turn, holding one item at a time; it returns the list's metadata.
func DecodeList[T any](r io.Reader, fn func(*T)) (ListMeta, error) {
	return decodeList(r, nil, fn)
}

// decodeList is DecodeList that tells page, if not nil, the list's metadata as soon as
// it is read: the API server sends it before the items.
func decodeList[T any](r io.Reader, page func(ListMeta), fn func(*T)) (ListMeta, error) {
	var meta ListMeta
	br := &boundedReader{r: r, limit: MaxEventBytes}
	dec := json.NewDecoder(br)
	if err := expectDelim(dec, '{'); err != nil {
		return meta, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return meta, fmt.Errorf("decode list: %w", err)
		}
		switch key {
		case "metadata":
			if err = dec.Decode(&meta); err == nil && page != nil {
				page(meta)
			}
		case "items":
			err = decodeItems(dec, br, fn)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return meta, fmt.Errorf("decode list %v: %w", key, err)
		}
		br.mark(dec.InputOffset())
	}
	return meta, expectDelim(dec, '}')
}

// decodeItems reads a JSON array of objects, one at a time.
func decodeItems[T any](dec *json.Decoder, br *boundedReader, fn func(*T)) error {
	if tok, err := dec.Token(); err != nil || tok == nil {
		return err // null: no items
	} else if tok != json.Delim('[') {
		return fmt.Errorf("items: want an array, got %v", tok)
	}
	for dec.More() {
		var item T
		if err := dec.Decode(&item); err != nil {
			return err
		}
		br.mark(dec.InputOffset())
		fn(&item)
	}
	return expectDelim(dec, ']')
}

// expectDelim reads one token and checks that it is d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode list: %w", err)
	}
	if tok != d {
		return fmt.Errorf("decode list: want %v, got %v", d, tok)
	}
	return nil
}

// boundedReader fails once more than limit bytes have been read past the last value a
// decoder finished (see mark): the decoder buffers a value whole, so this bounds memory.
type boundedReader struct {
	r            io.Reader
	limit        int64
	read, marked int64 // bytes read in all; the decoder's offset at the last mark
}

func (b *boundedReader) Read(p []byte) (int, error) {
	room := b.limit - (b.read - b.marked)
	if room <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// mark says the decoder has consumed everything up to offset.
func (b *boundedReader) mark(offset int64) { b.marked = offset }

// idleReader cancels a stream that has sent nothing for timeout while being read: a
// half-open connection would otherwise block the watch for ever.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

// newIdleReader wraps r so that cancel is called if a Read waits longer than d.
func newIdleReader(r io.Reader, d time.Duration, cancel context.CancelFunc) *idleReader {
	t := time.AfterFunc(d, cancel)
	t.Stop()
	return &idleReader{r: r, timer: t, d: d}
}

func (ir *idleReader) Read(p []byte) (int, error) {
	ir.timer.Reset(ir.d)
	n, err := ir.r.Read(p)
	ir.timer.Stop()
	return n, err
}
