#!/usr/bin/env bash
# Runs stakater/Reloader's own end-to-end suite (Ginkgo, test/e2e of Reloader v1.4.21:
# suites core, annotations, flags, advanced, argo, csi) against cuscon on the project's
# local control plane, with cuscon started exactly as Reloader's Helm chart would start
# Reloader: the chart is installed for real, and its Deployment's container args and env
# are given to cuscon as a host process (the image swapped, nothing translated). Prints a
# summary per suite and writes a per-spec table.
#
#   hack/reloader-suite.sh          every suite (about 15 minutes when all pass; each
#                                   failing positive spec waits 15 s)
#   hack/reloader-suite.sh --ci     the subset in hack/reloader-suite/ci-subset.tsv (18
#                                   specs, about 3 minutes warm when they pass)
#
# Environment:
#   CONTROLLER=cuscon|reloader  the controller under test (default cuscon); reloader is the
#                               control run, Reloader built from the same source
#   CUSCON_BIN                  cuscon binary (default: go build of this checkout)
#   RELOADER_BIN                Reloader binary for the control (default: built from the source)
#   SUITES                      suites to run, in order (default: all six; with --ci, those
#                               of the subset)
#   GINKGO_FOCUS                a Ginkgo focus regex for every suite (not with --ci)
#   LABEL_FILTER                Ginkgo label filter (default '!csi && !openshift'; '&& !argo'
#                               is added when ARGO=0)
#   GINKGO_ARGS                 more arguments for every suite binary (word-split)
#   WORK                        results and logs (default $TMPDIR/cuscon-reloader-suite/CONTROLLER)
#   PROXY_PORT, CUSCON_PORT     the kubectl proxy and cuscon's listen port on 127.0.0.1
#                               (default 8101, 18180; Reloader always takes :9090)
#   SUITE_TIMEOUT               Ginkgo timeout per suite (default 60m; 10m with --ci)
#   FLAKE_ATTEMPTS              runs of a failing spec before it counts as failed (default
#                               1; 2 with --ci): the suite's positives race the controller
#                               (a reload before the spec reads its baseline is missed), and
#                               Reloader itself loses that race now and then; a spec that
#                               passed only on a retry is listed as FLAKY in the summary
#   CONTROLLER_SETTLE, CONTROLLER_READY_TIMEOUT   seconds (default 3, 30)
#   ARGO=0                      no Argo Rollouts CRD: the argo label and suite are skipped
#   RELOADER_SRC                a Reloader source tree to use as it is; else the cached copy,
#                               the Go module proxy, or RELOADER_ARCHIVE (default: the
#                               reloader-v1.4.21-*.tar.gz in /work/shared/peers or ../shared/peers)
#   CUSCON_CACHE_DIR            caches (default ~/.cache/cuscon): the source and the compiled
#                               suites under reloader-suite-v1.4.21/, the plane, helm
#
# Results in WORK: summary.txt, results.tsv (one row per spec: suite, state, seconds,
# attempts, restarts the controller logged during the spec, labels, spec, reason; see
# hack/reloader-suite/results.py), durations.tsv,
# logs/ (suite-SUITE.out, NNN-CONTROLLER-RELEASE.log per controller started, with the exact
# command line, shim.log, the plane's), reports/ (Ginkgo JSON and JUnit).
#
# Exit codes: 0 every spec that ran passed; 1 a spec or a suite failed; 2 usage, a port in
# use, or a build failed; 3 Reloader's source is not at hand (CI: skipped); 130 or 143
# interrupted by Ctrl-C or TERM (what ran is still summarised).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/hack/reloader-suite
version=v1.4.21
start=$SECONDS
say() { echo "reloader-suite: [$((SECONDS - start))s] $*" >&2; }
die() { local code=$1; shift; echo "reloader-suite: $*" >&2; exit "$code"; }

# Ctrl-C or TERM: a build in progress is stopped; a suite in progress gets SIGINT, on which
# Ginkgo cleans up (uninstalls its release) and writes its report; the run then stops,
# summarises what ran and exits 130 (143 for TERM). The EXIT trap below stops the rest.
bg_pid= suite_pid= interrupted=
on_signal() { # the exit code the signal asks for
  interrupted=$1
  if [ -n "$bg_pid" ]; then kill -TERM "$bg_pid" 2>/dev/null; fi
  if [ -n "$suite_pid" ] && kill -0 "$suite_pid" 2>/dev/null; then
    # Ctrl-C in a terminal has already reached the suite (same process group); TERM has not
    if [ "$1" != 130 ]; then kill -INT "$suite_pid" 2>/dev/null; fi
  else
    exit "$1"
  fi
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

ci=false
for a in "$@"; do
  case $a in
    --ci) ci=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown argument $a (see --help)" ;;
  esac
done

export CONTROLLER=${CONTROLLER:-cuscon}
case $CONTROLLER in cuscon|reloader) ;; *) die 2 "CONTROLLER=$CONTROLLER: cuscon or reloader" ;; esac
all_suites="core annotations flags advanced argo csi"
subset=$here/ci-subset.tsv
if $ci; then
  [ -z "${GINKGO_FOCUS:-}" ] || die 2 "--ci runs its own focus; unset GINKGO_FOCUS"
  subset_suites=$(for s in $all_suites; do if grep -q "^$s"$'\t' "$subset"; then echo "$s"; fi; done | xargs)
  SUITES=${SUITES:-$subset_suites}
  SUITE_TIMEOUT=${SUITE_TIMEOUT:-10m}
  FLAKE_ATTEMPTS=${FLAKE_ATTEMPTS:-2}
fi
FLAKE_ATTEMPTS=${FLAKE_ATTEMPTS:-1}
[[ $FLAKE_ATTEMPTS =~ ^[1-9][0-9]*$ ]] || die 2 "FLAKE_ATTEMPTS=$FLAKE_ATTEMPTS: a number, 1 or more"
SUITES=${SUITES:-$all_suites}
for s in $SUITES; do [[ " $all_suites " == *" $s "* ]] || die 2 "unknown suite $s (one of: $all_suites)"; done
SUITE_TIMEOUT=${SUITE_TIMEOUT:-60m}
LABEL_FILTER=${LABEL_FILTER:-!csi && !openshift}
export PROXY_PORT=${PROXY_PORT:-8101} CUSCON_PORT=${CUSCON_PORT:-18180}
cache=${CUSCON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cuscon}/reloader-suite-$version
WORK=${WORK:-${TMPDIR:-/tmp}/cuscon-reloader-suite/$CONTROLLER}
py=$(command -v /usr/bin/python3 || command -v python3 || true)
for t in go setsid tar sha256sum; do command -v "$t" >/dev/null || die 2 "$t is missing"; done
[ -n "$py" ] || die 2 "python3 is missing"
http_ok() { "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PROXY_PORT" $([ "$CONTROLLER" = cuscon ] && echo "$CUSCON_PORT" || echo 9090); do
  ! port_busy "$p" || die 2 "127.0.0.1:$p is in use (PROXY_PORT/CUSCON_PORT choose others; Reloader needs :9090)"
done

# Long builds print a heartbeat, so that a cold first run does not look hung.
build() { # description command...
  local what=$1 n=0 rc=0; shift
  "$@" & bg_pid=$!
  while kill -0 "$bg_pid" 2>/dev/null; do
    sleep 1; n=$((n + 1))
    if ((n % 30 == 0)); then say "still $what..."; fi
  done
  wait "$bg_pid" || rc=$?
  bg_pid=
  return $rc
}

# 1. Reloader's source (exit 3 when it is not at hand)
rc=0; src=$("$here/source.sh" "$cache" "$version") || rc=$?
case $rc in 0) ;; 3) exit 3 ;; *) die 2 "hack/reloader-suite/source.sh failed (exit $rc)" ;; esac

# 2. Binaries: the plane's, helm, the plane runner, the controller, the suites.
planebin=$("$root/hack/build-plane.sh") || die 2 "hack/build-plane.sh failed"
export REAL_HELM; REAL_HELM=$("$root/hack/build-tool.sh" helm) || die 2 "hack/build-tool.sh helm failed"
export PATH="$planebin:$PATH" # its kubectl: the suite and the shim call kubectl
mkdir -p "$cache"
(cd "$root" && go build -o "$cache/plane.$$" ./hack/plane && mv -f "$cache/plane.$$" "$cache/plane") ||
  die 2 "go build ./hack/plane failed"
# The compiled suites are keyed by the Go toolchain and the source (go.mod and every .go file).
key=$( (go version; cd "$src" && cat go.mod && find . -name '*.go' -not -path './test/loadtest/*' | LC_ALL=C sort | xargs cat) |
  sha256sum | cut -c1-16)
bindir=$cache/bin-$key
mkdir -p "$bindir"
missing=()
for s in $SUITES; do [ -x "$bindir/$s.test" ] || missing+=("./test/e2e/$s"); done
if ((${#missing[@]})); then
  say "compiling Reloader's suites ${missing[*]} into $bindir (first run: a few minutes, pulls client-go)"
  tmpbin=$(mktemp -d "$bindir.tmp.XXXXXX")
  build "compiling the suites" bash -c 'cd "$1" && shift && CGO_ENABLED=0 exec go test -c -mod=mod -o "$0/" "$@"' "$tmpbin" "$src" "${missing[@]}" ||
    { rm -rf "$tmpbin"; die 2 "compiling Reloader's suites failed"; }
  for m in "${missing[@]}"; do mv -f "$tmpbin/$(basename "$m").test" "$bindir/"; done
  rm -rf "$tmpbin"
fi
case $CONTROLLER in
cuscon)
  if [ -z "${CUSCON_BIN:-}" ]; then
    CUSCON_BIN=$cache/cuscon
    say "building cuscon from $root"
    (cd "$root" && go build -o "$CUSCON_BIN.$$" . && mv -f "$CUSCON_BIN.$$" "$CUSCON_BIN") || die 2 "go build of cuscon failed"
  fi
  [ -x "$CUSCON_BIN" ] || die 2 "CUSCON_BIN=$CUSCON_BIN is not an executable"
  export CUSCON_BIN; bin=$CUSCON_BIN ;;
reloader)
  if [ -z "${RELOADER_BIN:-}" ]; then
    RELOADER_BIN=$bindir/reloader
    if [ ! -x "$RELOADER_BIN" ]; then
      say "building Reloader from $src"
      build "building Reloader" bash -c 'cd "$1" && CGO_ENABLED=0 exec go build -mod=mod -trimpath -o "$0" .' "$RELOADER_BIN.$$" "$src" &&
        mv -f "$RELOADER_BIN.$$" "$RELOADER_BIN" || die 2 "building Reloader failed"
    fi
  fi
  [ -x "$RELOADER_BIN" ] || die 2 "RELOADER_BIN=$RELOADER_BIN is not an executable"
  export RELOADER_BIN; bin=$RELOADER_BIN ;;
esac
say "binaries ready"

# 3. The plane (hack/plane: etcd, apiserver, controller-manager, scheduler, kwok making
#    pods Ready) and a kubectl proxy in front of it. Everything started here is stopped on
#    exit, Ctrl-C and failure included.
mkdir -p "$WORK"
rm -rf "${WORK:?}"/{logs,reports,state,plane} "$WORK"/{results.tsv,summary.txt,durations.tsv,run.info}
mkdir -p "$WORK"/{logs,reports,state,plane}
export HARNESS_DIR=$WORK KUBECONFIG=$WORK/plane/admin.kubeconfig
plane_pid= proxy_pid= argo_pid=
cleanup() {
  set +e
  if [ -n "$suite_pid" ]; then kill -KILL "$suite_pid" 2>/dev/null; fi # only after a second signal
  "$here/controller.sh" stopall
  for p in $argo_pid $proxy_pid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "$plane_pid" ] && kill -0 "$plane_pid" 2>/dev/null; then
    local kids; kids=$(cat /proc/"$plane_pid"/task/*/children 2>/dev/null)
    kill -TERM "$plane_pid" 2>/dev/null
    for _ in $(seq 1 600); do kill -0 "$plane_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$plane_pid" 2>/dev/null; then # it did not stop its processes in a minute
      for k in $kids; do kill -KILL -- "-$k" 2>/dev/null; done
      kill -KILL "$plane_pid" 2>/dev/null
    fi
    wait "$plane_pid" 2>/dev/null
  fi
  rm -rf "$WORK/plane/etcd" # the data; the plane's logs stay
}
trap cleanup EXIT
say "starting the plane in $WORK/plane"
# its own session, so that on Ctrl-C it outlives the suite's own cleanup; cleanup ends it
setsid "$cache/plane" --bin "$planebin" --dir "$WORK/plane" 2>"$WORK/logs/plane.log" </dev/null &
plane_pid=$!
for i in $(seq 1 1800); do
  [ -f "$WORK/plane/ready" ] && break
  kill -0 "$plane_pid" 2>/dev/null || { tail -n 30 "$WORK/logs/plane.log" >&2; die 1 "the plane did not start"; }
  sleep 0.1
done
[ -f "$WORK/plane/ready" ] || die 1 "the plane was not ready within 180s (see $WORK/logs/plane.log)"
kubectl proxy --port "$PROXY_PORT" --address 127.0.0.1 >"$WORK/logs/proxy.log" 2>&1 &
proxy_pid=$!
# ready once the controller-manager has made the default ServiceAccount, as the suite needs
for i in $(seq 1 600); do
  http_ok "http://127.0.0.1:$PROXY_PORT/api/v1/namespaces/default/serviceaccounts/default" && break
  kill -0 "$proxy_pid" 2>/dev/null || die 1 "kubectl proxy exited (see $WORK/logs/proxy.log)"
  sleep 0.1
done
say "plane ready; kubectl proxy on 127.0.0.1:$PROXY_PORT"

# 4. Argo Rollouts: its Rollout CRD from the module cache, at the version Reloader's go.mod
#    pins, and argo-status.py standing in for the Argo controller's status. Without them
#    the argo label and suite are skipped.
argo=false
if [ "${ARGO:-1}" = 1 ]; then
  argo_ver=$(awk '$1=="github.com/argoproj/argo-rollouts"{print $2; exit}' "$src/go.mod")
  argo_dir=$(cd / && GOWORK=off GOFLAGS=-mod=mod go mod download -json "github.com/argoproj/argo-rollouts@$argo_ver" 2>/dev/null |
    "$py" -c 'import json,sys; print(json.load(sys.stdin).get("Dir") or "")' 2>/dev/null || true)
  crd=$argo_dir/manifests/crds/rollout-crd.yaml
  if [ -n "$argo_dir" ] && [ -f "$crd" ] && kubectl apply --server-side -f "$crd" >/dev/null; then
    for i in $(seq 1 120); do
      [ "$(kubectl get crd rollouts.argoproj.io -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" = True ] &&
        { argo=true; break; }
      sleep 0.5
    done
  fi
fi
if $argo; then
  "$py" "$here/argo-status.py" "http://127.0.0.1:$PROXY_PORT" >"$WORK/logs/argo-status.log" 2>&1 &
  argo_pid=$!
  say "Argo Rollouts CRD $argo_ver installed"
else
  say "no Argo Rollouts CRD: the argo label and suite are skipped"
  kubectl delete crd rollouts.argoproj.io --ignore-not-found >/dev/null 2>&1 || true
  LABEL_FILTER="$LABEL_FILTER && !argo"
  SUITES=$(echo " $SUITES " | sed 's/ argo / /; s/^ *//; s/ *$//')
fi

# 5. The suites, one after the other, with the helm shim first on PATH.
export PATH="$here/shim:$PATH"
{
  echo "controller=$CONTROLLER binary=$bin"
  echo "source=$src ($(cat "$src/.complete" 2>/dev/null || echo RELOADER_SRC))"
  echo "suites=$SUITES label-filter=$LABEL_FILTER ci=$ci focus=${GINKGO_FOCUS:-} flake-attempts=$FLAKE_ATTEMPTS ginkgo-args=${GINKGO_ARGS:-}"
} >"$WORK/run.info"
say "running suites: $SUITES (controller $CONTROLLER, label filter '$LABEL_FILTER'$($ci && echo ", the --ci subset"))"
for s in $SUITES; do
  focus=()
  want=
  if $ci; then
    while IFS=$'\t' read -r suite re _; do
      [ "$suite" = "$s" ] && focus+=(-ginkgo.focus "$re")
    done < <(grep -v '^#' "$subset")
    want=$((${#focus[@]} / 2))
    ((want)) || { say "suite $s: nothing of it in the --ci subset"; continue; }
  elif [ -n "${GINKGO_FOCUS:-}" ]; then
    focus=(-ginkgo.focus "$GINKGO_FOCUS")
  fi
  say "suite $s"
  t0=$SECONDS
  # In the background, so that a signal to this script is handled at once (on_signal).
  # shellcheck disable=SC2086 # GINKGO_ARGS is word-split on purpose
  (cd "$src/test/e2e/$s" && exec "$bindir/$s.test" -test.timeout 0 -ginkgo.timeout "$SUITE_TIMEOUT" -ginkgo.v -ginkgo.no-color \
      -ginkgo.label-filter "$LABEL_FILTER" -ginkgo.flake-attempts "$FLAKE_ATTEMPTS" "${focus[@]}" ${GINKGO_ARGS:-} \
      -ginkgo.json-report "$WORK/reports/$s.json" -ginkgo.junit-report "$WORK/reports/$s.xml") \
    >"$WORK/logs/suite-$s.out" 2>&1 </dev/null &
  suite_pid=$!
  while :; do # wait returns early when a signal arrives; the suite then cleans up and ends
    rc=0; wait "$suite_pid" || rc=$?
    kill -0 "$suite_pid" 2>/dev/null || break
  done
  suite_pid=
  printf '%s\t%s\t%s\n' "$s" $((SECONDS - t0)) "$rc" >>"$WORK/durations.tsv"
  ran=$(grep -ao 'Ran [0-9]* of [0-9]* Specs' "$WORK/logs/suite-$s.out" | tail -n 1 || true)
  say "suite $s: ${ran:-no spec ran} in $((SECONDS - t0))s, $([ $rc -eq 0 ] && echo passed || echo "FAILED (exit $rc)")"
  chosen=$(grep -ao 'Will run [0-9]* of [0-9]* specs' "$WORK/logs/suite-$s.out" | head -n 1 | awk '{print $3}' || true)
  if [ -n "$want" ] && [ -n "$chosen" ] && [ "$chosen" != "$want" ]; then
    say "suite $s: the --ci subset names $want specs here but the filters chose $chosen (a label filter, or a regex that no longer matches)"
  fi
  if [ -n "$interrupted" ]; then say "interrupted: no further suite is run"; break; fi
done
"$here/controller.sh" stopall

# 6. The summary.
rc=0
"$py" "$here/results.py" "$WORK" || rc=$?
say "done in $((SECONDS - start))s; results: $WORK/results.tsv, $WORK/summary.txt; logs: $WORK/logs"
exit "${interrupted:-$rc}"
