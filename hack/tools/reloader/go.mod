module cuscon/hack/tools/reloader

go 1.26.0

// stakater/Reloader, the peer hack/bench.sh measures cuscon against. Its own go.mod
// decides the rest of the graph; hack/tools/reloader/build.sh resolves it (and writes
// go.sum) on first use. If the module proxy lacks a version Reloader's go.mod pins, add a
// replace here to the version its k8s.io/client-go pins for that module, with a comment
// naming both, and note it in docs/benchmarks.md (section "How the peers were run").
require github.com/stakater/Reloader v1.4.21
