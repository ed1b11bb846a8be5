// digestkey.go keeps the installation's digest key: 32 random bytes in a Secret of
// cuscon's own namespace, made on first start, with which the mode keys the digests of
// Secrets it records on workloads (digest.go). Whoever may read a workload but not that
// Secret cannot test a guess of a Secret's value against the record.

package reloader

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"cuscon/internal/kube"
)

// digestKeyField is the key of the Secret's data that holds the digest key.
const digestKeyField = "key"

// ErrKey marks a digest key Secret that is there but unusable: no retry helps.
var ErrKey = errors.New("unusable digest key secret")

// ErrUncreatable marks a digest key Secret that does not exist and that cuscon may not
// create (Reloader's chart grants no create on Secrets): no record can have been made
// with it yet.
var ErrUncreatable = errors.New("the digest key secret does not exist and cannot be created")

// digestKeySize is the length of a new digest key, in bytes.
const digestKeySize = 32

// LoadKey returns the digest key held in Secret ns/name, creating the Secret with a
// new random key if there is none. Two replicas starting together agree: the one whose
// create loses reads the winner's. In a dry run nothing is created: a key that does not
// exist yet is made up for this run only (the dry run records nothing anyway).
func LoadKey(ctx context.Context, c *kube.Client, ns, name string, dryRun bool) ([]byte, error) {
	for attempt := 0; attempt < 2; attempt++ {
		var s struct {
			Data map[string]string `json:"data"`
		}
		err := c.Get(ctx, kube.ObjectPath(kube.Secrets, ns, name), nil, &s)
		switch {
		case err == nil:
			key, err := base64.StdEncoding.DecodeString(s.Data[digestKeyField])
			if err != nil || len(key) < 16 {
				return nil, fmt.Errorf("%w %s/%s: data.%s must hold at least 16 bytes, base64-encoded", ErrKey, ns, name, digestKeyField)
			}
			return key, nil
		case kube.Code(err) != http.StatusNotFound:
			return nil, fmt.Errorf("read digest key secret %s/%s (needs get on it): %w", ns, name, err)
		}
		key := make([]byte, digestKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if dryRun {
			return key, nil
		}
		body := map[string]any{
			"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]string{"app.kubernetes.io/managed-by": "cuscon"}},
			"data":     map[string]string{digestKeyField: base64.StdEncoding.EncodeToString(key)},
		}
		err = c.Call(ctx, http.MethodPost, kube.CollectionPath(kube.Secrets, ns), nil, "application/json", body, nil)
		switch {
		case err == nil:
			return key, nil
		case kube.Code(err) == http.StatusForbidden:
			return nil, fmt.Errorf("%w: %s/%s (needs create on secrets): %w", ErrUncreatable, ns, name, err)
		case kube.Code(err) != http.StatusConflict:
			return nil, fmt.Errorf("create digest key secret %s/%s (needs create on secrets): %w", ns, name, err)
		}
		// another replica made it first: read theirs
	}
	return nil, fmt.Errorf("%w %s/%s: created by another replica, then not found", ErrKey, ns, name)
}
