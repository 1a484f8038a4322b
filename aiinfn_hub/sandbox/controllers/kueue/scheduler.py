"""The admission cycle: pending workloads get a quota reservation and are admitted, or a
``QuotaReserved=False`` condition saying why not.

Imitates Kueue's scheduler (pkg/scheduler: ``schedule``, ``requeueAndUpdate``) and the workload
controller's verdict on a workload whose queue is missing or inactive: pending workloads in
order of priority then age, each assigned flavors (:mod:`.flavorassigner`) against the quota
the admitted ones use; admitted with ``QuotaReserved``/``Admitted`` and their events, or
``Pending``/``Inadmissible`` (the detailed reasons with the ``UnadmittedWorkloadsObservability``
gate, see :mod:`.words`). A workload in its requeue backoff waits until ``requeueAt``. Not
modelled: preemption by priority (a fault can preempt), fair sharing, admission checks,
topology-aware scheduling, partial admission.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ....kube.quantity import format_quantity
from ....kueuenames import QuotaReason, queue_order
from ...objects import (
    Obj,
    clone,
    condition_true,
    get_condition,
    now,
    parse_time,
    set_condition,
)
from ...quantity import pod_requests
from ...topology import KueueSettings
from .flavorassigner import Outcome, Usage, assign
from .queuestatus import write_queue_statuses
from .words import quota_reason
from .workload import COMPONENT, KueueApi, missing_flavors, reserved


class Scheduler:
    """Runs admission cycles; remembers its verdicts so that a cycle on the same inputs
    rewrites nothing."""

    def __init__(
        self, kube: KueueApi, settings: KueueSettings, *, stalled: Callable[[], set[str]]
    ) -> None:
        self.kube = kube
        self.api = kube.api
        self.settings = settings
        self.stalled = stalled
        self._last_message: dict[str, str] = {}
        # Verdicts on pending workloads: uid -> (resourceVersion written, epoch). The epoch moves
        # whenever what admission depends on besides the workload changes (usage, queues,
        # flavors, stalls); a workload judged in this epoch and unchanged since is not re-judged.
        self._verdicts: dict[str, tuple[str, int]] = {}
        self._epoch = 0
        self._judged_on: tuple | None = None

    def cycle(self) -> float | None:
        """One admission cycle over every pending workload, then the queues' statuses; the
        seconds until the first requeue backoff ends, if any."""
        kube = self.kube
        flavors = {f["metadata"]["name"]: f for f in kube.store.list(kube.flavors)}
        cqs = {c["metadata"]["name"]: c for c in kube.store.list(kube.cqs)}
        lqs = {
            (q["metadata"]["namespace"], q["metadata"]["name"]): q
            for q in kube.store.list(kube.lqs)
        }
        workloads = kube.store.list(kube.workloads)
        usage: Usage = {}
        pending: list[Obj] = []
        wake: float | None = None
        for wl in workloads:
            if condition_true(wl, "Finished"):
                continue
            if condition_true(wl, "QuotaReserved"):
                admission = wl["status"].get("admission") or {}
                _add_usage(usage, admission)
            elif (wl.get("spec") or {}).get("active", True) and not wl["metadata"].get(
                "deletionTimestamp"
            ):
                pending.append(wl)
        stalled = self.stalled()
        pending.sort(key=queue_order)
        if _inputs(usage, cqs, lqs, flavors, stalled) != self._judged_on:
            self._epoch += 1
        verdicts: dict[str, tuple[str, int]] = {}
        for wl in pending:
            backoff = self._backoff_left(wl)
            if backoff > 0:
                wake = backoff if wake is None else min(wake, backoff)
                continue
            uid = wl["metadata"]["uid"]
            if self._verdicts.get(uid) == (self._stored_version(wl), self._epoch):
                verdicts[uid] = self._verdicts[uid]  # judged on the same inputs, as written
                continue
            outcome = _try_admit(
                wl, lqs=lqs, cqs=cqs, flavors=flavors, usage=usage, stalled=stalled
            )
            if outcome.flavors is not None:
                _add_usage(usage, self._admit(wl, lqs, outcome))
                self._epoch += 1  # the usage changed: every verdict so far may change
            else:
                written = self._not_admitted(wl, outcome)
                if written is not None:
                    verdicts[uid] = (written["metadata"]["resourceVersion"], self._epoch)
        self._verdicts = verdicts
        self._judged_on = _inputs(usage, cqs, lqs, flavors, stalled)
        write_queue_statuses(kube, cqs=cqs, lqs=lqs, workloads=workloads, flavors=flavors)
        return wake

    def _stored_version(self, wl: Obj) -> str | None:
        """The workload's resourceVersion as stored now (this cycle may have written it)."""
        meta = wl["metadata"]
        current = self.kube.store.get(self.kube.workloads, meta["namespace"], meta["name"])
        return current["metadata"]["resourceVersion"] if current else None

    def _backoff_left(self, wl: Obj) -> float:
        """Seconds left of a requeued workload's backoff; at its end ``Requeued=True``
        (``BackoffFinished``) is written and the workload may be admitted (0)."""
        status = wl.get("status") or {}
        requeue_at = parse_time((status.get("requeueState") or {}).get("requeueAt"))
        requeued = get_condition(wl, "Requeued")
        if requeue_at is None or (requeued and requeued.get("status") == "True"):
            return 0.0
        left = (requeue_at - now()).total_seconds()
        if left > 0:
            return left + 0.05
        self.kube.set_status(
            wl,
            lambda s: set_condition(
                s, "Requeued", True, "BackoffFinished", "The workload backoff was finished"
            ),
        )
        return 0.0

    def _admit(self, wl: Obj, lqs: dict, outcome: Outcome) -> Obj:
        """Reserve the quota and admit; the admission written."""
        ns = wl["metadata"]["namespace"]
        cq = lqs[(ns, wl["spec"]["queueName"])]["spec"]["clusterQueue"]
        pod_set = wl["spec"]["podSets"][0]
        created = parse_time(wl["metadata"]["creationTimestamp"]) or now()
        waited = int((now() - created).total_seconds())
        admission = {
            "clusterQueue": cq,
            "podSetAssignments": [
                {
                    "name": pod_set.get("name", "main"),
                    "flavors": outcome.flavors,
                    "resourceUsage": {
                        r: format_quantity(q, r) for r, q in (outcome.usage or {}).items()
                    },
                    "count": int(pod_set.get("count", 1)),
                }
            ],
        }

        def apply(status: Obj) -> None:
            status["admission"] = clone(admission)
            set_condition(
                status,
                "QuotaReserved",
                True,
                "QuotaReserved",
                f"Quota reserved in ClusterQueue {cq}",
            )
            set_condition(status, "Admitted", True, "Admitted", "The workload is admitted")
            evicted = get_condition(status.get("conditions") or [], "Evicted")
            if evicted and evicted.get("status") == "True":
                set_condition(
                    status,
                    "Evicted",
                    False,
                    "QuotaReserved",
                    f"Previously: {evicted.get('message', '')}",
                )
            if get_condition(status.get("conditions") or [], "Preempted"):
                set_condition(status, "Preempted", False, "QuotaReserved", "")

        self.kube.set_status(wl, apply)
        self._last_message.pop(wl["metadata"]["uid"], None)
        self.api.event(
            wl,
            "QuotaReserved",
            f"Quota reserved in ClusterQueue {cq}, wait time since queued was {waited}s",
            component=COMPONENT,
        )
        self.api.event(
            wl,
            "Admitted",
            f"Admitted by ClusterQueue {cq}, wait time since reservation was 0s",
            component=COMPONENT,
        )
        return admission

    def _not_admitted(self, wl: Obj, outcome: Outcome) -> Obj | None:
        """QuotaReserved=False in the words of the Kueue release modelled (the gate or not);
        Admitted turns False only where it was True (Kueue's SyncAdmittedCondition)."""
        assert outcome.reason is not None
        reason = quota_reason(outcome.reason, self.settings.unadmitted_workloads_observability)

        def apply(status: Obj) -> None:
            set_condition(status, "QuotaReserved", False, reason, outcome.message)
            if condition_true({"status": status}, "Admitted"):
                set_condition(
                    status, "Admitted", False, "NoReservation", "The workload has no reservation"
                )

        written = self.kube.set_status(wl, apply)
        uid = wl["metadata"]["uid"]
        if self._last_message.get(uid) != outcome.message:
            self._last_message[uid] = outcome.message
            self.api.event(wl, reason, outcome.message, type="Warning", component=COMPONENT)
        return written


def _inputs(usage: Usage, cqs: dict, lqs: dict, flavors: dict, stalled: set[str]) -> tuple:
    """What a pending workload's verdict depends on besides the workload itself."""
    return (
        dict(usage),
        {name: cq.get("spec") for name, cq in cqs.items()},
        {key: lq.get("spec") for key, lq in lqs.items()},
        {name: flavor.get("spec") for name, flavor in flavors.items()},
        stalled,
    )


def _add_usage(usage: Usage, admission: Obj) -> None:
    """Add what an admission reserves to ``usage``."""
    cq = admission.get("clusterQueue", "")
    for flavor, res, amount in reserved(admission):
        key = (cq, flavor, res)
        usage[key] = usage.get(key, Decimal(0)) + amount


def _try_admit(
    wl: Obj, *, lqs: dict, cqs: dict, flavors: dict, usage: Usage, stalled: set[str]
) -> Outcome:
    """Judge one pending workload: its queues' problems first (``Misconfigured`` for a missing
    LocalQueue, ClusterQueue or flavor, ``Suspended`` for a stopped ClusterQueue), then the
    flavor assignment of its pod set."""
    ns = wl["metadata"]["namespace"]
    queue = (wl.get("spec") or {}).get("queueName", "")
    lq = lqs.get((ns, queue))
    if lq is None:
        return Outcome(QuotaReason.MISCONFIGURED, f"LocalQueue {queue} doesn't exist")
    cq_name = (lq.get("spec") or {}).get("clusterQueue", "")
    cq = cqs.get(cq_name)
    if cq is None:
        return Outcome(QuotaReason.MISCONFIGURED, f"ClusterQueue {cq_name} doesn't exist")
    missing = missing_flavors(cq, flavors)
    if missing:
        return Outcome(QuotaReason.MISCONFIGURED, f"ClusterQueue {cq_name} is inactive")
    if (cq.get("spec") or {}).get("stopPolicy", "None") != "None":
        # Kueue 0.17 writes a stopped ClusterQueue's pending workloads as it writes any
        # inactive one (seen on the real control plane: Inadmissible, "... is inactive")
        return Outcome(QuotaReason.SUSPENDED, f"ClusterQueue {cq_name} is inactive")
    pod_set = ((wl.get("spec") or {}).get("podSets") or [{}])[0]
    pod_spec = (pod_set.get("template") or {}).get("spec") or {}
    count = int(pod_set.get("count", 1))
    per_pod = pod_requests(pod_spec)
    total = {r: q * count for r, q in per_pod.items() if q > 0}
    return assign(
        pod_set=pod_set.get("name", "main"),
        pod_spec=pod_spec,
        total=total,
        cq=cq,
        cqs=cqs,
        flavors=flavors,
        usage=usage,
        stalled=cq_name in stalled,
    )
