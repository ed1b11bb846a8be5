//go:build tools

// Package tools pins stakater/Reloader, the peer cuscon is benchmarked against. It is
// never built with cuscon; hack/tools/reloader/build.sh builds it into the cache.
package tools

import _ "github.com/stakater/Reloader"
