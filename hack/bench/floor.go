// floor.go is the floor the benchmark measures itself: what a controller behind the same
// proxy could reach at best, with one pod LIST and the DELETEs, or the DELETEs alone.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// floor is the limit a controller behind the same proxy could reach: the moment the
// independent watch sees the update, it sends one pod LIST (mode "list") and then every
// DELETE at once, or the DELETEs alone for pods it already knows (mode "known").
func (b *bench) floor(c change) {
	names := c.current
	if c.peer.Floor == "list" {
		var l struct{ Items []object }
		// resourceVersion=0, as cuscon lists: served from the watch cache at once, where a
		// consistent read first waits for the cache to catch up with etcd.
		if proxyDo(http.MethodGet, b.proxyURL+"/api/v1/namespaces/"+c.ns+"/pods?labelSelector=app%3Dweb&resourceVersion=0", &l) != nil {
			return
		}
		names = map[string]string{}
		for _, p := range l.Items {
			names[p.Metadata.UID] = p.Metadata.Name
		}
	}
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			proxyDo(http.MethodDelete, b.proxyURL+"/api/v1/namespaces/"+c.ns+"/pods/"+name, nil) //nolint:errcheck // seen on the watch
		}()
	}
	wg.Wait()
}

// proxyClient talks to the kubectl proxy for the floor, keeping connections open as a
// controller would.
var proxyClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

// proxyDo sends a body-less request through the proxy and decodes a 2xx answer into out.
func proxyDo(method, url string, out any) error {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return err
	}
	resp, err := proxyClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
