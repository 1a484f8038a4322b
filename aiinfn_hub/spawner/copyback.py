"""Copy-back: before a server whose home was a scratch folder at a remote site stops, bring the
files created or changed in it into the user's home volume.

A remote pod cannot mount the home claim, and the hub has no way into the claim itself; a pod
at a local site can mount it. So the spawner starts a short-lived pod there (the server's image,
its security context, the home claim at its mount path) that pulls the files from the server
extension of the still-running server (``GET aiinfn-hub/api/copy-back``, with the server's own
token, over the network path the proxy already uses to reach the server), writes them into a
new folder of the home and a report next to them (:mod:`aiinfn_hub.homecopy`), and prints a
summary the spawner reads from its log. Then the server is stopped as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio.client.rest import ApiException

from ..homecopy import TOKEN_ENV

#: The label that tells the copy pod from the user's server.
COMPONENT = "singleuser-copy-back"
NETWORK_ACCESS_SINGLEUSER = "hub.jupyter.org/network-access-singleuser"


@dataclass(frozen=True)
class CopyBackPlan:
    """What the copy pod needs: where the server is, where the home is, and the limits."""

    server_url: str  # the server's URL as the hub reaches it, with its base URL
    token: str  # the server's own API token (it may call its own server)
    home_volume: Mapping[str, Any]  # the claim's pod volume
    home_mount: str  # where the server's root folder (the home) is mounted
    folder: str  # the folder in the home the files go to
    max_bytes: int
    timeout: float


def pod_name(server_pod: str) -> str:
    """The copy pod's name: the server's with ``-copy-back``, hashed to fit 63 characters."""
    name = f"{server_pod}-copy-back"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{server_pod[:43].rstrip('-')}-{digest}-copy-back"


def home_of(
    volumes: Sequence[Mapping[str, Any]],
    mounts: Sequence[Mapping[str, Any]],
    scratch: Sequence[str],
    root: str,
) -> tuple[Mapping[str, Any], str] | None:
    """The claim volume that was scratch at the remote site and its mount path: the one
    mounted at the server's root folder ``root``, else the first; None if there is none."""
    by_name = {v.get("name"): v for v in volumes if isinstance(v, Mapping)}
    found = [
        (by_name[m["name"]], str(m["mountPath"]))
        for m in mounts
        if isinstance(m, Mapping) and m.get("name") in scratch and m.get("name") in by_name
    ]
    at_root = [f for f in found if f[1].rstrip("/") == root.rstrip("/")]
    return (at_root or found)[0] if found else None


def folder_name(site: str, now: float | None = None) -> str:
    """``from-leonardo-2026-12-02-0812``: the home's new folder, named after site and time."""
    stamp = time.strftime("%Y-%m-%d-%H%M%S", time.gmtime(now))
    return f"from-{site}-{stamp}"


def copy_pod(
    *,
    name: str,
    server_pod: Mapping[str, Any],
    copy: CopyBackPlan,
    node_selector: Mapping[str, str],
    tolerations: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The copy pod's manifest, from the running server's pod (image, security, labels)."""
    meta, spec = server_pod.get("metadata") or {}, server_pod.get("spec") or {}
    container = (spec.get("containers") or [{}])[0]
    url = copy.server_url.rstrip("/") + f"/aiinfn-hub/api/copy-back?max_bytes={copy.max_bytes}"
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith("hub.jupyter.org/")
    }
    labels = {
        k: v
        for k, v in (meta.get("labels") or {}).items()
        if k in ("hub.jupyter.org/username", "hub.jupyter.org/servername", "release")
    }
    volume = {**copy.home_volume, "name": "home"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {
                **labels,
                "component": COMPONENT,
                "app": "jupyterhub",
                # z2jh's singleuser NetworkPolicy admits to servers the pods that carry this
                NETWORK_ACCESS_SINGLEUSER: "true",
            },
            "annotations": annotations,
        },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "activeDeadlineSeconds": int(copy.timeout),
            "nodeSelector": dict(node_selector),
            "tolerations": [dict(t) for t in tolerations],
            "securityContext": spec.get("securityContext") or {},
            "volumes": [volume],
            "containers": [
                {
                    "name": "copy-back",
                    "image": container.get("image", ""),
                    "imagePullPolicy": container.get("imagePullPolicy", "IfNotPresent"),
                    "command": [
                        "python",
                        "-m",
                        "aiinfn_hub.homecopy",
                        "--url",
                        url,
                        "--home",
                        copy.home_mount,
                        "--folder",
                        copy.folder,
                        "--max-bytes",
                        str(copy.max_bytes),
                        "--timeout",
                        str(int(copy.timeout)),
                    ],
                    "env": [
                        {"name": TOKEN_ENV, "value": copy.token},
                        {"name": "PYTHONUNBUFFERED", "value": "1"},
                    ],
                    "securityContext": container.get("securityContext")
                    or {"allowPrivilegeEscalation": False, "privileged": False},
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "256Mi"},
                        "limits": {"cpu": "1", "memory": "512Mi"},
                    },
                    "volumeMounts": [{"name": "home", "mountPath": copy.home_mount}],
                }
            ],
        },
    }


def summary_of(log: str) -> dict[str, Any]:
    """The copy pod's summary: the last line of its log that is a JSON object."""
    for line in reversed(log.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return {"error": "the copy-back ended without a summary" + (f": {log[-300:]}" if log else "")}


def describe(summary: Mapping[str, Any]) -> str:
    """The summary in a sentence, for the log and the next start's progress page."""
    if summary.get("error"):
        return str(summary["error"])
    if not summary.get("folder"):
        return "no file had changed on the remote server: nothing needed copying back"
    left = summary.get("left_out") or 0
    text = (
        f"{summary.get('copied', 0)} changed files ({summary.get('bytes', 0):,} bytes) of your "
        f"remote server were copied to {summary['folder']}/ in your home folder"
    )
    if left:
        text += f"; {left} were not (see {summary['folder']}/COPY-BACK-REPORT.md)"
    return text


async def wait_for_end(pod_phase: Any, timeout: float, interval: float = 0.5) -> str | None:
    """The pod's phase once it ended (``pod_phase()`` reads it), None if ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        phase = pod_phase()
        if phase in ("Succeeded", "Failed"):
            return phase
        await asyncio.sleep(interval)
    return None


async def run_copy_back(
    *,
    api: Any,
    namespace: str,
    manifest: dict[str, Any],
    phase_of: Callable[[str], str | None],
    timeout: float,
) -> dict[str, Any]:
    """Start the copy pod, wait for it to end (``phase_of`` reads a pod's phase, e.g. from a
    watch cache), read its summary from its log, remove it; the summary, or why it failed."""
    name = manifest["metadata"]["name"]
    try:
        await api.create_namespaced_pod(namespace, manifest)
    except ApiException as exc:
        return {
            "error": f"the copy-back could not start (Kubernetes said {exc.status} {exc.reason})"
        }
    try:
        phase = await wait_for_end(lambda: phase_of(name), timeout + 30)
        if phase is None:
            return {"error": f"the copy-back did not end within {timeout:g} s"}
        try:
            # raw: the client would parse a log that is JSON, and give its repr
            response = await api.read_namespaced_pod_log(name, namespace, _preload_content=False)
            log = (await response.read()).decode(errors="replace")
        except ApiException as exc:
            return {
                "error": f"the copy-back's report could not be read ({exc.status} {exc.reason})"
            }
        return summary_of(log)
    finally:
        with contextlib.suppress(ApiException):
            await api.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
