#!/usr/bin/env python3
"""What a pod of the Deployment Reloader's chart rendered would run: its container's args,
or its environment, one item per NUL-terminated record on stdout.

    kubectl get deploy NAME -o json | deployment-exec.py args|env NAMESPACE POD_NAME

env resolves what the kubelet would: literal values; envFrom and valueFrom from ConfigMaps
and Secrets (read with kubectl, which is on PATH); the downward API's metadata.namespace
(NAMESPACE), metadata.name (POD_NAME) and the other pod fields a host process can stand in
for. resourceFieldRef (the chart's GOMAXPROCS and GOMEMLIMIT from the container's limits)
is dropped: the Go runtime decides for a host process. Everything dropped is said on stderr.
"""
import base64
import json
import subprocess
import sys

what, namespace, pod = sys.argv[1], sys.argv[2], sys.argv[3]
dep = json.load(sys.stdin)
spec = dep["spec"]["template"]["spec"]
container = spec["containers"][0]
out = []


def note(msg):
    print(f"deployment-exec: {msg}", file=sys.stderr)


def read(kind, name):
    r = subprocess.run(["kubectl", "get", kind, name, "-n", namespace, "-o", "json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    data = json.loads(r.stdout).get("data") or {}
    if kind == "secret":
        data = {k: base64.b64decode(v).decode() for k, v in data.items()}
    return data


if what == "args":
    if container.get("command"):
        note(f"the container sets command {container['command']}; the binary under test runs instead")
    out = list(container.get("args") or [])
elif what == "env":
    env = {}
    for src in container.get("envFrom") or []:
        ref, kind = (src["configMapRef"], "configmap") if "configMapRef" in src else (src.get("secretRef"), "secret")
        data = read(kind, ref["name"]) if ref else None
        if data is None:
            note(f"envFrom {kind} {ref and ref.get('name')} not found: skipped")
            continue
        for k, v in data.items():
            env[(src.get("prefix") or "") + k] = v
    fields = {
        "metadata.namespace": namespace,
        "metadata.name": pod,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "spec.nodeName": "kwok-node-0",
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
        "status.podIPs": "127.0.0.1",
    }
    for e in container.get("env") or []:
        name, vf = e["name"], e.get("valueFrom")
        if vf is None:
            env[name] = e.get("value", "")
        elif "fieldRef" in vf:
            path = vf["fieldRef"]["fieldPath"]
            if path in fields:
                env[name] = fields[path]
            else:
                note(f"{name}: fieldRef {path} has no host stand-in: dropped")
        elif "resourceFieldRef" in vf:
            note(f"{name}: resourceFieldRef {vf['resourceFieldRef'].get('resource')}: dropped (the runtime decides)")
        else:
            kind, ref = ("configmap", vf["configMapKeyRef"]) if "configMapKeyRef" in vf else ("secret", vf["secretKeyRef"])
            data = read(kind, ref["name"])
            if data is None or ref["key"] not in data:
                note(f"{name}: {kind} {ref['name']} key {ref['key']} not found: dropped")
            else:
                env[name] = data[ref["key"]]
    out = [f"{k}={v}" for k, v in env.items()]
else:
    sys.exit(f"usage: {sys.argv[0]} args|env NAMESPACE POD_NAME")

sys.stdout.write("".join(x + "\0" for x in out))
