#!/usr/bin/env bash
# Starts and stops the controller under test as a host process, one per Helm release of
# Reloader's chart (the helm shim calls this; see hack/reloader-suite.sh).
#
#   controller.sh start RELEASE NAMESPACE [VALUES...]   (VALUES: the --set pairs, only logged)
#   controller.sh stop RELEASE | stopall
#
# Both controllers get exactly the container args and env of the Deployment the chart
# rendered, read back from the plane (deployment-exec.py resolves the env as a kubelet
# would; GOMAXPROCS/GOMEMLIMIT from resource limits are dropped), in an otherwise empty
# environment, plus only what reaching this plane from the host takes:
#   CONTROLLER=cuscon    CUSCON_API_URL=http://127.0.0.1:$PROXY_PORT (the kubectl proxy)
#                        CUSCON_LISTEN_ADDRESS=127.0.0.1:$CUSCON_PORT (not :9090)
#                        ready when /readyz answers 200
#   CONTROLLER=reloader  KUBECONFIG (the plane's admin); its port is the fixed :9090;
#                        ready when /metrics answers (the chart's readiness probe)
# The controller runs with the plane's admin rights, not the chart's RBAC.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${HARNESS_DIR:?}" "${CONTROLLER:?}" "${KUBECONFIG:?}"
state=$HARNESS_DIR/state logs=$HARNESS_DIR/logs
mkdir -p "$state" "$logs"
log() { echo "$(date +%T) controller: $*" >>"$logs/shim.log"; }
py=$(command -v /usr/bin/python3 || command -v python3 || true)

stop_one() { # pidfile
  local f=$1 pid; pid=$(cat "$f" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null && log "pid $pid did not stop within 10s: killed"
    log "stopped pid $pid ($(basename "$f" .pid))"
  fi
  rm -f "$f"
}

wait_http() { # url seconds pid
  local i
  for i in $(seq 1 $(($2 * 4))); do
    kill -0 "$3" 2>/dev/null || return 1
    "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null && return 0
    sleep 0.25
  done
  return 1
}

cmd=${1:-}; shift || true
case $cmd in
stop) stop_one "$state/$1.pid"; exit 0 ;;
stopall) for f in "$state"/*.pid; do [ -e "$f" ] && stop_one "$f"; done; exit 0 ;;
start) ;;
*) echo "usage: $0 start RELEASE NAMESPACE [VALUES...] | stop RELEASE | stopall" >&2; exit 2 ;;
esac

rel=$1 ns=$2; shift 2
seq=$(($(cat "$state/seq" 2>/dev/null || echo 0) + 1)); echo $seq >"$state/seq"
lf=$logs/$(printf %03d "$seq")-$CONTROLLER-$rel.log
echo "# release=$rel namespace=$ns values: $*" >"$lf"

dep=$(kubectl get deploy -n "$ns" "$rel-reloader" -o json) || { log "no deployment $rel-reloader in $ns"; exit 1; }
pod=$rel-reloader-host
for what in args env; do
  "$py" "$here/deployment-exec.py" $what "$ns" "$pod" <<<"$dep" >"$state/$rel.$what" 2>>"$lf" ||
    { log "could not read the $what of deployment $rel-reloader"; exit 1; }
done
mapfile -d '' -t cargs <"$state/$rel.args"
mapfile -d '' -t cenv <"$state/$rel.env"
case $CONTROLLER in
cuscon)
  bin=$CUSCON_BIN
  cenv+=("CUSCON_API_URL=http://127.0.0.1:$PROXY_PORT" "CUSCON_LISTEN_ADDRESS=127.0.0.1:$CUSCON_PORT")
  ready_url=http://127.0.0.1:$CUSCON_PORT/readyz ;;
reloader)
  bin=$RELOADER_BIN
  cenv+=("KUBECONFIG=$KUBECONFIG")
  ready_url=http://127.0.0.1:9090/metrics ;;
*) echo "unknown CONTROLLER=$CONTROLLER" >&2; exit 2 ;;
esac
{ printf '# exec: env -i'; printf ' %q' "${cenv[@]}" "$bin" "${cargs[@]}"; echo; } >>"$lf"

# Its own session: Ctrl-C in the terminal does not reach it; stop/stopall end it.
setsid env -i "${cenv[@]}" "$bin" "${cargs[@]}" </dev/null >>"$lf" 2>&1 &
pid=$!
echo "$pid" >"$state/$rel.pid"
if ! wait_http "$ready_url" "${CONTROLLER_READY_TIMEOUT:-30}" "$pid"; then
  if kill -0 "$pid" 2>/dev/null; then why="not ready at $ready_url within ${CONTROLLER_READY_TIMEOUT:-30}s"
  else wait "$pid"; why="exited (code $?) before it was ready"; fi
  echo "# $why" >>"$lf"
  log "$CONTROLLER for $rel $why; log tail:"
  tail -n 20 "$lf" >>"$logs/shim.log"
  stop_one "$state/$rel.pid"; exit 1
fi
# In a cluster the chart's readiness probe (initialDelaySeconds 10) gives the pod time to
# list and watch before the suite goes on; a host process gets this shorter settle.
sleep "${CONTROLLER_SETTLE:-3}"
kill -0 "$pid" 2>/dev/null || { log "$CONTROLLER for $rel exited after it was ready"; exit 1; }
log "started $CONTROLLER for $rel in $ns pid=$pid log=$(basename "$lf")"
