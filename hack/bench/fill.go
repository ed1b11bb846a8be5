// fill.go creates the footprint runs' fixtures: many ConfigMaps of configuration text.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// payloadOf is about size bytes of configuration text, the same for the same seed.
func payloadOf(seed, size int) string {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var sb strings.Builder
	for sb.Len() < size {
		fmt.Fprintf(&sb, "key_%d=", sb.Len())
		for range 60 {
			sb.WriteByte(letters[r.IntN(len(letters))])
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// fill creates n ConfigMaps of about size bytes in ns, eight at a time; one in 100
// carries the annotation (selecting no pod).
func (b *bench) fill(ctx context.Context, ns string, n, size int) error {
	return b.create(ctx, fmt.Sprintf("%d ConfigMaps", n), n, "/api/v1/namespaces/"+ns+"/configmaps", func(i int) any {
		meta := map[string]any{"name": fmt.Sprintf("cfg-%05d", i)}
		if i%100 == 0 {
			meta["annotations"] = map[string]string{"magalix.com/podDeleteMatch": "app=bench-nothing"}
		}
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": map[string]string{"app.properties": payloadOf(i, size)}}
	})
}

// create POSTs n objects made by obj to path, eight at a time, printing progress.
func (b *bench) create(ctx context.Context, what string, n int, path string, obj func(i int) any) error {
	started := time.Now()
	jobs := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := b.kube.do(ctx, http.MethodPost, path, obj(i), nil); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
		if i > 0 && i%20000 == 0 {
			step(fmt.Sprintf("  %d of %s created", i, what))
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	step(fmt.Sprintf("created %s in %.1fs", what, time.Since(started).Seconds()))
	return nil
}
