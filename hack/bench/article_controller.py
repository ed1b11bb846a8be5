"""The "custom controllers" article's ConfigMap controller, rewritten for the benchmark.

It behaves as the article describes its script: it watches the ConfigMaps of the
namespace in $res_namespace through a kubectl proxy, and on every MODIFIED event of a
ConfigMap annotated magalix.com/podDeleteMatch it lists the pods the annotation's
selector matches and deletes each of them, logging the article's lines. Like the
original it starts its watch without a resourceVersion (the server replays every
ConfigMap as ADDED first), pastes the selector into the URL as it is, acts on metadata
edits too, and ends when the stream ends. hack/bench runs it as a peer of cuscon; the
only addition is $API_URL, so the benchmark can point it at its proxy's port.
"""

import json
import logging
import os
import sys

import requests

ANNOTATION = "magalix.com/podDeleteMatch"

log = logging.getLogger("controller")
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
log.addHandler(handler)
log.setLevel(logging.INFO)

api = os.getenv("API_URL", "http://127.0.0.1:8001")
namespace = os.getenv("res_namespace", "default")


def delete_matching_pods(selector):
    """Deletes, one after another, every pod of the namespace the selector matches."""
    pods = requests.get(
        f"{api}/api/v1/namespaces/{namespace}/pods?labelSelector={selector}"
    ).json()["items"]
    for name in (pod["metadata"]["name"] for pod in pods):
        answer = requests.delete(f"{api}/api/v1/namespaces/{namespace}/pods/{name}")
        if answer.status_code == 200:
            log.info("%s was deleted successfully", name)
        else:
            log.error("Could not delete %s", name)


def watch_configmaps():
    """Reacts to each watch event of the namespace's ConfigMaps, in order."""
    log.info("Starting the service")
    stream = requests.get(
        f"{api}/api/v1/namespaces/{namespace}/configmaps?watch=true", stream=True
    )
    for line in stream.iter_lines():
        event = json.loads(line)
        annotations = event["object"]["metadata"].get("annotations") or {}
        if ANNOTATION in annotations and event["type"] == "MODIFIED":
            log.info("Modification detected")
            delete_matching_pods(annotations[ANNOTATION])


watch_configmaps()
