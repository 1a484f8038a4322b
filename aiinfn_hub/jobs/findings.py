"""What each layer says about a job's current attempt, in its own words and in ours.

One reader per layer, each a pure function over the manifests as Kubernetes, Kueue and
interLink write them: the Workload's conditions (:func:`kueue_findings`), the pods as the
scheduler, the kubelet and interLink's virtual kubelet report them
(:func:`.podfindings.pod_findings`), and the node the pod is bound to, or the site's health when
it is bound to none (:func:`node_findings`). Each returns the raw :class:`Detail` it read and the
:class:`Finding` it makes of them: a clause in the words of the screen (the site's display
name, never a node's or a field's) and a :class:`Rank` saying how strongly it explains a job
that waits or failed. :mod:`.explain` weighs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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


def resource_words(name: str) -> str:
    """A resource as the screen names it (``nvidia.com/gpu`` is GPUs)."""
    return _RESOURCE_WORDS.get(name, name)


def detail_of(layer: Layer, source: str, cond: Mapping[str, Any]) -> Detail:
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
            details.append(detail_of(Layer.KUEUE, f"Workload condition {kind}", cond))
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
                details.append(detail_of(Layer.NODE, f"Node {name} condition {kind}", cond))
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
