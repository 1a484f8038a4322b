"""Kueue's visibility API of pending workloads (``visibility.kueue.x-k8s.io``), on demand.

Imitates Kueue's aggregated API server (pkg/visibility/api/v1beta2: pending_workloads_lq.go,
pending_workloads_cq.go; Kueue's ``VisibilityOnDemand`` gate, beta and on by default since
v0.9): ``GET .../clusterqueues/CQ/pendingworkloads`` and
``GET .../namespaces/NS/localqueues/LQ/pendingworkloads`` answer a ``PendingWorkloadsSummary``
whose ``items`` are the workloads waiting for a quota reservation in the ClusterQueue's
order (priority, then age: the order the admission cycle takes them in), each with its
0-based ``positionInClusterQueue`` and ``positionInLocalQueue``, ``priority``,
``localQueueName`` and the workload's name, namespace, owner references and creation time.
``limit`` (default 1000) and ``offset`` page through them. As Kueue does, the LocalQueue's
list keeps the workloads of its ClusterQueue whose queue *name* is the LocalQueue's,
whatever their namespace.
"""

from __future__ import annotations

from collections.abc import Callable

from ....kueuenames import queue_order
from ... import errors
from ...objects import Obj, condition_true
from .workload import KueueApi

GROUP = "visibility.kueue.x-k8s.io"
VERSIONS = ("v1beta2", "v1beta1")
#: Kueue's constants.DefaultPendingWorkloadsLimit.
DEFAULT_LIMIT = 1000

#: A query parameter by name (None when absent).
Arg = Callable[[str], "str | None"]


class Visibility:
    """The pending workloads of Kueue's queues, as the visibility API serves them."""

    def __init__(self, kube: KueueApi) -> None:
        self.kube = kube

    def serve(self, rest: list[str], arg: Arg) -> Obj:
        """The answer to ``GET /apis/visibility.kueue.x-k8s.io/<rest>``; raises the
        :class:`~aiinfn_hub.sandbox.errors.ApiError` the real server answers."""
        if not rest or rest[0] not in VERSIONS:
            raise errors.PageNotFound()
        version, path = rest[0], rest[1:]
        limit, offset = _whole(arg("limit"), DEFAULT_LIMIT), _whole(arg("offset"), 0)
        if (
            len(path) == 5
            and path[0] == "namespaces"
            and path[2:5:2] == ["localqueues", "pendingworkloads"]
        ):
            items = self.in_local_queue(path[1], path[3], limit=limit, offset=offset)
        elif len(path) == 3 and path[0] == "clusterqueues" and path[2] == "pendingworkloads":
            items = self.in_cluster_queue(path[1], limit=limit, offset=offset)
        else:
            raise errors.unknown_path()
        return {
            "kind": "PendingWorkloadsSummary",
            "apiVersion": f"{GROUP}/{version}",
            "metadata": {"creationTimestamp": None},
            "items": items,
        }

    def in_cluster_queue(self, name: str, *, limit: int, offset: int) -> list[Obj]:
        """The ClusterQueue's pending workloads from ``offset`` on, at most ``limit``."""
        if self.kube.store.get(self.kube.cqs, "", name) is None:
            raise errors.not_found("clusterqueue", GROUP, name)
        seen: dict[tuple[str, str], int] = {}
        items = []
        for index, wl in enumerate(self._pending(name)):
            key = (wl["metadata"]["namespace"], (wl.get("spec") or {}).get("queueName", ""))
            seen[key] = seen.get(key, -1) + 1
            if index >= offset:
                items.append(_item(wl, in_cq=index, in_lq=seen[key]))
        return items[:limit]

    def in_local_queue(self, namespace: str, name: str, *, limit: int, offset: int) -> list[Obj]:
        """The LocalQueue's pending workloads (by queue name, in its ClusterQueue's order)
        from ``offset`` on, at most ``limit``."""
        lq = self.kube.store.get(self.kube.lqs, namespace, name)
        cq = (lq.get("spec") or {}).get("clusterQueue") if lq else None
        if not cq or self.kube.store.get(self.kube.cqs, "", cq) is None:
            raise errors.not_found("localqueue", GROUP, name)
        mine = [
            (index, wl)
            for index, wl in enumerate(self._pending(cq))
            if (wl.get("spec") or {}).get("queueName") == name
        ]
        return [
            _item(wl, in_cq=index, in_lq=position)
            for position, (index, wl) in enumerate(mine)
            if position >= offset
        ][:limit]

    def _pending(self, cq: str) -> list[Obj]:
        """The workloads queued in ClusterQueue ``cq`` through one of its LocalQueues that
        hold no quota reservation, are active and not being deleted, in admission order."""
        kube = self.kube
        queues = {
            (q["metadata"]["namespace"], q["metadata"]["name"])
            for q in kube.store.list(kube.lqs)
            if (q.get("spec") or {}).get("clusterQueue") == cq
        }
        pending = [
            wl
            for wl in kube.store.list(kube.workloads)
            if (wl["metadata"]["namespace"], (wl.get("spec") or {}).get("queueName")) in queues
            and not condition_true(wl, "Finished")
            and not condition_true(wl, "QuotaReserved")
            and (wl.get("spec") or {}).get("active", True)
            and not wl["metadata"].get("deletionTimestamp")
        ]
        pending.sort(key=queue_order)
        return pending


def _item(wl: Obj, *, in_cq: int, in_lq: int) -> Obj:
    """One ``PendingWorkload``: the workload's identity and its positions."""
    meta = wl["metadata"]
    owners = [
        {k: ref[k] for k in ("apiVersion", "kind", "name", "uid") if k in ref}
        for ref in meta.get("ownerReferences") or []
    ]
    item_meta: Obj = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "creationTimestamp": meta.get("creationTimestamp"),
    }
    if owners:
        item_meta["ownerReferences"] = owners
    spec = wl.get("spec") or {}
    return {
        "metadata": item_meta,
        "priority": int(spec.get("priority") or 0),
        "localQueueName": spec.get("queueName", ""),
        "positionInClusterQueue": in_cq,
        "positionInLocalQueue": in_lq,
    }


def _whole(value: str | None, default: int) -> int:
    """A ``limit`` or ``offset`` query parameter: a whole number, at least 0."""
    if value in (None, ""):
        return default
    assert value is not None
    if not value.isdigit():
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    return int(value)
