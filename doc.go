// Command cuscon restarts the pods that a ConfigMap names when, and only when, that
// ConfigMap's content changes, so that apps which read their configuration once at start
// pick up the new one. The annotation magalix.com/podDeleteMatch: "app=frontend" names
// the pods by a label selector; cuscon reaches the Kubernetes API through a kubectl proxy
// sidecar on 127.0.0.1:8001.
//
// This package is that story, the article's, and the wiring. One change arrives from
// internal/kube's watch and goes through these files in this order, the first three
// before the restart, the last after it; internal/restart carries the restart out in
// between and comes back here for the pods (pods.go) and to say how it ended:
//
//	watch.go       what is watched: each ConfigMap observed as it arrives (its annotations, kube.ContentHash)
//	controller.go  what is remembered of each object; the verdict carried out, the restart sent on, its end taken back
//	decide.go      the decision, pure: what is remembered × what is seen → a verdict; and what an end settles
//	pods.go        which pods a restart may touch (known from internal/podcache, else listed), and their DELETE, guarded by the pod's uid
//	record.go      what was applied and what is still owed, written on the object itself
//
// main.go puts the parts together (config.go, what they are told): open it to see what
// stands behind each function value the parts are given.
//
// The machinery is in internal packages, each one concern, imported downwards:
//
//	internal/kube       the raw-HTTP client, the API's types, the streaming decoder, list-then-watch, Events
//	internal/restart    the lanes, debounce and rate limit, and the executor: strategies, pacing, what is owed
//	internal/podcache   the pods in scope, from a metadata-only watch, so that a restart needs no pod LIST
//	internal/labels     whether a selector is safe to restart pods by
//	internal/lease      Lease election: one acting replica
//	internal/telemetry  metrics, probes and log lines
//	internal/envflag    flags with environment twins
//	internal/backoff    jittered backoff, and a sleep that ends with its context
//
// The other modes are packages of their own, which main starts and fans watch events
// out to; none imports another: internal/reloader (stakater/Reloader's annotations,
// flags and markers on workloads; internal/alert sends its alerts, internal/waves and
// internal/window stage its restarts in waves gated on health and maintenance
// windows), internal/syncer
// (`cuscon sync`, the in-pod mode that unpacks one ConfigMap into files and reloads the
// app), and plan.go here (`cuscon plan`, which says
// what a change of each object would restart, changing nothing).
package main
