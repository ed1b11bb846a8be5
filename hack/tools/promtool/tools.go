//go:build tools

// Package tools pins promtool, which runs the unit tests of cuscon's alerting rules.
// It is never built; `go mod tidy` keeps its requirements in go.mod.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
