"""Eviction and requeueing of workloads, as Kueue does them.

Imitates Kueue's ``workload.Evict`` (pkg/workload: the ``Evicted`` condition, evictions counted
by reason and underlying cause, an ``EvictedDueTo<reason>`` event), the quota released once the
Job's pods are gone and the workload requeued (at once after a preemption or node failures,
with a backoff after a PodsReady timeout), and the workload controller's part of
``waitForPodsReady`` and deactivation (``spec.active`` false: ``Deactivated``, past the
requeuing limit ``DeactivatedDueToRequeuingLimitExceeded``). Not modelled: the eviction of a
stopped ClusterQueue's admitted workloads (``HoldAndDrain``, ``ClusterQueueStopped``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from ....kueuenames import DEACTIVATED, with_cause
from ...objects import (
    Obj,
    condition_true,
    get_condition,
    now,
    parse_time,
    set_condition,
    timestamp,
)
from ...topology import KueueSettings
from .words import (
    DEACTIVATED_MESSAGE,
    REQUEUED_AT_ONCE,
    REQUEUING_LIMIT_EXCEEDED,
    REQUEUING_LIMIT_MESSAGE,
    released_reason,
)
from .workload import COMPONENT, CYCLE, KueueApi

#: The controller's work queue: a key, and the seconds after which to reconcile it.
Enqueue = Callable[[tuple[str, ...], float], None]


def to_deactivate(wl: Obj) -> bool:
    """``spec.active`` false on a workload neither evicted nor finished yet: Kueue's workload
    controller evicts it as deactivated."""
    return (
        (wl.get("spec") or {}).get("active", True) is False
        and not condition_true(wl, "Evicted")
        and not condition_true(wl, "Finished")
    )


class Eviction:
    """Evicts, requeues and deactivates workloads; the Job's side of an eviction (stopping it)
    is the Job integration's (:mod:`.jobframework`), woken through ``enqueue``."""

    def __init__(self, kube: KueueApi, settings: KueueSettings, *, enqueue: Enqueue) -> None:
        self.kube = kube
        self.api = kube.api
        self.settings = settings
        self.enqueue = enqueue

    def evict(
        self,
        namespace: str,
        name: str,
        reason: str,
        message: str,
        *,
        preempted_reason: str = "",
        cause: str = "",
    ) -> bool:
        """Evict an admitted workload, as Kueue does: ``Evicted`` now, the Job stopped, and only
        once its pods are gone the quota released and the workload requeued."""
        wl = self.kube.store.get(self.kube.workloads, namespace, name)
        if (
            wl is None
            or not condition_true(wl, "QuotaReserved")
            or condition_true(wl, "Finished")
            or condition_true(wl, "Evicted")
        ):
            return False
        self._evict(wl, reason, message, cause=cause, preempted_reason=preempted_reason)
        return True

    def _evict(
        self,
        wl: Obj,
        reason: str,
        message: str,
        *,
        cause: str = "",
        preempted_reason: str = "",
        prepare: Callable[[Obj], object] | None = None,
    ) -> None:
        """Kueue's ``workload.Evict``: the Evicted condition, the eviction counted by reason
        and underlying cause, an ``EvictedDueTo<reason>`` event; then the Job is stopped."""
        namespace, name = wl["metadata"]["namespace"], wl["metadata"]["name"]

        def apply(status: Obj) -> None:
            if prepare is not None:
                prepare(status)
            set_condition(status, "Evicted", True, reason, message)
            if preempted_reason:
                set_condition(status, "Preempted", True, preempted_reason, message)
            stats = status.setdefault("schedulingStats", {}).setdefault("evictions", [])
            key = (reason.partition("DueTo")[0], cause)  # counted by reason and cause apart
            entry = next(
                (e for e in stats if (e.get("reason"), e.get("underlyingCause")) == key), None
            )
            if entry is None:
                stats.append({"reason": key[0], "underlyingCause": cause, "count": 1})
            else:
                entry["count"] = int(entry.get("count") or 0) + 1

        self.kube.set_status(wl, apply)
        self.api.event(wl, with_cause("Evicted", reason), message, component=COMPONENT)
        job = self.kube.owner_job(wl)
        if job is not None:
            self.enqueue(("job", namespace, job["metadata"]["name"]), 0.0)
        elif condition_true(wl, "QuotaReserved"):
            self.release(self.kube.store.get(self.kube.workloads, namespace, name) or wl)

    def release(self, wl: Obj) -> None:
        """Unset the quota reservation of an evicted workload and requeue it (with a backoff
        after a PodsReady timeout; at once after a preemption or node failures; never once
        deactivated, as it is no longer active)."""
        evicted = get_condition(wl, "Evicted") or {}
        reason, message = evicted.get("reason", ""), evicted.get("message", "")
        backoff = reason == "PodsReadyTimeout"
        requeue = dict((wl.get("status") or {}).get("requeueState") or {})
        count = int(requeue.get("count") or 0) + 1
        delay = self.settings.requeue_backoff_base * 2 ** (count - 1) if backoff else 0.0
        gate = self.settings.unadmitted_workloads_observability

        def apply(status: Obj) -> None:
            status.pop("admission", None)
            set_condition(status, "QuotaReserved", False, released_reason(gate), message)
            set_condition(
                status, "Admitted", False, "NoReservation", "The workload has no reservation"
            )
            if backoff:
                status["requeueState"] = {
                    "count": count,
                    "requeueAt": timestamp(now() + timedelta(seconds=delay)),
                }
            set_condition(status, "Requeued", reason in REQUEUED_AT_ONCE, reason, message)

        self.kube.set_status(wl, apply)
        self.enqueue(CYCLE, delay)

    def deactivate(self, namespace: str, name: str) -> None:
        """``spec.active`` false: evicted as ``Deactivated`` (``DeactivatedDueTo<cause>`` when
        Kueue set a deactivation target, e.g. past the requeuing limit), the requeue state
        cleared; an admitted workload's Job is stopped and its quota released."""
        wl = self.kube.store.get(self.kube.workloads, namespace, name)
        if wl is None or not to_deactivate(wl):
            return
        target = get_condition(wl, "DeactivationTarget") or {}
        cause = target.get("reason", "") if target.get("status") == "True" else ""
        message = DEACTIVATED_MESSAGE + (f" due to {target.get('message', '')}" if cause else "")

        def prepare(status: Obj) -> None:
            kept = [c for c in status.get("conditions") or [] if c["type"] != "DeactivationTarget"]
            status["conditions"] = kept
            status.pop("requeueState", None)

        self._evict(wl, with_cause(DEACTIVATED, cause), message, cause=cause, prepare=prepare)

    def pods_ready_timeout(self, wl: Obj) -> float | None:
        """``waitForPodsReady`` on an admitted workload whose pods are not all ready: the
        seconds left of the timeout, or (past it) evicted as ``PodsReadyTimeout`` or, past the
        requeuing limit, deactivated instead (None)."""
        timeout = self.settings.pods_ready_timeout
        admitted_at = parse_time((get_condition(wl, "Admitted") or {}).get("lastTransitionTime"))
        if timeout is None or admitted_at is None:
            return None
        left = (admitted_at + timedelta(seconds=timeout) - now()).total_seconds()
        if left > 0:
            return left + 0.05
        if self._exceeds_requeuing_limit(wl):
            return None
        ns, name = wl["metadata"]["namespace"], wl["metadata"]["name"]
        message = f"Exceeded the PodsReady timeout {ns}/{name}"
        self.evict(ns, name, "PodsReadyTimeout", message, cause="WaitForStart")
        return None

    def _exceeds_requeuing_limit(self, wl: Obj) -> bool:
        """Past the requeuing limit at a PodsReady timeout: Kueue sets a deactivation target and
        ``spec.active`` false instead of evicting once more (it is then deactivated)."""
        limit = self.settings.requeue_backoff_limit
        requeues = int(((wl.get("status") or {}).get("requeueState") or {}).get("count") or 0)
        if limit is None or requeues + 1 <= limit:
            return False
        self.kube.set_status(
            wl,
            lambda s: set_condition(
                s, "DeactivationTarget", True, REQUEUING_LIMIT_EXCEEDED, REQUEUING_LIMIT_MESSAGE
            ),
        )
        meta = wl["metadata"]
        self.api.modify(
            self.kube.workloads,
            meta["namespace"],
            meta["name"],
            lambda w: w["spec"].update(active=False),
        )
        return True
