#!/usr/bin/env python3
"""Stands in for the Argo Rollouts controller's status, and nothing else of Argo: every
Rollout gets status.readyReplicas = spec.replicas (and observedGeneration), which is what
Reloader's suite waits for before it changes anything (utils.RolloutIsReady). No
ReplicaSets, no pods, no handling of spec.restartAt: the suite asserts on the Rollout
object itself.

    argo-status.py http://127.0.0.1:PROXY_PORT     (runs until killed)
"""
import json
import os
import sys
import time
import urllib.request

api = sys.argv[1].rstrip("/") + "/apis/argoproj.io/v1alpha1"
period = float(os.environ.get("ARGO_STATUS_PERIOD", "1"))


def call(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=body and json.dumps(body).encode())
    if body is not None:
        req.add_header("Content-Type", "application/merge-patch+json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


while True:
    try:
        for ro in call("GET", api + "/rollouts").get("items") or []:
            meta, spec, status = ro["metadata"], ro.get("spec") or {}, ro.get("status") or {}
            n, gen = spec.get("replicas", 1), str(meta.get("generation", ""))
            if status.get("readyReplicas", 0) == n and status.get("observedGeneration") == gen:
                continue
            call("PATCH", f"{api}/namespaces/{meta['namespace']}/rollouts/{meta['name']}/status",
                 {"status": {"replicas": n, "readyReplicas": n, "availableReplicas": n, "updatedReplicas": n,
                             "observedGeneration": gen, "phase": "Healthy"}})
            print(f"{time.strftime('%T')} {meta['namespace']}/{meta['name']}: {n} ready (generation {gen})", flush=True)
    except Exception as e:  # a Rollout deleted between list and patch, the plane going down
        print(f"{time.strftime('%T')} {e}", flush=True)
    time.sleep(period)
