"""Kueue-style admission of batch/v1 Jobs, under Kueue's names.

A Job labelled ``kueue.x-k8s.io/queue-name`` is suspended on create (the webhook) and gets a
Workload; an admission cycle assigns each pending Workload the first flavor of its
ClusterQueue that matches the pods' node selection, tolerates the flavor's taints and has
quota (borrowing within the cohort), then the Job is unsuspended with the flavor's node labels
and tolerations. Not modelled: preemption by priority (a fault can preempt), fair sharing,
admission checks, topology-aware scheduling, partial admission.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from ...kueuenames import DEACTIVATED, QuotaReason, with_cause
from ..api import Api
from ..objects import (
    Obj,
    clone,
    condition_true,
    get_condition,
    now,
    owner_reference,
    parse_time,
    set_condition,
    timestamp,
)
from ..quantity import Resources, format_quantity, parse_quantity, pod_requests
from ..registry import KUEUE, ResourceType
from ..selectors import Requirement, expression, untolerated_taint
from ..store import Event
from ..topology import KueueSettings
from .base import Controller
from .kueuewords import (
    DEACTIVATED_MESSAGE,
    REQUEUED_AT_ONCE,
    REQUEUING_LIMIT_EXCEEDED,
    REQUEUING_LIMIT_MESSAGE,
    exceeds_max_quota,
    quota_reason,
    released_reason,
)

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"
PODSET_LABEL = "kueue.x-k8s.io/podset"
WORKLOAD_ANNOTATION = "kueue.x-k8s.io/workload"
COMPONENT = "kueue-admission"
CYCLE = ("cycle",)
Usage = dict[tuple[str, str, str], Decimal]  # (cluster queue, flavor, resource) -> amount


def suspend_on_create(rt: ResourceType, obj: Obj) -> None:
    """Kueue's Job webhook: a Job for a LocalQueue starts suspended."""
    labels = obj["metadata"].get("labels") or {}
    if rt.plural == "jobs" and rt.group == "batch" and labels.get(QUEUE_LABEL):
        obj.setdefault("spec", {})["suspend"] = True


def workload_name(job: Obj) -> str:
    """``job-<name>-<5 hex>``, the hash over the owner's kind, group, name and uid."""
    meta = job["metadata"]
    digest = hashlib.sha1(
        "\n".join(("Job", "batch", meta["name"], meta["uid"])).encode()
    ).hexdigest()
    return f"job-{meta['name']}"[:247] + f"-{digest[:5]}"


def _admission_view(wl: Obj) -> tuple:
    """What of a workload the admission cycle reads. A change that leaves it as it was (the
    cycle's own verdict on a pending workload: a reason, a message) calls for no new cycle."""
    status = wl.get("status") or {}
    return (
        wl.get("spec"),
        (wl.get("metadata") or {}).get("deletionTimestamp"),
        status.get("admission"),
        status.get("requeueState"),
        {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"},
    )


def _to_deactivate(wl: Obj) -> bool:
    """``spec.active`` false on a workload neither evicted nor finished yet: Kueue's workload
    controller evicts it as deactivated."""
    return (
        (wl.get("spec") or {}).get("active", True) is False
        and not condition_true(wl, "Evicted")
        and not condition_true(wl, "Finished")
    )


@dataclass
class Outcome:
    """A scheduling attempt: an assignment, or why not (QuotaReserved=False reason/message)."""

    reason: QuotaReason | None = None
    message: str = ""
    flavors: dict[str, str] | None = None
    usage: Resources | None = None


class KueueController(Controller):
    name = COMPONENT

    def __init__(
        self,
        api: Api,
        settings: KueueSettings,
        stalled: Callable[[], set[str]] = set,
    ) -> None:
        super().__init__(api)
        self.settings = settings
        self.stalled = stalled
        self.jobs = self.registry.get("jobs", "batch")
        self.workloads = self.registry.get("workloads", KUEUE)
        self.flavors_rt = self.registry.get("resourceflavors", KUEUE)
        self.cqs = self.registry.get("clusterqueues", KUEUE)
        self.lqs = self.registry.get("localqueues", KUEUE)
        self._last_message: dict[str, str] = {}
        # Verdicts on pending workloads: uid -> (resourceVersion written, epoch). The epoch moves
        # whenever what admission depends on besides the workload changes (usage, queues,
        # flavors, stalls); a workload judged in this epoch and unchanged since is not re-judged.
        self._verdicts: dict[str, tuple[str, int]] = {}
        self._epoch = 0
        self._judged_on: tuple | None = None

    # -- events -----------------------------------------------------------------------------------

    def keys(self, event: Event) -> Iterable[Hashable]:
        meta = event.obj["metadata"]
        if event.rt is self.jobs:
            if event.type == "DELETED":
                yield ("cleanup", meta["namespace"], meta["uid"])
            elif QUEUE_LABEL in (meta.get("labels") or {}) or self._owns_workload(event.obj):
                yield ("job", meta["namespace"], meta["name"])
        elif event.rt is self.workloads:
            if event.type != "MODIFIED" or _admission_view(event.obj) != _admission_view(
                event.old or {}
            ):
                yield CYCLE
            if _to_deactivate(event.obj) and event.type != "DELETED":
                yield ("deactivate", meta["namespace"], meta["name"])
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") == "Job":
                    yield ("job", meta["namespace"], ref["name"])
        elif event.rt in (self.cqs, self.lqs, self.flavors_rt) and (
            event.type != "MODIFIED" or event.obj.get("spec") != (event.old or {}).get("spec")
        ):
            yield CYCLE

    def initial_keys(self) -> Iterable[Hashable]:
        keys: list[Hashable] = [
            ("job", j["metadata"]["namespace"], j["metadata"]["name"])
            for j in self.store.list(self.jobs)
        ]
        return [*keys, CYCLE]

    def _owns_workload(self, job: Obj) -> bool:
        return any(rt is self.workloads for rt, _ in self.store.dependents(job["metadata"]["uid"]))

    async def reconcile(self, key: Hashable) -> float | None:
        kind = key[0]  # type: ignore[index]
        if kind == "cycle":
            return self._admission_cycle()
        if kind == "cleanup":
            _, ns, uid = key  # type: ignore[misc]
            for wl in self.api.select(
                self.workloads, ns, (Requirement(JOB_UID_LABEL, "In", (uid,)),)
            ):
                self.api.delete(
                    self.workloads, ns, wl["metadata"]["name"], {"propagationPolicy": "Background"}
                )
            return None
        _, ns, name = key  # type: ignore[misc]
        if kind == "deactivate":
            self._deactivate(ns, name)
            return None
        return self._reconcile_job(ns, name)

    # -- the job side (Kueue's jobframework reconciler) -------------------------------------------

    def _owner_job(self, wl: Obj) -> Obj | None:
        for ref in wl["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Job":
                job = self.store.get(self.jobs, wl["metadata"]["namespace"], ref.get("name", ""))
                if job is not None and job["metadata"]["uid"] == ref.get("uid"):
                    return job
        return None

    def _workload_of(self, job: Obj) -> Obj | None:
        for rt, obj in self.store.dependents(job["metadata"]["uid"]):
            if rt is self.workloads:
                return obj
        return None

    def _reconcile_job(self, ns: str, name: str) -> float | None:
        job = self.store.get(self.jobs, ns, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        queue = (job["metadata"].get("labels") or {}).get(QUEUE_LABEL)
        wl = self._workload_of(job)
        finished = condition_true(job, "Complete") or condition_true(job, "Failed")
        if wl is None:
            if queue and not finished:
                self._create_workload(job, queue)
            return None
        wl_name = wl["metadata"]["name"]
        if finished:
            if not condition_true(wl, "Finished"):
                failed = get_condition(job, "Failed")
                reason, message = (
                    ("Failed", failed.get("message", "Job failed"))
                    if failed and failed.get("status") == "True"
                    else ("Succeeded", "Job finished successfully")
                )
                self._set_status(wl, lambda s: set_condition(s, "Finished", True, reason, message))
                self.api.event(
                    job,
                    "FinishedWorkload",
                    f"Workload '{ns}/{wl_name}' is declared finished",
                    component=COMPONENT,
                )
            return None
        suspended = bool((job.get("spec") or {}).get("suspend"))
        reserved = condition_true(wl, "QuotaReserved")
        if (
            queue
            and queue != (wl.get("spec") or {}).get("queueName")
            and suspended
            and not reserved
        ):
            self.api.modify(
                self.workloads, ns, wl_name, lambda w: w["spec"].update(queueName=queue)
            )
            self.api.event(
                job,
                "UpdatedWorkload",
                f"Updated queue name of workload {ns}/{wl_name} to {queue}",
                component=COMPONENT,
            )
            return None
        if condition_true(wl, "Evicted") and condition_true(wl, "QuotaReserved"):
            self._finish_eviction(job, wl)
            return None
        admitted = condition_true(wl, "Admitted")
        if admitted and suspended:
            self._start(job, wl)
        elif not admitted and not suspended:
            self._stop(job, wl)
        if admitted and not suspended:
            return self._pods_ready(job, wl)
        return None

    def _create_workload(self, job: Obj, queue: str) -> None:
        spec = job.get("spec") or {}
        count = int(spec.get("parallelism", 1))
        if spec.get("completions") is not None:
            count = min(count, int(spec["completions"]))
        template = clone(spec.get("template") or {})
        wl = {
            "apiVersion": self.workloads.api_version(),
            "kind": "Workload",
            "metadata": {
                "name": workload_name(job),
                "labels": {JOB_UID_LABEL: job["metadata"]["uid"]},
                "ownerReferences": [owner_reference(job)],
            },
            "spec": {
                "queueName": queue,
                "podSets": [{"name": "main", "count": count, "template": template}],
                "priority": 0,
                "active": True,
            },
        }
        created = self.api.create(self.workloads, job["metadata"]["namespace"], wl)
        message = f"Created Workload: {job['metadata']['namespace']}/{created['metadata']['name']}"
        self.api.event(job, "CreatedWorkload", message, component=COMPONENT)

    def _start(self, job: Obj, wl: Obj) -> None:
        """Unsuspend with the flavors' node labels and tolerations, as Kueue does."""
        admission = (wl.get("status") or {}).get("admission") or {}
        flavor_names = {
            f
            for psa in admission.get("podSetAssignments") or []
            for f in (psa.get("flavors") or {}).values()
        }
        node_labels: dict[str, str] = {}
        tolerations: list[Obj] = []
        for flavor_name in sorted(flavor_names):
            flavor = self.store.get(self.flavors_rt, "", flavor_name) or {}
            node_labels.update((flavor.get("spec") or {}).get("nodeLabels") or {})
            tolerations += (flavor.get("spec") or {}).get("tolerations") or []
        cq = admission.get("clusterQueue", "")
        lq = (wl.get("spec") or {}).get("queueName", "")

        def start(j: Obj) -> None:
            template = j["spec"].setdefault("template", {})
            tmeta = template.setdefault("metadata", {})
            tmeta.setdefault("labels", {}).update(
                {
                    PODSET_LABEL: "main",
                    "kueue.x-k8s.io/cluster-queue-name": cq,
                    "kueue.x-k8s.io/local-queue-name": lq,
                }
            )
            tmeta.setdefault("annotations", {})[WORKLOAD_ANNOTATION] = wl["metadata"]["name"]
            pod_spec = template.setdefault("spec", {})
            if node_labels:
                pod_spec.setdefault("nodeSelector", {}).update(node_labels)
            existing = pod_spec.setdefault("tolerations", [])
            existing += [t for t in tolerations if t not in existing]
            if not existing:
                pod_spec.pop("tolerations")
            j["spec"]["suspend"] = False

        self.api.modify(self.jobs, job["metadata"]["namespace"], job["metadata"]["name"], start)
        self.api.event(job, "Started", f"Admitted by clusterQueue {cq}", component=COMPONENT)

    def _stop(self, job: Obj, wl: Obj) -> None:
        """Suspend again and restore the original scheduling directives (eviction)."""
        original = ((wl.get("spec") or {}).get("podSets") or [{}])[0].get("template") or {}

        def stop(j: Obj) -> None:
            template = j["spec"].setdefault("template", {})
            pod_spec = template.setdefault("spec", {})
            for field in ("nodeSelector", "tolerations"):
                if field in (original.get("spec") or {}):
                    pod_spec[field] = clone(original["spec"][field])
                else:
                    pod_spec.pop(field, None)
            tmeta = template.setdefault("metadata", {})
            for field in ("labels", "annotations"):
                if field in (original.get("metadata") or {}):
                    tmeta[field] = clone(original["metadata"][field])
                else:
                    tmeta.pop(field, None)
            j["spec"]["suspend"] = True

        self.api.modify(self.jobs, job["metadata"]["namespace"], job["metadata"]["name"], stop)
        evicted = get_condition(wl, "Evicted")
        message = (
            evicted.get("message")
            if evicted and evicted.get("status") == "True"
            else "Not admitted by cluster queue"
        )
        self.api.event(job, "Stopped", message, component=COMPONENT)

    def _pods_ready(self, job: Obj, wl: Obj) -> float | None:
        status = job.get("status") or {}
        count = ((wl.get("spec") or {}).get("podSets") or [{}])[0].get("count", 1)
        ready = int(status.get("ready") or 0) + int(status.get("succeeded") or 0) >= int(count)
        if ready:
            self._set_status(
                wl,
                lambda s: set_condition(
                    s,
                    "PodsReady",
                    True,
                    "Started",
                    "All pods reached readiness and the workload is running",
                ),
            )
            return None
        self._set_status(
            wl,
            lambda s: set_condition(
                s, "PodsReady", False, "WaitForStart", "Not all pods are ready or succeeded"
            ),
        )
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

    # -- eviction and requeueing ------------------------------------------------------------------

    def evict(
        self,
        namespace: str,
        name: str,
        reason: str,
        message: str,
        preempted_reason: str = "",
        cause: str = "",
    ) -> bool:
        """Evict an admitted workload, as Kueue does: ``Evicted`` now, the Job stopped, and only
        once its pods are gone the quota released and the workload requeued."""
        wl = self.store.get(self.workloads, namespace, name)
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

        self._set_status(wl, apply)
        self.api.event(wl, with_cause("Evicted", reason), message, component=COMPONENT)
        job = self._owner_job(wl)
        if job is not None:
            self.enqueue(("job", namespace, job["metadata"]["name"]))
        elif condition_true(wl, "QuotaReserved"):
            self._release(self.store.get(self.workloads, namespace, name) or wl)

    def _finish_eviction(self, job: Obj, wl: Obj) -> None:
        """Stop the evicted workload's Job; once no pod of it is left, release the quota."""
        if not (job.get("spec") or {}).get("suspend"):
            self._stop(job, wl)
            return
        status = job.get("status") or {}
        if int(status.get("active") or 0) + int(status.get("terminating") or 0) > 0:
            return  # woken again when the Job controller counts its pods gone
        self._release(wl)

    def _release(self, wl: Obj) -> None:
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

        self._set_status(wl, apply)
        self.enqueue(CYCLE, delay)

    def _deactivate(self, namespace: str, name: str) -> None:
        """``spec.active`` false: evicted as ``Deactivated`` (``DeactivatedDueTo<cause>`` when
        Kueue set a deactivation target, e.g. past the requeuing limit), the requeue state
        cleared; an admitted workload's Job is stopped and its quota released."""
        wl = self.store.get(self.workloads, namespace, name)
        if wl is None or not _to_deactivate(wl):
            return
        target = get_condition(wl, "DeactivationTarget") or {}
        cause = target.get("reason", "") if target.get("status") == "True" else ""
        message = DEACTIVATED_MESSAGE + (f" due to {target.get('message', '')}" if cause else "")

        def prepare(status: Obj) -> None:
            kept = [c for c in status.get("conditions") or [] if c["type"] != "DeactivationTarget"]
            status["conditions"] = kept
            status.pop("requeueState", None)

        self._evict(wl, with_cause(DEACTIVATED, cause), message, cause=cause, prepare=prepare)

    def _exceeds_requeuing_limit(self, wl: Obj) -> bool:
        """Past the requeuing limit at a PodsReady timeout: Kueue sets a deactivation target and
        ``spec.active`` false instead of evicting once more (it is then deactivated)."""
        limit = self.settings.requeue_backoff_limit
        requeues = int(((wl.get("status") or {}).get("requeueState") or {}).get("count") or 0)
        if limit is None or requeues + 1 <= limit:
            return False
        self._set_status(
            wl,
            lambda s: set_condition(
                s, "DeactivationTarget", True, REQUEUING_LIMIT_EXCEEDED, REQUEUING_LIMIT_MESSAGE
            ),
        )
        meta = wl["metadata"]
        self.api.modify(
            self.workloads,
            meta["namespace"],
            meta["name"],
            lambda w: w["spec"].update(active=False),
        )
        return True

    # -- admission cycle --------------------------------------------------------------------------

    def _admission_cycle(self) -> float | None:
        flavors = {f["metadata"]["name"]: f for f in self.store.list(self.flavors_rt)}
        cqs = {c["metadata"]["name"]: c for c in self.store.list(self.cqs)}
        lqs = {
            (q["metadata"]["namespace"], q["metadata"]["name"]): q
            for q in self.store.list(self.lqs)
        }
        workloads = self.store.list(self.workloads)
        usage: Usage = {}
        pending: list[Obj] = []
        wake: float | None = None
        for wl in workloads:
            if condition_true(wl, "Finished"):
                continue
            if condition_true(wl, "QuotaReserved"):
                admission = wl["status"].get("admission") or {}
                self._add_usage(usage, admission)
            elif (wl.get("spec") or {}).get("active", True) and not wl["metadata"].get(
                "deletionTimestamp"
            ):
                pending.append(wl)
        stalled = self.stalled()
        pending.sort(
            key=lambda w: (
                -int((w.get("spec") or {}).get("priority") or 0),
                w["metadata"]["creationTimestamp"],
                w["metadata"]["name"],
            )
        )
        if self._inputs(usage, cqs, lqs, flavors, stalled) != self._judged_on:
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
            outcome = self._try_admit(wl, lqs, cqs, flavors, usage, stalled)
            if outcome.flavors is not None:
                self._add_usage(usage, self._admit(wl, lqs, outcome))
                self._epoch += 1  # the usage changed: every verdict so far may change
            else:
                written = self._not_admitted(wl, outcome)
                if written is not None:
                    verdicts[uid] = (written["metadata"]["resourceVersion"], self._epoch)
        self._verdicts = verdicts
        self._judged_on = self._inputs(usage, cqs, lqs, flavors, stalled)
        self._queue_statuses(cqs, lqs, workloads, flavors)
        return wake

    @staticmethod
    def _inputs(usage: Usage, cqs: dict, lqs: dict, flavors: dict, stalled: set[str]) -> tuple:
        """What a pending workload's verdict depends on besides the workload itself."""
        return (
            dict(usage),
            {name: cq.get("spec") for name, cq in cqs.items()},
            {key: lq.get("spec") for key, lq in lqs.items()},
            {name: flavor.get("spec") for name, flavor in flavors.items()},
            stalled,
        )

    def _stored_version(self, wl: Obj) -> str | None:
        """The workload's resourceVersion as stored now (this cycle may have written it)."""
        meta = wl["metadata"]
        current = self.store.get(self.workloads, meta["namespace"], meta["name"])
        return current["metadata"]["resourceVersion"] if current else None

    def _backoff_left(self, wl: Obj) -> float:
        status = wl.get("status") or {}
        requeue_at = parse_time((status.get("requeueState") or {}).get("requeueAt"))
        requeued = get_condition(wl, "Requeued")
        if requeue_at is None or (requeued and requeued.get("status") == "True"):
            return 0.0
        left = (requeue_at - now()).total_seconds()
        if left > 0:
            return left + 0.05
        self._set_status(
            wl,
            lambda s: set_condition(
                s, "Requeued", True, "BackoffFinished", "The workload backoff was finished"
            ),
        )
        return 0.0

    @staticmethod
    def _reserved(admission: Obj) -> Iterator[tuple[str, str, Decimal]]:
        """(flavor, resource, amount) for each resource an admission reserves."""
        for psa in admission.get("podSetAssignments") or []:
            flavors = psa.get("flavors") or {}
            for res, amount in (psa.get("resourceUsage") or {}).items():
                if flavors.get(res):
                    yield flavors[res], res, parse_quantity(amount)

    @classmethod
    def _add_usage(cls, usage: Usage, admission: Obj) -> None:
        cq = admission.get("clusterQueue", "")
        for flavor, res, amount in cls._reserved(admission):
            key = (cq, flavor, res)
            usage[key] = usage.get(key, Decimal(0)) + amount

    def _try_admit(
        self, wl: Obj, lqs: dict, cqs: dict, flavors: dict, usage: Usage, stalled: set[str]
    ) -> Outcome:
        ns = wl["metadata"]["namespace"]
        queue = (wl.get("spec") or {}).get("queueName", "")
        lq = lqs.get((ns, queue))
        if lq is None:
            return Outcome(QuotaReason.MISCONFIGURED, f"LocalQueue {queue} doesn't exist")
        cq_name = (lq.get("spec") or {}).get("clusterQueue", "")
        cq = cqs.get(cq_name)
        if cq is None:
            return Outcome(QuotaReason.MISCONFIGURED, f"ClusterQueue {cq_name} doesn't exist")
        missing = self._missing_flavors(cq, flavors)
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
        return self._assign(
            pod_set.get("name", "main"),
            pod_spec,
            total,
            cq,
            cqs,
            flavors,
            usage,
            cq_name in stalled,
        )

    def _missing_flavors(self, cq: Obj, flavors: dict) -> list[str]:
        names = [
            f["name"]
            for g in (cq.get("spec") or {}).get("resourceGroups") or []
            for f in g.get("flavors") or []
        ]
        return [n for n in names if n not in flavors]

    def _assign(
        self,
        pod_set: str,
        pod_spec: Obj,
        total: Resources,
        cq: Obj,
        cqs: dict,
        flavors: dict,
        usage: Usage,
        stalled: bool,
    ) -> Outcome:
        cq_name = cq["metadata"]["name"]
        groups = (cq.get("spec") or {}).get("resourceGroups") or []
        covered = {r for g in groups for r in g.get("coveredResources") or []}
        prefix = f"couldn't assign flavors to pod set {pod_set}: "
        for res in sorted(total):
            if res not in covered:
                return Outcome(
                    QuotaReason.NO_MATCHING_FLAVOR,
                    f"{prefix}resource {res} unavailable in ClusterQueue",
                )
        assignment: dict[str, str] = {}
        for group in groups:
            wanted = {r: q for r, q in total.items() if r in (group.get("coveredResources") or [])}
            if not wanted and total:
                continue
            reasons: list[tuple[QuotaReason, str]] = []
            for flavor_quota in group.get("flavors") or []:
                flavor = flavors[flavor_quota["name"]]
                why = self._flavor_mismatch(pod_spec, flavor)
                if why:
                    reasons.append((QuotaReason.NO_MATCHING_FLAVOR, why))
                    continue
                why = self._quota_shortfall(cq_name, cq, cqs, flavor_quota, wanted, usage, stalled)
                if why:
                    reasons.append(why)
                    continue
                for res in group.get("coveredResources") or []:
                    assignment[res] = flavor_quota["name"]
                break
            else:
                # the most schedulable flavor's reason: waiting beats a limit beats a mismatch
                kinds = {r for r, _ in reasons}
                order = (QuotaReason.WAITING_FOR_QUOTA, QuotaReason.EXCEEDS_MAX_QUOTA)
                reason = next((k for k in order if k in kinds), QuotaReason.NO_MATCHING_FLAVOR)
                message = prefix + ", ".join(sorted(m for _, m in reasons))
                return Outcome(reason, message)
        used = {r: assignment[r] for r in total if r in assignment} or {
            r: f for r, f in assignment.items() if r == "cpu"
        }
        return Outcome(flavors=used or dict(assignment), usage=total)

    @staticmethod
    def _flavor_mismatch(pod_spec: Obj, flavor: Obj) -> str:
        """Why a flavor is not eligible: its node labels contradict the pod's node selection
        (only the keys the flavor defines count), or it has a taint the pod does not tolerate."""
        spec = flavor.get("spec") or {}
        name = flavor["metadata"]["name"]
        labels = spec.get("nodeLabels") or {}
        selector = pod_spec.get("nodeSelector") or {}
        clash = any(k in labels and labels[k] != v for k, v in selector.items())
        required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        terms = required.get("nodeSelectorTerms") or []
        if terms and not any(
            all(
                expression(e).matches(labels)
                for e in t.get("matchExpressions") or []
                if e.get("key") in labels
            )
            for t in terms
        ):
            clash = True
        if clash:
            return f"flavor {name} doesn't match node affinity"
        tolerations = (pod_spec.get("tolerations") or []) + (spec.get("tolerations") or [])
        taint = untolerated_taint(tolerations, spec.get("nodeTaints") or [])
        if taint:
            text = f"{taint.get('key')} {taint.get('value', '')} {taint.get('effect')} <nil>"
            return f"untolerated taint {{{text}}} in flavor {name}"
        return ""

    def _quota_shortfall(
        self,
        cq_name: str,
        cq: Obj,
        cqs: dict,
        flavor_quota: Obj,
        wanted: Resources,
        usage: Usage,
        stalled: bool,
    ) -> tuple[QuotaReason, str] | None:
        flavor = flavor_quota["name"]
        quotas = {r["name"]: r for r in flavor_quota.get("resources") or []}
        cohort = (cq.get("spec") or {}).get("cohortName")
        peers = [
            c for c in cqs.values() if cohort and (c.get("spec") or {}).get("cohortName") == cohort
        ]
        for res, amount in sorted(wanted.items()):
            quota = quotas.get(res)
            nominal = parse_quantity(quota["nominalQuota"]) if quota else Decimal(0)
            used = usage.get((cq_name, flavor, res), Decimal(0))
            shown = format_quantity(amount, res)
            if stalled:
                return (
                    QuotaReason.WAITING_FOR_QUOTA,
                    f"insufficient unused quota for {res} in flavor {flavor}, {shown} more needed",
                )
            limit = (
                parse_quantity(quota["borrowingLimit"])
                if quota and quota.get("borrowingLimit") is not None
                else None
            )
            cohort_nominal = sum((self._nominal(p, flavor, res) for p in peers), Decimal(0))
            cohort_used = sum(
                (usage.get((p["metadata"]["name"], flavor, res), Decimal(0)) for p in peers),
                Decimal(0),
            )
            borrowable = max(cohort_nominal - nominal, Decimal(0)) if peers else Decimal(0)
            if limit is not None:
                borrowable = min(borrowable, limit)
            maximum = nominal + borrowable
            if amount > maximum:
                most = format_quantity(maximum, res)
                return QuotaReason.EXCEEDS_MAX_QUOTA, exceeds_max_quota(res, flavor, shown, most)
            if peers:
                available = min(maximum - used, cohort_nominal - cohort_used)
            else:
                available = nominal - used
            if amount > available:
                more = format_quantity(amount - max(available, Decimal(0)), res)
                return (
                    QuotaReason.WAITING_FOR_QUOTA,
                    f"insufficient unused quota for {res} in flavor {flavor}, {more} more needed",
                )
        return None

    @staticmethod
    def _nominal(cq: Obj, flavor: str, res: str) -> Decimal:
        for group in (cq.get("spec") or {}).get("resourceGroups") or []:
            for fq in group.get("flavors") or []:
                if fq.get("name") == flavor:
                    for r in fq.get("resources") or []:
                        if r.get("name") == res:
                            return parse_quantity(r.get("nominalQuota", 0))
        return Decimal(0)

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

        self._set_status(wl, apply)
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

        written = self._set_status(wl, apply)
        uid = wl["metadata"]["uid"]
        if self._last_message.get(uid) != outcome.message:
            self._last_message[uid] = outcome.message
            self.api.event(wl, reason, outcome.message, type="Warning", component=COMPONENT)
        return written

    def _set_status(self, wl: Obj, change: Callable[[Obj], object]) -> Obj | None:
        """Change the workload's status; the workload as stored then (None if it is gone)."""
        meta = wl["metadata"]
        return self.api.modify(
            self.workloads,
            meta["namespace"],
            meta["name"],
            lambda w: change(w.setdefault("status", {})),
        )

    # -- queue statuses ---------------------------------------------------------------------------

    def _queue_statuses(self, cqs: dict, lqs: dict, workloads: list[Obj], flavors: dict) -> None:
        counts: dict[tuple, dict[str, int]] = {}
        reserved: dict[tuple, dict[tuple[str, str], Decimal]] = {}
        for wl in workloads:
            if condition_true(wl, "Finished"):
                continue
            ns, queue = wl["metadata"]["namespace"], (wl.get("spec") or {}).get("queueName", "")
            lq = lqs.get((ns, queue))
            cq = (lq.get("spec") or {}).get("clusterQueue") if lq else None
            state = "admittedWorkloads" if condition_true(wl, "Admitted") else "pendingWorkloads"
            reserving = condition_true(wl, "QuotaReserved")
            amounts = list(self._reserved(wl["status"].get("admission") or {})) if reserving else []
            for key in (("lq", ns, queue), ("cq", cq)):
                bucket = counts.setdefault(
                    key, {"pendingWorkloads": 0, "reservingWorkloads": 0, "admittedWorkloads": 0}
                )
                bucket[state] += 1
                if reserving:
                    bucket["reservingWorkloads"] += 1
                    slot = reserved.setdefault(key, {})
                    for flavor, res, amount in amounts:
                        slot[(flavor, res)] = slot.get((flavor, res), Decimal(0)) + amount
        for name, cq in cqs.items():
            key = ("cq", name)
            missing = self._missing_flavors(cq, flavors)
            active = (
                (True, "Ready", "Can admit new workloads")
                if not missing
                else (
                    False,
                    "FlavorNotFound",
                    f"Can't admit new workloads: references missing ResourceFlavor(s): {missing}",
                )
            )
            self._write_queue_status(
                self.cqs,
                "",
                name,
                counts.get(key),
                self._flavor_usage(cq, reserved.get(key, {})),
                active,
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
            self._write_queue_status(
                self.lqs,
                ns,
                name,
                counts.get(key),
                self._flavor_usage(cq, reserved.get(key, {})) if cq else [],
                active,
            )

    @staticmethod
    def _flavor_usage(cq: Obj, reserved: dict[tuple[str, str], Decimal]) -> list[Obj]:
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
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        counts: dict | None,
        usage: list[Obj],
        active: tuple,
    ) -> None:
        counts = counts or {"pendingWorkloads": 0, "reservingWorkloads": 0, "admittedWorkloads": 0}

        def apply(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            status.update(counts)
            status["flavorsReservation"] = usage
            status["flavorsUsage"] = usage
            set_condition(status, "Active", active[0], active[1], active[2])

        self.api.modify(rt, ns, name, apply)
