//go:build tools

// Package tools pins the Kubernetes commands cuscon's end-to-end control plane runs.
// It is never built; `go mod tidy` keeps their requirements in go.mod.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
