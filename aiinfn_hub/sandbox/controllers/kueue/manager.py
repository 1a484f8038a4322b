"""The sandbox's Kueue: one controller whose work queue drives Kueue's parts.

Imitates Kueue's controller manager: the events of Jobs, Workloads, ClusterQueues,
LocalQueues and ResourceFlavors wake the Job integration (:mod:`.jobframework`), the
workload controller's deactivation (:mod:`.eviction`) and the admission cycle
(:mod:`.scheduler`, which also writes the queues' statuses, :mod:`.queuestatus`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ...api import Api
from ...objects import Obj
from ...store import Event
from ...topology import KueueSettings
from ..base import Controller
from .eviction import Eviction, to_deactivate
from .jobframework import JobReconciler
from .scheduler import Scheduler
from .workload import COMPONENT, CYCLE, QUEUE_LABEL, KueueApi


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


#: ("cycle",), ("cleanup", namespace, uid), ("job"/"deactivate", namespace, name)
KueueControllerKey = tuple[str, ...]


class KueueController(Controller[KueueControllerKey]):
    """Kueue in the sandbox; ``stalled`` names the ClusterQueues a fault keeps from
    admitting."""

    name = COMPONENT

    def __init__(
        self,
        api: Api,
        settings: KueueSettings,
        *,
        stalled: Callable[[], set[str]] = set,
    ) -> None:
        super().__init__(api)
        self.kube = KueueApi(api)
        self.eviction = Eviction(self.kube, settings, enqueue=self.enqueue)
        self.job_reconciler = JobReconciler(self.kube, self.eviction)
        self.scheduler = Scheduler(self.kube, settings, stalled=stalled)

    def keys(self, event: Event) -> Iterable[KueueControllerKey]:
        """A Job of a queue (or owning a workload): that Job; its deletion: its workloads'
        cleanup. A workload: a cycle if what admission reads changed, its deactivation, its
        Job. A queue's or flavor's spec: a cycle."""
        kube = self.kube
        meta = event.obj["metadata"]
        if event.rt is kube.jobs:
            if event.type == "DELETED":
                yield ("cleanup", meta["namespace"], meta["uid"])
            elif QUEUE_LABEL in (meta.get("labels") or {}) or self.job_reconciler.owns_workload(
                event.obj
            ):
                yield ("job", meta["namespace"], meta["name"])
        elif event.rt is kube.workloads:
            if event.type != "MODIFIED" or _admission_view(event.obj) != _admission_view(
                event.old or {}
            ):
                yield CYCLE
            if to_deactivate(event.obj) and event.type != "DELETED":
                yield ("deactivate", meta["namespace"], meta["name"])
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") == "Job":
                    yield ("job", meta["namespace"], ref["name"])
        elif event.rt in (kube.cqs, kube.lqs, kube.flavors) and (
            event.type != "MODIFIED" or event.obj.get("spec") != (event.old or {}).get("spec")
        ):
            yield CYCLE

    def initial_keys(self) -> Iterable[KueueControllerKey]:
        """Every Job, and a first admission cycle."""
        keys: list[KueueControllerKey] = [
            ("job", j["metadata"]["namespace"], j["metadata"]["name"])
            for j in self.store.list(self.kube.jobs)
        ]
        return [*keys, CYCLE]

    async def reconcile(self, key: KueueControllerKey) -> float | None:
        """Hand a key to its part: a cycle to the scheduler, a Job or its cleanup to the Job
        integration, a deactivation to eviction."""
        kind = key[0]
        if kind == "cycle":
            return self.scheduler.cycle()
        if kind == "cleanup":
            _, ns, uid = key
            self.job_reconciler.cleanup(ns, uid)
            return None
        _, ns, name = key
        if kind == "deactivate":
            self.eviction.deactivate(ns, name)
            return None
        return self.job_reconciler.reconcile(ns, name)
