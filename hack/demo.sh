#!/usr/bin/env bash
# Shows cuscon working without a cluster: starts the local control plane, deploys the
# article's example (frontend-config and a 3-replica frontend), runs kubectl proxy on
# 127.0.0.1:8001 and cuscon behind it, edits the ConfigMap, and shows the pods before and
# after with cuscon's log. Everything is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$(hack/build-plane.sh)
work=$(mktemp -d -t cuscon-demo-XXXXXX)
pids=()
cleanup() {
  local code=$?
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
  if [ "$code" != 0 ] && [ -f "$work/plane.log" ]; then echo "demo: the plane's log:" >&2; tail -20 "$work/plane.log" >&2; fi
  rm -rf "$work"
  [ "$code" != 0 ] || say "Done: everything started here is stopped and removed"
}
trap cleanup EXIT
# Bold headings on a terminal; plain text in a log file or a pipe.
if [ -t 1 ]; then say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }; else say() { printf '\n== %s\n' "$*"; }; fi
kc() { "$bin/kubectl" --kubeconfig "$work/admin.kubeconfig" "$@"; }
until_true() { # until_true SECONDS DESCRIPTION COMMAND...: poll an observable state
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "demo: timed out waiting for $what" >&2; exit 1; }
    sleep 0.2
  done
}

if (exec 3<>/dev/tcp/127.0.0.1/8001) 2>/dev/null; then
  echo "demo: 127.0.0.1:8001 is in use; stop whatever listens there (the proxy needs it)" >&2; exit 1
fi

say "Starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
go build -o "$work/plane" ./hack/plane
go build -o "$work/cuscon" .
"$work/plane" --bin "$bin" --dir "$work" 2>"$work/plane.log" &
pids+=($!)
until_true 120 "the control plane" test -f "$work/ready"
sed 's/^/  /' "$work/plane.log"

say "Deploying the article's example: frontend-config and the frontend Deployment"
kc apply -k manifests/example/
kc rollout status deployment/frontend --timeout=60s

say "Starting kubectl proxy on 127.0.0.1:8001 and cuscon behind it (res_namespace=default)"
# Started directly, not through kc, so that $! is kubectl's own PID for the cleanup.
"$bin/kubectl" --kubeconfig "$work/admin.kubeconfig" proxy --port=8001 --address=127.0.0.1 > "$work/proxy.log" 2>&1 &
pids+=($!)
# cuscon retries a refused connection, with a warning; so that the log shown below is
# the clean run, it starts once the proxy answers.
until_true 30 "kubectl proxy" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8001'
# Health and metrics on any free loopback port, so that a busy :8080 here does not matter.
res_namespace=default CUSCON_LISTEN_ADDRESS=127.0.0.1:0 "$work/cuscon" > "$work/cuscon.log" 2>&1 &
pids+=($!)
until_true 30 "cuscon's first sync" grep -q "Synced configmaps" "$work/cuscon.log"

say "Pods before the edit"
kc get pods -l app=frontend
old=$(kc get pods -l app=frontend -o jsonpath='{.items[*].metadata.uid}')

say "Editing frontend-config, as in the article"
sed 's/Welcome to Kubernetes/Welcome to Custom Controllers!/' manifests/example/configmap.yaml | kc apply -f -
replaced() {
  local now ready
  now=$(kc get pods -l app=frontend -o jsonpath='{.items[*].metadata.uid}')
  ready=$(kc get pods -l app=frontend -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{" "}{end}')
  for u in $old; do [[ " $now " == *" $u "* ]] && return 1; done
  [ "$(wc -w <<<"$ready")" -eq 3 ] && ! grep -qv True <<<"$(tr ' ' '\n' <<<"$ready" | sed '/^$/d')"
}
until_true 60 "the frontend pods to be replaced" replaced

say "Pods after the edit: three new names, seconds old"
kc get pods -l app=frontend

say "Editing only a label: metadata, not content"
kc label configmap frontend-config edited-by=demo
sleep 2 # nothing to await: the point is that nothing happens
kc get pods -l app=frontend

say "cuscon's log"
cat "$work/cuscon.log"
