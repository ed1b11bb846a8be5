//go:build tools

// Package tools pins Helm, which renders, lints and installs cuscon's chart in CI.
// It is never built; `go mod tidy` keeps its requirements in go.mod.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
