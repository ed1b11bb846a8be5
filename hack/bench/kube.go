// kube.go is the benchmark's own API client, straight to kube-apiserver as admin: it
// sets up the objects and watches them independently of cuscon, so that what cuscon
// does is timed from outside.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// kube sends requests to the apiserver as admin (or, without a token, through the proxy).
type kube struct {
	base, token string
	c           *http.Client
}

func newKube(server, token string) *kube {
	// HTTP/1.1, one connection per watch: the watches must not share a connection (and
	// its write scheduling) with each other or with the requests being timed.
	t := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 32,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	return &kube{base: server, token: token, c: &http.Client{Transport: t}}
}

// do sends a request; a non-2xx answer is an error unless allowed lists its code.
func (k *kube) do(ctx context.Context, method, path string, body any, out any, allowed ...int) error {
	var rd io.Reader
	ctype := "application/json"
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
		if method == http.MethodPatch {
			ctype = "application/merge-patch+json"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, k.base+path, rd)
	if err != nil {
		return err
	}
	if k.token != "" {
		req.Header.Set("Authorization", "Bearer "+k.token)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := k.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		for _, a := range allowed {
			if a == resp.StatusCode {
				return nil
			}
		}
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// object is what the benchmark reads of pods and ConfigMaps.
type object struct {
	Metadata struct {
		Name              string  `json:"name"`
		UID               string  `json:"uid"`
		Generation        int64   `json:"generation"`
		ResourceVersion   string  `json:"resourceVersion"`
		DeletionTimestamp *string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Data   map[string]string `json:"data"`
	Status struct {
		Conditions []struct{ Type, Status string } `json:"conditions"`
	} `json:"status"`
}

// ready reports whether a pod is Ready and not terminating.
func (o *object) ready() bool {
	if o.Metadata.DeletionTimestamp != nil {
		return false
	}
	for _, c := range o.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// seen is one watch event as the benchmark received it.
type seen struct {
	at   time.Time
	typ  string
	kind string // "pod", "cm" or "deploy"
	obj  object
}

// watch streams events of path (a collection) from resourceVersion rv into ch until
// ctx ends, stamping each with the time it arrived.
func (k *kube) watch(ctx context.Context, path, rv, kind string, ch chan<- seen) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.base+path+"?watch=true&resourceVersion="+rv, nil)
	if err != nil {
		return err
	}
	if k.token != "" {
		req.Header.Set("Authorization", "Bearer "+k.token)
	}
	resp, err := k.c.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("watch %s: %d", path, resp.StatusCode)
	}
	go func() {
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var ev struct {
				Type   string `json:"type"`
				Object object `json:"object"`
			}
			if dec.Decode(&ev) != nil {
				return
			}
			select {
			case ch <- seen{at: time.Now(), typ: ev.Type, kind: kind, obj: ev.Object}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

// listRV returns the current resourceVersion of a collection.
func (k *kube) listRV(ctx context.Context, path string) (string, error) {
	var l struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	err := k.do(ctx, http.MethodGet, path+"?limit=1", nil, &l)
	return l.Metadata.ResourceVersion, err
}

// namespace creates ns and waits for its default ServiceAccount (pods need it).
func (k *kube) namespace(ctx context.Context, ns string) error {
	body := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]string{"name": ns}}
	if err := k.do(ctx, http.MethodPost, "/api/v1/namespaces", body, nil, http.StatusConflict); err != nil {
		return err
	}
	return poll(ctx, 60*time.Second, "the default ServiceAccount", func() bool {
		return k.do(ctx, http.MethodGet, "/api/v1/namespaces/"+ns+"/serviceaccounts/default", nil, nil) == nil
	})
}

// deployment creates Deployment web with n replicas labelled app=web, opted into
// Reloader for ConfigMap web-config (the same fixture for every peer; the others ignore
// the annotation).
func (k *kube) deployment(ctx context.Context, ns string, n int) error {
	labels := map[string]string{"app": "web"}
	meta := map[string]any{"name": "web", "annotations": map[string]string{"configmap.reloader.stakater.com/reload": "web-config"}}
	body := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
		"spec": map[string]any{"replicas": n, "selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []map[string]any{{"name": "app", "image": "web:1"}}}}},
	}
	return k.do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/"+ns+"/deployments", body, nil)
}

// readyPods counts the Ready, non-terminating pods labelled app=web.
func (k *kube) readyPods(ctx context.Context, ns string) (int, error) {
	var l struct{ Items []object }
	if err := k.do(ctx, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods?labelSelector=app%3Dweb", nil, &l); err != nil {
		return 0, err
	}
	n := 0
	for i := range l.Items {
		if l.Items[i].ready() {
			n++
		}
	}
	return n, nil
}

// poll checks cond every 20 ms until it holds or timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
