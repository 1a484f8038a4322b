"""What a job's pods say: the scheduler's, the kubelet's and interLink's virtual kubelet's words
(a pod unscheduled, an image not pulled, a crash loop, out of memory, an exit code, the site
refusing or losing the job, the remote batch queue), read as :mod:`.findings` reads the other
layers."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ..kube.conditions import condition
from .findings import Detail, Finding, Layer, Rank, detail_of

#: Kubelet waiting reasons that need the user's or an admin's fix.
_IMAGE = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"})
_SETUP = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})
#: interLink's words for a pod still waiting in the remote batch queue.
_REMOTE_WAITING = frozenset({"Remote pod submitted", "Pending"})
_HELD = "Held"
_MISSING_FILES = "CFGMaps/Secrets not found"
PROVIDER_FAILED = "ProviderFailed"
#: The label interLink's virtual kubelet puts on its node.
_VIRTUAL_LABEL = "virtual-node.interlink/type"
#: The scheduler's reason for stopping a pod: one of higher priority preempted it.
_PREEMPTED = "PreemptionByScheduler"
#: Why Kubernetes stopped a pod itself (its ``DisruptionTarget`` condition's reasons), in
#: the words of the panel ("Kubernetes stopped the job because ...").
DISRUPTIONS = {
    "DeletionByTaintManager": "because its node was lost (not ready or unreachable)",
    "DeletionByPodGC": "because its node was removed from the cluster",
    "TerminationByKubelet": "because its node ran short of resources and stopped it",
    "EvictionByEvictionAPI": "because its node was drained",
    _PREEMPTED: "because a pod of higher priority took its place",
}


def _containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]


def disruption(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """Kubernetes' reason for stopping the pod itself (``DisruptionTarget``), and what it
    means; None when nothing but the pod's own containers ended it."""
    found = condition(pod, "DisruptionTarget")
    if not found or found.get("status") != "True":
        return None
    reason = str(found.get("reason") or "")
    words = DISRUPTIONS.get(reason, f"({reason or 'no reason given'})")
    return reason, words


def _pod_details(pod: Mapping[str, Any]) -> list[Detail]:
    """A pod's raw words: its phase, reason and message, an unscheduled condition, and each
    container's waiting or terminated state."""
    name = (pod.get("metadata") or {}).get("name", "")
    status = pod.get("status") or {}
    source = f"Pod {name}"
    details = [
        Detail(Layer.POD, source, str(status.get("reason") or status.get("phase") or ""),
               str(status.get("message") or ""))
    ]  # fmt: skip
    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        details.append(detail_of(Layer.POD, f"{source} condition PodScheduled", scheduled))
    stopped = condition(pod, "DisruptionTarget")
    if stopped and stopped.get("status") == "True":
        details.append(detail_of(Layer.POD, f"{source} condition DisruptionTarget", stopped))
    for container in _containers(pod):
        state = container.get("state") or {}
        for kind in ("waiting", "terminated"):
            if kind in state:
                found = state[kind] or {}
                code = found.get("exitCode")
                reason = str(found.get("reason") or "")
                if code is not None:
                    reason = f"{reason} (exit code {code})" if reason else f"exit code {code}"
                where = f"{source} container {container.get('name', '')} {kind}"
                details.append(Detail(Layer.POD, where, reason, str(found.get("message") or "")))
    return details


def _waiting(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first container (init containers first) waiting with a reason."""
    for container in _containers(pod):
        found = (container.get("state") or {}).get("waiting")
        if found and found.get("reason"):
            waiting: Mapping[str, Any] = found
            return waiting
    return None


def _terminated(pod: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The first container that ended in failure, and its terminated state."""
    for container in _containers(pod):
        found = (container.get("state") or {}).get("terminated")
        if found and (found.get("exitCode") or found.get("reason") == "OOMKilled"):
            return container, found
    return None


def is_remote(pod: Mapping[str, Any], node: Mapping[str, Any] | None, offload: bool) -> bool:
    """Whether the pod runs through interLink: bound to a virtual node, or (not yet known)
    at an offload site."""
    if node is not None:
        return _VIRTUAL_LABEL in ((node.get("metadata") or {}).get("labels") or {})
    waiting = _waiting(pod)
    return offload or bool(waiting and waiting.get("reason") == "Remote pod submitted")


def _failed_words(
    pod: Mapping[str, Any], remote: bool, infrastructure: Collection[int]
) -> Finding | None:
    """A pod that ended in failure: the site's doing (interLink's ``ProviderFailed``, its
    files not found, an infrastructure exit code) or the user's code's (out of memory, a
    non-zero exit)."""
    status = pod.get("status") or {}
    reason = status.get("reason") or ""
    message = status.get("message") or ""
    ended = _terminated(pod)
    code = ended[1].get("exitCode") if ended else None
    if reason == PROVIDER_FAILED or (ended and ended[1].get("reason") == PROVIDER_FAILED):
        text = message or (ended[1].get("message") if ended else "") or "no message from the site"
        return Finding(Layer.SITE, Rank.ENDED, f"the site refused the job ({text})")
    if reason == _MISSING_FILES:
        return Finding(
            Layer.SITE, Rank.ENDED, f"the site could not get the job's files ({message})"
        )
    if remote and code in infrastructure:
        return Finding(
            Layer.SITE,
            Rank.ENDED,
            f"the site lost the job (its batch system ended it with code {code})",
        )
    if ended and ended[1].get("reason") == "OOMKilled":
        return Finding(
            Layer.POD,
            Rank.ENDED,
            f"it ran out of memory and was stopped at its memory limit (exit code {code}); "
            "ask for more memory",
        )
    if status.get("phase") == "Failed" and code:
        return Finding(
            Layer.POD, Rank.ENDED, f"your code exited with code {code}; see the job's log"
        )
    return None


def _waiting_words(pod: Mapping[str, Any], remote: bool, remote_id: str | None) -> Finding | None:
    """A pod not started: why the kubelet, the scheduler or the remote batch system holds it."""
    waiting = _waiting(pod) or {}
    reason = waiting.get("reason") or ""
    message = waiting.get("message") or ""
    if reason in _IMAGE:
        return Finding(
            Layer.POD, Rank.BROKEN, f"the job's image cannot be pulled ({message or reason})"
        )
    if reason == "CrashLoopBackOff":
        last = next(
            (
                (c.get("lastState") or {}).get("terminated", {}).get("exitCode")
                for c in _containers(pod)
                if (c.get("lastState") or {}).get("terminated")
            ),
            None,
        )
        code = f" (last exit code {last})" if last is not None else ""
        return Finding(
            Layer.POD,
            Rank.BROKEN,
            f"your code keeps crashing and being restarted{code}; see the job's log",
        )
    if reason in _SETUP:
        return Finding(
            Layer.POD, Rank.BROKEN, f"the job's container cannot be set up ({message or reason})"
        )
    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        text = scheduled.get("message") or scheduled.get("reason") or ""
        return Finding(
            Layer.POD, Rank.UNSCHEDULABLE, f"no node of the site can take it now ({text})"
        )
    job = f" as remote job {remote_id}" if remote_id else ""
    if remote and reason == _HELD:
        return Finding(
            Layer.SITE,
            Rank.BROKEN,
            f"the site's batch system holds the job{job} ({message or reason})",
        )
    if remote and (reason in _REMOTE_WAITING or not reason or remote_id):
        extra = f" ({reason}: {message})" if reason not in _REMOTE_WAITING and message else ""
        return Finding(
            Layer.SITE, Rank.REMOTE_QUEUE, f"waiting in the site's batch queue{job}{extra}"
        )
    if remote:
        return Finding(Layer.SITE, Rank.REMOTE_QUEUE, f"waiting at the site ({reason}: {message})")
    if (pod.get("status") or {}).get("phase") == "Pending":
        return Finding(Layer.POD, Rank.STARTING, "its container is starting")
    return None


def pod_findings(
    pods: Sequence[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    *,
    offload: bool,
    infrastructure: Collection[int] = (),
) -> tuple[list[Detail], Finding | None]:
    """The pods' raw words and the most telling of what they say: a failure (by the site or
    by the user's code), else why one has not started (image, crash loop, container setup,
    no node, the remote batch queue). ``nodes``: the pods' nodes by name; ``offload``: the
    site is reached through interLink; ``infrastructure``: the exit codes by which the site,
    not the user's code, ends a job."""
    details: list[Detail] = []
    best: Finding | None = None
    for pod in pods:
        details += _pod_details(pod)
        node = nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        remote = is_remote(pod, node, offload)
        remote_id = ((pod.get("metadata") or {}).get("annotations") or {}).get("JobID")
        phase = (pod.get("status") or {}).get("phase")
        stopped = disruption(pod)  # it may stay Running, terminating, on a lost node
        if stopped:
            # the node's doing (lost, removed, short of resources, drained), or the scheduler's
            layer = Layer.POD if stopped[0] == _PREEMPTED else Layer.NODE
            found: Finding | None = Finding(
                layer, Rank.ENDED, f"Kubernetes stopped the job {stopped[1]}"
            )
        elif phase == "Failed":
            found = _failed_words(pod, remote, infrastructure)
        elif phase == "Pending" or _waiting(pod):
            found = _waiting_words(pod, remote, remote_id)
        else:
            found = None
        if found and (best is None or found.rank > best.rank):
            best = found
    return details, best
