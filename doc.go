// Command cuscon restarts the pods that a ConfigMap names when, and only when, that
// ConfigMap's content changes, so that apps which read their configuration once at start
// pick up the new one. The annotation magalix.com/podDeleteMatch: "app=frontend" names
// the pods by a label selector; cuscon reaches the Kubernetes API through a kubectl proxy
// sidecar on 127.0.0.1:8001. `cuscon sync` is its in-pod mode: it unpacks one ConfigMap
// into a directory atomically and tells the app to reload.
//
// Where to start reading: one change travels through the files in this order, each
// visited once.
//
//	decode.go      the watch stream and list pages, one object at a time
//	watch.go       list, then watch from the list's resourceVersion; survive ends and breaks
//	decide.go      the decision, pure: what is remembered × what is seen → a verdict (selector.go: safe selectors)
//	controller.go  carries verdicts out: schedules restarts, records what was applied, retries what is owed
//	scheduler.go   one lane per namespace; debounce per set of pods
//	restart.go     a batch: list each selector's pods, restart each pod once, report what is owed (pacing.go: one pod)
//	pods.go        the pod requests: list, DELETE, eviction
//	api.go         the one place that builds API paths and turns answers into errors
//
// Around them: main.go, config.go and flags.go (wiring, flags), workloads.go (the
// rollout strategy), the Reloader mode (reloader.go decides, with references.go and
// keydigest.go; reloaderctl.go, reloadercheck.go, workloadlist.go, reloaderexec.go carry
// it out), events.go, metrics.go, server.go (probes),
// leader.go (Lease election), incluster.go, log.go, backoff.go, types.go; sync.go,
// reload.go and atomic.go for `cuscon sync`; plan.go and planview.go for `cuscon plan`,
// which lists what a change of each object would restart, changing nothing.
package main
