"""ClusterQueue and LocalQueue statuses.

Imitates the status Kueue's ClusterQueue and LocalQueue controllers write
(pkg/controller/core: clusterqueue_controller, localqueue_controller): the counts of pending,
reserving and admitted workloads, the quota reserved per flavor and resource (and what of it is
borrowed), and the ``Active`` condition (``FlavorNotFound`` for a ClusterQueue naming a missing
ResourceFlavor, ``ClusterQueueDoesNotExist`` for a LocalQueue). Written after every admission
cycle. Kueue's visibility API of pending workloads (``pendingworkloads``) is
:mod:`.visibility`.
"""

from __future__ import annotations

from decimal import Decimal

from ....kube.quantity import format_quantity, parse_quantity
from ...objects import Obj, condition_true, set_condition
from ...registry import ResourceType
from .workload import KueueApi, missing_flavors, reserved

#: The condition ``Active`` as a queue's status writes it: (status, reason, message).
Active = tuple[bool, str, str]


def _no_workloads() -> dict[str, int]:
    return {"pendingWorkloads": 0, "reservingWorkloads": 0, "admittedWorkloads": 0}


def write_queue_statuses(
    kube: KueueApi, *, cqs: dict, lqs: dict, workloads: list[Obj], flavors: dict
) -> None:
    """Every queue's status from the workloads that are not finished: the counts of each
    state, the quota they reserve, whether the queue can admit."""
    counts: dict[tuple, dict[str, int]] = {}
    reserved_by: dict[tuple, dict[tuple[str, str], Decimal]] = {}
    for wl in workloads:
        if condition_true(wl, "Finished"):
            continue
        ns, queue = wl["metadata"]["namespace"], (wl.get("spec") or {}).get("queueName", "")
        lq = lqs.get((ns, queue))
        cq = (lq.get("spec") or {}).get("clusterQueue") if lq else None
        state = "admittedWorkloads" if condition_true(wl, "Admitted") else "pendingWorkloads"
        reserving = condition_true(wl, "QuotaReserved")
        amounts = list(reserved(wl["status"].get("admission") or {})) if reserving else []
        for key in (("lq", ns, queue), ("cq", cq)):
            bucket = counts.setdefault(key, _no_workloads())
            bucket[state] += 1
            if reserving:
                bucket["reservingWorkloads"] += 1
                slot = reserved_by.setdefault(key, {})
                for flavor, res, amount in amounts:
                    slot[(flavor, res)] = slot.get((flavor, res), Decimal(0)) + amount
    for name, cq in cqs.items():
        key = ("cq", name)
        missing = missing_flavors(cq, flavors)
        active = (
            (True, "Ready", "Can admit new workloads")
            if not missing
            else (
                False,
                "FlavorNotFound",
                f"Can't admit new workloads: references missing ResourceFlavor(s): {missing}",
            )
        )
        _write_queue_status(
            kube,
            kube.cqs,
            "",
            name,
            counts=counts.get(key),
            usage=flavor_usage(cq, reserved_by.get(key, {})),
            active=active,
        )
    for (ns, name), lq in lqs.items():
        key = ("lq", ns, name)
        cq = cqs.get((lq.get("spec") or {}).get("clusterQueue", ""))
        active = (
            (True, "Ready", "Can submit new workloads to localQueue")
            if cq is not None
            else (
                False,
                "ClusterQueueDoesNotExist",
                "Can't submit new workloads to clusterQueue",
            )
        )
        _write_queue_status(
            kube,
            kube.lqs,
            ns,
            name,
            counts=counts.get(key),
            usage=flavor_usage(cq, reserved_by.get(key, {})) if cq else [],
            active=active,
        )


def flavor_usage(cq: Obj, reserved: dict[tuple[str, str], Decimal]) -> list[Obj]:
    """``flavorsReservation``: per flavor and resource of the ClusterQueue, the total reserved
    and what of it exceeds the nominal quota (borrowed)."""
    out = []
    for group in (cq.get("spec") or {}).get("resourceGroups") or []:
        for fq in group.get("flavors") or []:
            resources = []
            for r in fq.get("resources") or []:
                total = reserved.get((fq["name"], r["name"]), Decimal(0))
                borrowed = max(total - parse_quantity(r.get("nominalQuota", 0)), Decimal(0))
                resources.append(
                    {
                        "name": r["name"],
                        "total": format_quantity(total, r["name"]),
                        "borrowed": format_quantity(borrowed, r["name"]),
                    }
                )
            out.append({"name": fq["name"], "resources": resources})
    return out


def _write_queue_status(
    kube: KueueApi,
    rt: ResourceType,
    ns: str,
    name: str,
    *,
    counts: dict | None,
    usage: list[Obj],
    active: Active,
) -> None:
    """Write one queue's status: counts, quota reserved, ``Active``."""
    counts = counts or _no_workloads()

    def apply(obj: Obj) -> None:
        status = obj.setdefault("status", {})
        status.update(counts)
        status["flavorsReservation"] = usage
        status["flavorsUsage"] = usage
        set_condition(status, "Active", active[0], active[1], active[2])

    kube.api.modify(rt, ns, name, apply)
