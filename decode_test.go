// decode_test.go fuzzes the watch event decoder: whatever bytes the stream carries, it
// must return an error or well-formed events, and never panic. The seed corpus is in
// testdata/fuzz/FuzzDecodeEvents.
package main

import (
	"bytes"
	"testing"
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
