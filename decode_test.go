// decode_test.go fuzzes the watch event decoder: whatever bytes the stream carries, it
// must return an error or well-formed events, and never panic (the seed corpus is in
// testdata/fuzz/FuzzDecodeEvents); and it benchmarks the decoder on a stream recorded
// from a real apiserver.

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`{"type":"MODIFIED","object":{"kind":"ConfigMap","metadata":{"name":"a","namespace":"default","resourceVersion":"7","annotations":{"magalix.com/podDeleteMatch":"app=x"}},"data":{"k":"v"}}}` + "\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		n := 0
		err := decodeEvents(bytes.NewReader(stream), func(ev *watchEvent) error {
			n++
			if ev.Type == "" {
				t.Fatalf("event %d has no type", n)
			}
			_ = contentHash(&ev.Object.source)
			return nil
		})
		if err == nil && len(bytes.TrimSpace(stream)) > 0 && n == 0 {
			t.Fatalf("non-empty stream %q decoded to no events and no error", stream)
		}
	})
}

// recordedStream is a watch stream recorded from a real kube-apiserver 1.34: 100 ADDED
// and 100 MODIFIED events of ConfigMaps carrying about 1 KiB of data each, 1 in 100
// annotated.
const recordedStream = "testdata/watch-1kib.jsonl"

// BenchmarkDecodeEvents measures the watch decoder alone on the recorded stream:
// bytes/s, events/s and allocations per event.
func BenchmarkDecodeEvents(b *testing.B) {
	benchmarkStream(b, func(*watchEvent) {})
}

// BenchmarkDecodeAndDecide adds the controller's decision for each event, the whole
// work cuscon does for a ConfigMap nobody changed in a way that matters.
func BenchmarkDecodeAndDecide(b *testing.B) {
	log, _ := newLogger(io.Discard, "text", slog.LevelInfo)
	c := &controller{log: log, annotation: selectorKey, policy: policy{strategy: "delete"}, leading: func() bool { return true },
		sched: newScheduler(0, log), metrics: newMetrics(), state: map[string]objState{}}
	ctx := context.Background()
	benchmarkStream(b, func(ev *watchEvent) {
		ev.Object.Resource = configMaps
		ev.Object.Hash = contentHash(&ev.Object.source)
		c.changed(ctx, ev.Type, &ev.Object.source)
	})
}

func benchmarkStream(b *testing.B, handle func(*watchEvent)) {
	stream, err := os.ReadFile(recordedStream)
	if err != nil {
		b.Fatal(err)
	}
	events := bytes.Count(stream, []byte("\n"))
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		err := decodeEvents(bytes.NewReader(stream), func(ev *watchEvent) error {
			handle(ev)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	total := float64(events) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/event")
}

func TestListPagesAreDecodedOneItemAtATime(t *testing.T) {
	page := `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"next"},
	  "items":[{"metadata":{"name":"a","annotations":{"k":"v"}},"data":{"x":"1"}},{"metadata":{"name":"b"}}]}`
	var names []string
	meta, err := decodeList(strings.NewReader(page), func(s *source) { names = append(names, s.Metadata.Name) })
	require.NoError(t, err)
	assert.Equal(t, listMeta{ResourceVersion: "42", Continue: "next"}, meta)
	assert.Equal(t, []string{"a", "b"}, names)

	_, err = decodeList(strings.NewReader(`{"metadata":{},"items":null}`), func(*source) { t.Fatal("no items") })
	assert.NoError(t, err)
	for _, bad := range []string{`[]`, `{"items":{}}`, `{"items":[{"metadata":`, `{"metadata":{}`} {
		_, err := decodeList(strings.NewReader(bad), func(*source) {})
		assert.Error(t, err, bad)
	}
}

func TestAnEventLargerThanTheCapIsRefusedNotBuffered(t *testing.T) {
	huge := `{"type":"ADDED","object":{"metadata":{"name":"big"},"data":{"k":"` + strings.Repeat("x", maxEventBytes) + `"}}}`
	n := 0
	err := decodeEvents(strings.NewReader(`{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"1"}}}`+"\n"+huge),
		func(*watchEvent) error { n++; return nil })
	assert.ErrorIs(t, err, errTooLarge)
	assert.Equal(t, 1, n, "the events before it are handed on")

	_, err = decodeList(strings.NewReader(`{"metadata":{},"items":[`+huge[strings.Index(huge, `{"metadata"`):len(huge)-1]+`]}`), func(*source) {})
	assert.ErrorIs(t, err, errTooLarge, "a list item too")
}

func TestEventsUpToTheCapStreamThroughOneAtATime(t *testing.T) {
	// Many events whose sum is far over the cap: the cap is per event, not per stream.
	event := `{"type":"MODIFIED","object":{"metadata":{"name":"a"},"data":{"k":"` + strings.Repeat("y", 1<<20) + `"}}}` + "\n"
	n := 0
	err := decodeEvents(strings.NewReader(strings.Repeat(event, 40)), func(*watchEvent) error { n++; return nil })
	require.NoError(t, err)
	assert.Equal(t, 40, n)
}

// recorder is a handler that keeps what it is given.
type recorder struct{ items []source }

func (r *recorder) synced(_ context.Context, _ watchScope, items []source) { r.items = items }
func (r *recorder) changed(_ context.Context, _ string, obj *source)       { r.items = append(r.items, *obj) }

func TestTheControllerKeepsTheHashOfAnnotatedDataNotTheData(t *testing.T) {
	f := newFakeAPI(t, "default")
	big := map[string]string{"blob": strings.Repeat("z", 900<<10)}
	for _, name := range []string{"a", "b", "c"} {
		f.putConfigMap(name, sel("app="+name), big)
	}
	api, err := newAPIClient(f.url(), nil)
	require.NoError(t, err)
	log, _ := newLogger(io.Discard, "text", slog.LevelInfo)
	h := &recorder{}
	w := newWatcher(api, watchScope{resource: configMaps, namespace: "default"}, log, h, newMetrics(), newHealth())
	items, _, err := w.list(context.Background())
	require.NoError(t, err)
	require.Len(t, items, 3)
	for _, it := range items {
		assert.Nil(t, it.Data, "no data kept")
		assert.Equal(t, contentHash(&source{Data: big}), it.Hash)
	}
	w.keepData = true // cuscon sync needs the data of its one object
	items, _, err = w.list(context.Background())
	require.NoError(t, err)
	assert.Equal(t, big, items[0].Data)
}

func TestListAnswersOfEveryShapeAreReadOrRefused(t *testing.T) {
	for _, row := range []struct {
		name, body string
		items      int
		rv         string
		err        bool
	}{
		{"items and metadata", `{"kind":"ConfigMapList","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}`, 2, "7", false},
		{"metadata after items", `{"items":[{"metadata":{"name":"a"}}],"metadata":{"resourceVersion":"8","continue":"c"}}`, 1, "8", false},
		{"null items", `{"metadata":{"resourceVersion":"9"},"items":null}`, 0, "9", false},
		{"unknown fields skipped", `{"apiVersion":"v1","extra":{"deep":[1,2,{"x":null}]},"metadata":{"resourceVersion":"1"},"items":[]}`, 0, "1", false},
		{"items not an array", `{"items":{"a":1}}`, 0, "", true},
		{"not an object", `[1,2]`, 0, "", true},
		{"cut off", `{"metadata":{"resourceVersion":"1"},"items":[{"metadata":{"na`, 0, "", true},
		{"trailing garbage inside", `{"metadata":{},"items":[],}`, 0, "", true},
	} {
		t.Run(row.name, func(t *testing.T) {
			n := 0
			meta, err := decodeList(strings.NewReader(row.body), func(*source) { n++ })
			assert.Equal(t, row.err, err != nil, "%v", err)
			if !row.err {
				assert.Equal(t, row.items, n)
				assert.Equal(t, row.rv, meta.ResourceVersion)
			}
		})
	}
}

func TestTheBoundIsPerValueNotPerStream(t *testing.T) {
	for _, row := range []struct {
		name   string
		limit  int64
		values []int // sizes of the values read, each marked after it is read
		fails  bool
	}{
		{"values under the limit, many times over it in all", 10, []int{8, 8, 8, 8}, false},
		{"one value over the limit", 10, []int{8, 11}, true},
		{"exactly the limit", 10, []int{10, 10}, false},
	} {
		t.Run(row.name, func(t *testing.T) {
			var total int
			for _, n := range row.values {
				total += n
			}
			br := &boundedReader{r: strings.NewReader(strings.Repeat("x", total)), limit: row.limit}
			var err error
			var offset int64
			for _, n := range row.values {
				if _, err = io.ReadFull(br, make([]byte, n)); err != nil {
					break
				}
				offset += int64(n)
				br.mark(offset)
			}
			assert.Equal(t, row.fails, errors.Is(err, errTooLarge), "%v", err)
		})
	}
}
