//go:build tools

// Package tools pins kwok, the fake kubelet of cuscon's end-to-end control plane.
// It is never built; `go mod tidy` keeps its requirements in go.mod.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
