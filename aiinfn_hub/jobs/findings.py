"""What each layer says about a job's current attempt, in its own words and in ours.

One reader per layer, each a pure function over the manifests as Kubernetes, Kueue and
interLink write them: the Workload's conditions (:func:`kueue_findings`), the pods as the
scheduler, the kubelet and interLink's virtual kubelet report them (:func:`pod_findings`), and
the node the pod is bound to, or the site's health when it is bound to none
(:func:`node_findings`). Each returns the raw :class:`Detail` it read and the
:class:`Finding` it makes of them: a clause in the words of the screen (the site's display
name, never a node's or a field's) and a :class:`Rank` saying how strongly it explains a job
that waits or failed. :mod:`.explain` weighs them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

from ..kube.conditions import condition
from ..kueuenames import QuotaReason
from ..placement import SiteHealth
from .kueuewords import eviction_reason, quota_reason


class Layer(str, Enum):
    """Who knows why: the layers of a job, from the queue to the user's code."""

    KUEUE = "kueue"  # the queue: Kueue's Workload
    SITE = "site"  # the remote site: interLink and its plugin's batch system
    NODE = "node"  # the node (an interLink virtual node) and its connection
    POD = "pod"  # the pod: the scheduler, the kubelet, the user's code
    SERVICE = "service"  # the jobs service's own decisions (fallback, cancel, walltime)


class Rank(IntEnum):
    """How strongly a finding explains a waiting or failed job: the highest wins."""

    STATE = 10  # nothing more than the job's state
    STARTING = 20  # admitted, its container being made
    QUOTA = 30  # waiting for Kueue's quota: a wait that ends by itself
    REMOTE_QUEUE = 40  # waiting in the remote batch queue
    UNSCHEDULABLE = 50  # no node can take the pod now
    BLOCKED = 60  # Kueue can never admit it there as things are
    BROKEN = 70  # something needs a fix: an image, a crash, a held or evicted job
    UNREACHABLE = 80  # the site's node is gone or disconnected: nothing else is fresh
    ENDED = 90  # the pod ended, failed by the site or by the user's code


@dataclass(frozen=True)
class Detail:
    """One layer's raw words: which object and condition said it, its reason and message."""

    layer: Layer
    source: str
    reason: str
    message: str


@dataclass(frozen=True)
class Finding:
    """What one layer makes of its details: a clause and how strongly it explains."""

    layer: Layer
    rank: Rank
    words: str


#: The resources Kueue names, as the screen names them.
_RESOURCE_WORDS = {
    "nvidia.com/gpu": "GPUs",
    "amd.com/gpu": "GPUs",
    "cpu": "CPUs",
    "memory": "memory",
    "pods": "job slots",
}
_UNUSED = re.compile(r"insufficient unused quota for (\S+) in flavor \S+, (\S+) more needed")
_MAXIMUM = re.compile(
    r"insufficient quota for (\S+) in flavor \S+, .*current podset request \((\S+)\) "
    r"> maximum capacity \((\S+)\)"
)
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


def resource_words(name: str) -> str:
    """A resource as the screen names it (``nvidia.com/gpu`` is GPUs)."""
    return _RESOURCE_WORDS.get(name, name)


def _detail(layer: Layer, source: str, cond: Mapping[str, Any]) -> Detail:
    return Detail(
        layer,
        source,
        str(cond.get("reason") or cond.get("status") or ""),
        str(cond.get("message") or ""),
    )


# ---------------------------------------------------------------------- Kueue


def _quota_words(why: str, message: str) -> tuple[Rank, str]:
    """A ``QuotaReserved=False`` condition in plain words, by its detailed reason
    (:func:`~.kueuewords.quota_reason`): a wait, or a queue that can never admit the job."""
    if why == QuotaReason.EXCEEDS_MAX_QUOTA:
        found = _MAXIMUM.search(message)
        if found:
            res, asked, most = found.groups()
            words = resource_words(res)
            return Rank.BLOCKED, (
                f"the site's queue can never admit it: it asks for {asked} {words} and the "
                f"queue allows at most {most}"
            )
        return Rank.BLOCKED, f"the site's queue can never admit it ({message})"
    if why == QuotaReason.NO_MATCHING_FLAVOR:
        return Rank.BLOCKED, f"the site's queue has no resources that match it ({message})"
    if why == QuotaReason.MISCONFIGURED:
        return Rank.BLOCKED, f"the site's queue is missing or misconfigured ({message})"
    if why == QuotaReason.SUSPENDED:
        return Rank.BLOCKED, f"the site's queue is stopped ({message})"
    found = _UNUSED.search(message)
    if found:
        res, more = found.groups()
        return Rank.QUOTA, (
            f"waiting for free {resource_words(res)} in the site's queue ({more} more needed); "
            "it starts when running jobs end"
        )
    return Rank.QUOTA, "waiting for Kueue to admit it"


def _eviction_words(reason: str, message: str) -> str:
    """Why Kueue took an admitted job back, in plain words."""
    base = eviction_reason(reason)
    if base == "Preempted":
        return "Kueue preempted it for a job of higher priority; it is queued again"
    if base == "PodsReadyTimeout":
        return "it did not start in time, so Kueue took it back; it is queued again"
    if base in ("ClusterQueueStopped", "LocalQueueStopped"):
        return "the admins stopped the site's queue"
    if base == "NodeFailures":
        return "a node of the site failed under it; it is queued again"
    return f"Kueue evicted it ({message or reason})"


def kueue_findings(
    workload: Mapping[str, Any] | None, *, suspended: bool
) -> tuple[list[Detail], Finding | None, bool]:
    """Kueue's conditions on the Workload: ``(details, finding, admitted)``. An eviction in
    force explains first, then a quota not reserved; an admitted workload explains nothing
    by itself (the layers below say why it has not started). No Workload while the Job is
    suspended: Kueue has not taken it up yet."""
    details = []
    for kind in ("QuotaReserved", "Admitted", "Evicted"):
        cond = condition(workload, kind)
        if cond:
            details.append(_detail(Layer.KUEUE, f"Workload condition {kind}", cond))
    admitted = (condition(workload, "Admitted") or {}).get("status") == "True"
    evicted = condition(workload, "Evicted")
    if evicted and evicted.get("status") == "True":
        words = _eviction_words(evicted.get("reason") or "", evicted.get("message") or "")
        return details, Finding(Layer.KUEUE, Rank.BROKEN, words), False
    reserved = condition(workload, "QuotaReserved")
    if reserved and reserved.get("status") == "False" and not admitted:
        message = reserved.get("message") or ""
        rank, words = _quota_words(quota_reason(reserved.get("reason") or "", message), message)
        return details, Finding(Layer.KUEUE, rank, words), False
    if workload is None and suspended:
        return details, Finding(Layer.KUEUE, Rank.QUOTA, "waiting for Kueue to take it up"), False
    return details, None, admitted


# ---------------------------------------------------------------------- pods


def _containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]


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
        details.append(_detail(Layer.POD, f"{source} condition PodScheduled", scheduled))
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
        if phase == "Failed":
            found = _failed_words(pod, remote, infrastructure)
        elif phase == "Pending" or _waiting(pod):
            found = _waiting_words(pod, remote, remote_id)
        else:
            found = None
        if found and (best is None or found.rank > best.rank):
            best = found
    return details, best


# ---------------------------------------------------------------------- nodes


def node_findings(
    pods: Sequence[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    health: SiteHealth,
) -> tuple[list[Detail], Finding | None]:
    """The connection of the node a pod is bound to (interLink's ``InterlinkConnectivity``,
    then ``Ready``); with no pod bound, the site's health from all its nodes. A node that is
    disconnected or not ready leaves every other layer's words stale."""
    names = dict.fromkeys(str((p.get("spec") or {}).get("nodeName") or "") for p in pods)
    bound = [nodes[n] for n in names if n in nodes]
    details: list[Detail] = []
    found: Finding | None = None
    for node in bound:
        name = (node.get("metadata") or {}).get("name", "")
        link = condition(node, "InterlinkConnectivity")
        ready = condition(node, "Ready")
        for kind, cond in (("InterlinkConnectivity", link), ("Ready", ready)):
            if cond:
                details.append(_detail(Layer.NODE, f"Node {name} condition {kind}", cond))
        if found:
            continue
        if link and link.get("status") != "True":
            text = link.get("message") or link.get("reason") or ""
            found = Finding(
                Layer.NODE, Rank.UNREACHABLE, f"the connection to the site is lost ({text})"
            )
        elif ready and ready.get("status") != "True":
            text = ready.get("message") or ready.get("reason") or ""
            found = Finding(Layer.NODE, Rank.UNREACHABLE, f"the site's node is not ready ({text})")
    if not bound and not health.usable:
        details.append(
            Detail(Layer.NODE, "Site health", health.describe().split(" (")[0], health.message)
        )
        if not health.connected:
            words = "the connection to the site is lost"
        elif not health.registered:
            words = "none of the site's nodes is in the cluster"
        elif health.maintenance:
            words = "the site is in maintenance"
        else:
            words = "the site's node is not ready"
        found = Finding(Layer.NODE, Rank.UNREACHABLE, words)
    return details, found
