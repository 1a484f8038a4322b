"""Spawn progress in plain words instead of raw Kubernetes events.

"0/8 nodes are available: 4 Insufficient nvidia.com/gpu ..." becomes "waiting for a GPU: 0 of 4
A100 free"; a pod held by Kueue becomes "queued by Kueue: waiting for quota". Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..placement.capacity import GPU_RESOURCE
from .clusterview import GpuCount

KUEUE_GATE = "kueue.x-k8s.io/admission"
REMOTE_SUBMITTED = "Remote pod submitted"


def describe_event(event: Mapping[str, Any], gpu: GpuCount | None = None) -> str:
    """One Kubernetes event about the user's pod, as a user reads it."""
    reason = event.get("reason") or ""
    message = event.get("message") or ""
    lowered = message.lower()
    if "kueue" in lowered and ("quota" in lowered or "admi" in lowered):
        return "queued by Kueue: waiting for quota"
    if reason == "FailedScheduling":
        return _scheduling(message, gpu)
    if reason == "Scheduled":
        match = re.search(r"assigned \S+ to (\S+)", message)
        return f"assigned to node {match.group(1)}" if match else "assigned to a node"
    if reason == "Pulling":
        return "downloading the software image"
    if reason == "Pulled":
        return "software image ready"
    if reason == "Created":
        return "container created"
    if reason == "Started":
        return "Jupyter is starting"
    if reason == "FailedMount":
        return f"waiting for storage to be attached ({message})"
    if reason in ("BackOff", "CrashLoopBackOff"):
        return "the server stopped while starting; Kubernetes is restarting it"
    if reason in ("Preempted", "Evicted"):
        return f"the server was moved off its node ({message})"
    if reason == "ProviderFailed":
        return f"the remote site refused the server ({message})"
    return message


def _scheduling(message: str, gpu: GpuCount | None) -> str:
    if f"Insufficient {GPU_RESOURCE}" in message:
        if gpu is not None:
            return f"waiting for a GPU: {gpu.describe()}"
        return "waiting for a GPU: none of the requested kind is free"
    if "Insufficient cpu" in message or "Insufficient memory" in message:
        lacking = " and ".join(
            word for word in ("cpu", "memory") if f"Insufficient {word}" in message
        )
        return f"waiting for room on a node: not enough free {lacking.replace('cpu', 'CPU')} now"
    if "untolerated taint" in message or "node affinity/selector" in message:
        return "waiting for a node of the chosen kind to take new servers"
    return f"waiting to be scheduled ({message})"


def describe_pod(pod: Mapping[str, Any], site_name: str = "") -> str | None:
    """What the pod's own status says while it waits, when events do not (or None)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    gates = [g.get("name") for g in spec.get("schedulingGates") or ()]
    if KUEUE_GATE in gates:
        return "queued by Kueue: waiting for quota"
    for cond in status.get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            return "queued by Kueue: waiting for quota" if not gates else "waiting to be scheduled"
    for container in status.get("containerStatuses") or ():
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == REMOTE_SUBMITTED:
            job = ((pod.get("metadata") or {}).get("annotations") or {}).get("JobID")
            where = f"{site_name}'s" if site_name else "the remote site's"
            return f"waiting in {where} batch queue" + (f" (job {job})" if job else "")
    return None
